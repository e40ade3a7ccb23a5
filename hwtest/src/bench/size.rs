//! `hwtest bench size`: how big meshd is on flash and in RAM.
//!
//! Four parts, each saying where its numbers come from:
//!
//! 1. **Binaries**: the stripped size of `cross/out/<arch>/meshd` for
//!    x86_64, aarch64, armv7, mipsel and mips (what `cross/build` makes),
//!    with what the ELF header says (machine, byte order, static or
//!    dynamic, stripped or not). x86_64 falls back to the native release
//!    build (`target/release/meshd`) when cross/ has not built it; other
//!    targets are "not built (run cross/build)". Budget: mipsel at most
//!    1.5 MiB.
//! 2. **Crates**: `cargo bloat --release -p meshd --crates -n 15` on the
//!    native x86_64 release build, with symbols kept
//!    (`CARGO_PROFILE_RELEASE_STRIP=false`) in a target directory of its
//!    own so that the normal build is not touched; the code is the same as
//!    the stripped build's, only the symbol table is kept. cargo-bloat is
//!    installed with `cargo install cargo-bloat --locked` if missing; if
//!    that fails the table says so.
//! 3. **RSS** (root): a real meshd (x86_64, native) in a network namespace
//!    on a veth whose other end carries a flood of valid OGMs from `K` fake
//!    neighbours that echo meshd's own OGMs (so they are bidirectional
//!    neighbours) and forward the OGMs of `N - K` originators behind them,
//!    each announcing one client in its TT TVLV (see [`flood`], [`rig`]).
//!    Once `meshctl o` lists all `N`, after `--settle-secs`, VmRSS is read
//!    from `/proc/PID/status` `--samples` times a second apart (median per
//!    run; median over `--runs` fresh runs). Budget: at most 4 MiB at 250
//!    originators.
//! 4. **Core heap**: `batman::Node::memory_usage()` (table and queue
//!    capacities; not a process RSS) of the same flood fed to a core in
//!    this process on a virtual clock, and of the median node of the
//!    simulator's 3x3 grid and 250-node radio mesh.

pub mod flood;
pub mod parse;
pub mod rig;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::table::{num, string, Summary, Table};
use parse::{Bloat, ElfInfo, Status};

/// The cross/out directory names, in table order.
pub const ARCHES: [&str; 5] = ["x86_64", "aarch64", "armv7", "mipsel", "mips"];
/// mipsel binary budget: 1.5 MiB.
pub const BINARY_BUDGET: u64 = 1536 * 1024;
/// RSS budget at 250 originators: 4 MiB, in KiB.
pub const RSS_BUDGET_KIB: u64 = 4096;
/// The originator count the RSS budget is given for.
pub const RSS_BUDGET_AT: usize = 250;

/// Options of `hwtest bench size` (see its `--help`).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Originator counts for the RSS runs.
    pub counts: Vec<usize>,
    /// Fake one-hop neighbours in the flood.
    pub neighbours: usize,
    pub runs: usize,
    pub settle_secs: f64,
    pub samples: usize,
    pub timeout_secs: f64,
    /// The meshd run for the RSS part; default: cross/out/x86_64/meshd,
    /// else the native release build.
    pub meshd: Option<PathBuf>,
    /// Workspace root (cross/out, cargo bloat run there).
    pub root: Option<PathBuf>,
    pub bloat_target_dir: Option<PathBuf>,
    pub no_bloat: bool,
    pub no_rss: bool,
    pub no_sim: bool,
    pub json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            counts: vec![9, 250],
            neighbours: 4,
            runs: 3,
            settle_secs: 20.0,
            samples: 5,
            timeout_secs: 60.0,
            meshd: None,
            root: None,
            bloat_target_dir: None,
            no_bloat: false,
            no_rss: false,
            no_sim: false,
            json: false,
        }
    }
}

impl Options {
    /// Parse the arguments after `bench size`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || it.next().ok_or(format!("{a} needs a value"));
            let int = |v: &String| -> Result<usize, String> {
                v.parse().map_err(|_| format!("{a}: not a number: {v}"))
            };
            let secs = |v: &String| -> Result<f64, String> {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or(format!("{a}: not a number: {v}"))
            };
            match a.as_str() {
                "--counts" => {
                    let v = value()?;
                    o.counts = v
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| {
                            s.parse()
                                .map_err(|_| format!("--counts: not a number: {s}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--neighbours" => o.neighbours = int(value()?)?,
                "--runs" => o.runs = int(value()?)?,
                "--samples" => o.samples = int(value()?)?,
                "--settle-secs" => o.settle_secs = secs(value()?)?,
                "--timeout" => o.timeout_secs = secs(value()?)?,
                "--meshd" => o.meshd = Some(PathBuf::from(value()?)),
                "--root" => o.root = Some(PathBuf::from(value()?)),
                "--bloat-target-dir" => o.bloat_target_dir = Some(PathBuf::from(value()?)),
                "--no-bloat" => o.no_bloat = true,
                "--no-rss" => o.no_rss = true,
                "--no-sim" => o.no_sim = true,
                "--json" => o.json = true,
                other => return Err(format!("unknown option {other}")),
            }
        }
        if o.counts.is_empty() || o.counts.iter().any(|&c| c == 0 || c > 1000) {
            return Err("--counts: 1 to 1000 originators each (meshd keeps 1024)".into());
        }
        if o.neighbours == 0 || o.neighbours > 100 {
            return Err("--neighbours: 1 to 100".into());
        }
        if o.runs == 0 || o.samples == 0 || o.timeout_secs < 5.0 {
            return Err("--runs and --samples must be at least 1, --timeout at least 5".into());
        }
        Ok(o)
    }
}

/// One row of the binary table.
#[derive(Debug, Clone, PartialEq)]
pub struct Binary {
    pub arch: &'static str,
    /// The file measured, `None` if there is none.
    pub path: Option<PathBuf>,
    pub bytes: u64,
    pub elf: Option<ElfInfo>,
    /// Where it came from (cross/build, or the native build as fallback).
    pub source: String,
}

impl Binary {
    /// Within the budget: `None` where there is no budget or no binary.
    pub fn within_budget(&self) -> Option<bool> {
        (self.arch == "mipsel" && self.path.is_some()).then_some(self.bytes <= BINARY_BUDGET)
    }
}

/// cargo-bloat's table, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Crates {
    Table(Bloat),
    Unavailable(String),
    Skipped,
}

/// RSS results for one originator count.
#[derive(Debug, Clone)]
pub struct RssRow {
    pub originators: usize,
    pub neighbours: usize,
    /// Per run: median VmRSS of its samples (KiB).
    pub rss: Vec<f64>,
    pub hwm: Vec<f64>,
    pub anon: Vec<f64>,
    pub file: Vec<f64>,
    pub all_known: Vec<f64>,
    pub known: Vec<f64>,
    pub tt_global: Vec<f64>,
    /// UNICAST_TVLV frames (TT requests) meshd sent, all runs.
    pub tt_requests: u64,
    pub errors: Vec<String>,
}

/// The RSS part, or why it did not run.
#[derive(Debug, Clone)]
pub enum Rss {
    Rows {
        binary: PathBuf,
        elf: Option<ElfInfo>,
        rows: Vec<RssRow>,
    },
    NotRun(String),
}

/// One row of the core-heap table.
#[derive(Debug, Clone, PartialEq)]
pub struct HeapRow {
    pub scenario: String,
    pub originators: usize,
    pub neighbours: usize,
    pub bytes: usize,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub options: Options,
    pub root: PathBuf,
    pub binaries: Vec<Binary>,
    pub crates: Crates,
    pub rss: Rss,
    pub heap: Vec<HeapRow>,
    pub wall_total: f64,
}

fn progress(t0: &Instant, msg: &str) {
    eprintln!("[{:7.1} s] {msg}", t0.elapsed().as_secs_f64());
}

/// The workspace: `--root`, else the one hwtest was built from, else the
/// current directory.
fn workspace_root(o: &Options) -> PathBuf {
    if let Some(r) = &o.root {
        return r.clone();
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).parent();
    match built {
        Some(p) if p.join("Cargo.toml").is_file() => p.to_path_buf(),
        _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

/// The native release meshd: next to this executable (same target dir),
/// else `<root>/target/release/meshd`.
fn native_meshd(root: &Path) -> Option<PathBuf> {
    let next = std::env::current_exe()
        .ok()
        .map(|e| e.with_file_name("meshd"));
    next.into_iter()
        .chain([root.join("target/release/meshd")])
        .find(|p| p.is_file())
}

fn show(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| p.display().to_string())
}

/// Part 1: the binaries.
pub fn binaries(root: &Path) -> Vec<Binary> {
    ARCHES
        .iter()
        .map(|&arch| {
            let cross = root.join("cross/out").join(arch).join("meshd");
            let (path, source) = if cross.is_file() {
                (Some(cross), "cross/build".to_string())
            } else if arch == "x86_64" {
                match native_meshd(root) {
                    Some(p) => (
                        Some(p),
                        "native release build (cross/out/x86_64 not built)".into(),
                    ),
                    None => (None, "not built (cargo build --release -p meshd)".into()),
                }
            } else {
                (None, "not built (run cross/build)".into())
            };
            let bytes = path
                .as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map_or(0, |m| m.len());
            let elf = path
                .as_ref()
                .and_then(|p| std::fs::read(p).ok())
                .and_then(|b| parse::elf_info(&b));
            Binary {
                arch,
                path,
                bytes,
                elf,
                source,
            }
        })
        .collect()
}

/// Does `cargo bloat` run?
fn has_bloat(cargo: &str) -> bool {
    Command::new(cargo)
        .args(["bloat", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Part 2: cargo-bloat on the native build with symbols.
pub fn crates(o: &Options, root: &Path, t0: &Instant) -> Crates {
    if o.no_bloat {
        return Crates::Skipped;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if !has_bloat(&cargo) {
        progress(
            t0,
            "cargo-bloat missing: cargo install cargo-bloat --locked",
        );
        let ok = Command::new(&cargo)
            .args(["install", "cargo-bloat", "--locked"])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !has_bloat(&cargo) {
            return Crates::Unavailable(
                "cargo-bloat is not installed and `cargo install cargo-bloat --locked` failed \
                 (offline? its error is on stderr)"
                    .into(),
            );
        }
    }
    let target = o.bloat_target_dir.clone().unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"))
            .join("size-bloat")
    });
    progress(
        t0,
        &format!(
            "cargo bloat --release -p meshd --crates -n 15 (symbols kept, target dir {})",
            target.display()
        ),
    );
    let out = Command::new(&cargo)
        .args(["bloat", "--release", "-p", "meshd", "--crates", "-n", "15"])
        .current_dir(root)
        .env("CARGO_PROFILE_RELEASE_STRIP", "false")
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            match parse::bloat_crates(&text) {
                Some(b) if out.status.success() => Crates::Table(b),
                _ => Crates::Unavailable(format!(
                    "cargo bloat failed ({}); its output: {}",
                    out.status,
                    text.trim()
                )),
            }
        }
        Err(e) => Crates::Unavailable(format!("cannot run {cargo}: {e}")),
    }
}

/// Part 4: core heap in this process and in the simulator.
pub fn heap(o: &Options, t0: &Instant) -> Vec<HeapRow> {
    use super::sim::Net;
    let mut rows = Vec::new();
    for &n in &o.counts {
        let r = flood::run_core(n, o.neighbours, 60);
        rows.push(HeapRow {
            scenario: format!("flood, in-process core, 60 s ({} routed)", r.routed),
            originators: r.memory.originators,
            neighbours: r.memory.neighbours,
            bytes: r.memory.bytes,
        });
    }
    for net in [Net::Grid(3, 3), Net::Rgg(250)] {
        progress(t0, &format!("simulator: {} (seed 1)", net.name()));
        let Ok(mut sim) = crate::sim::Sim::batman(net.topology(1), 1) else {
            continue;
        };
        let limit = sim.at(Duration::from_secs(60));
        let conv = sim.run_until_converged(limit);
        let end = conv.map_or(limit, |t| t + Duration::from_secs(20));
        sim.run_until(end);
        let mut mem: Vec<batman::MemoryUsage> = (0..sim.len()).map(|i| sim.memory(i)).collect();
        mem.sort_by_key(|m| m.bytes);
        let m = mem[mem.len() / 2];
        rows.push(HeapRow {
            scenario: format!(
                "simulator {}, median node, {}",
                net.name(),
                match conv {
                    Some(t) => format!(
                        "converged at {:.1} s + 20 s",
                        crate::sim::secs(t) - crate::sim::secs(sim.start())
                    ),
                    None => "NOT converged in 60 s".into(),
                }
            ),
            originators: m.originators,
            neighbours: m.neighbours,
            bytes: m.bytes,
        });
    }
    rows
}

/// The meshd binary for the RSS part.
fn rss_binary(o: &Options, root: &Path) -> Option<PathBuf> {
    if let Some(p) = &o.meshd {
        return Some(p.clone());
    }
    let cross = root.join("cross/out/x86_64/meshd");
    if cross.is_file() {
        return Some(cross);
    }
    native_meshd(root)
}

/// Part 3: RSS of a real meshd under the flood.
pub fn rss(o: &Options, root: &Path, t0: &Instant) -> Rss {
    if o.no_rss {
        return Rss::NotRun("skipped (--no-rss)".into());
    }
    if !crate::netns::is_root() {
        return Rss::NotRun(
            "needs root (network namespaces, raw sockets): run `bench size` as root".into(),
        );
    }
    let Some(binary) = rss_binary(o, root) else {
        return Rss::NotRun(
            "no meshd binary: cargo build --release -p meshd, or --meshd PATH".into(),
        );
    };
    if !binary.is_file() {
        return Rss::NotRun(format!("no meshd at {}", binary.display()));
    }
    let Some(python) = rig::python() else {
        return Rss::NotRun(
            "needs python3 for the raw-socket shim (apt-get install python3)".into(),
        );
    };
    let work = std::env::temp_dir().join(format!("hwtest-bench-size-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&work) {
        return Rss::NotRun(format!("{}: {e}", work.display()));
    }
    // Run a private copy: a rebuild of the original during the runs
    // (cross/build replaces its outputs) must not change what is measured.
    let copy = work.join("meshd");
    if let Err(e) = std::fs::copy(&binary, &copy) {
        return Rss::NotRun(format!("cannot copy {}: {e}", binary.display()));
    }
    let elf = std::fs::read(&copy).ok().and_then(|b| parse::elf_info(&b));
    if let Err(e) = crate::netns::janitor() {
        return Rss::NotRun(format!("cannot start the clean-up process: {e}"));
    }
    let mut rows: Vec<RssRow> = o
        .counts
        .iter()
        .map(|&n| RssRow {
            originators: n,
            neighbours: o.neighbours.min(n),
            rss: Vec::new(),
            hwm: Vec::new(),
            anon: Vec::new(),
            file: Vec::new(),
            all_known: Vec::new(),
            known: Vec::new(),
            tt_global: Vec::new(),
            tt_requests: 0,
            errors: Vec::new(),
        })
        .collect();
    progress(
        t0,
        &format!(
            "RSS: {} run(s) of {:?} originators, meshd {}, files in {}",
            o.runs,
            o.counts,
            binary.display(),
            work.display()
        ),
    );
    for run in 1..=o.runs {
        for row in rows.iter_mut() {
            let label = format!("RSS {} originators, run {run}/{}", row.originators, o.runs);
            let spec = rig::RunSpec {
                originators: row.originators,
                neighbours: o.neighbours,
                settle_secs: o.settle_secs,
                samples: o.samples,
                timeout_secs: o.timeout_secs,
            };
            let say = |m: String| progress(t0, &format!("{label}: {m}"));
            let tag = format!("o{}-r{run}", row.originators);
            match rig::run_once(&copy, &python, &work, &tag, &spec, &say) {
                Ok(r) => {
                    let med = Summary::of(&r.rss.iter().map(|&v| v as f64).collect::<Vec<_>>())
                        .map_or(f64::NAN, |s| s.median);
                    say(format!(
                        "VmRSS {:?} KiB (median {med}), VmHWM {} KiB, RssAnon {} KiB, RssFile {} KiB; \
                         meshctl o {} rows, tg {} rows; meshd sent {} frames ({} BCAST, {} UNICAST_TVLV)",
                        r.rss,
                        r.last.vm_hwm,
                        r.last.rss_anon,
                        r.last.rss_file,
                        r.known,
                        r.tt_global,
                        r.frames_from_node,
                        r.bcast_frames,
                        r.unicast_tvlv_frames
                    ));
                    row.rss.push(med);
                    let Status {
                        vm_hwm,
                        rss_anon,
                        rss_file,
                        ..
                    } = r.last;
                    row.hwm.push(vm_hwm as f64);
                    row.anon.push(rss_anon as f64);
                    row.file.push(rss_file as f64);
                    row.all_known.push(r.all_known.unwrap_or(f64::INFINITY));
                    row.known.push(r.known as f64);
                    row.tt_global.push(r.tt_global as f64);
                    row.tt_requests += r.unicast_tvlv_frames;
                    if r.known < row.originators {
                        row.errors.push(format!(
                            "run {run}: meshctl o listed {} of {}",
                            r.known, row.originators
                        ));
                    }
                }
                Err(e) => {
                    say(format!("FAILED: {e}"));
                    row.errors.push(format!("run {run}: {e}"));
                }
            }
        }
    }
    if rows.iter().all(|r| r.errors.is_empty()) {
        let _ = std::fs::remove_dir_all(&work);
    } else {
        progress(t0, &format!("logs kept in {}", work.display()));
    }
    Rss::Rows { binary, elf, rows }
}

/// Run every part, progress on stderr.
pub fn run(o: &Options) -> Report {
    let t0 = Instant::now();
    let root = workspace_root(o);
    progress(&t0, &format!("bench size: workspace {}", root.display()));
    let binaries = binaries(&root);
    let crates = crates(o, &root, &t0);
    let heap = if o.no_sim { Vec::new() } else { heap(o, &t0) };
    let rss = rss(o, &root, &t0);
    Report {
        options: o.clone(),
        root,
        binaries,
        crates,
        rss,
        heap,
        wall_total: t0.elapsed().as_secs_f64(),
    }
}

fn kib(bytes: f64) -> String {
    format!("{:.1}", bytes / 1024.0)
}

fn med(v: &[f64]) -> Option<f64> {
    Summary::of(v).map(|s| s.median)
}

impl RssRow {
    /// Within the RSS budget (only for counts of at least 250).
    pub fn within_budget(&self) -> Option<bool> {
        if self.originators < RSS_BUDGET_AT {
            return None;
        }
        med(&self.rss).map(|m| m <= RSS_BUDGET_KIB as f64)
    }
}

impl Report {
    /// The tables as text.
    pub fn text(&self) -> String {
        let o = &self.options;
        let mut s = String::new();
        s.push_str(&format!(
            "hwtest bench size ({:.0} s)\n\n1. Binaries: stripped size on flash (budget: mipsel <= {} KiB = 1.5 MiB)\n",
            self.wall_total,
            BINARY_BUDGET / 1024
        ));
        let mut t = Table::new(&["target", "bytes", "KiB", "ELF", "budget", "file"]);
        for b in &self.binaries {
            let budget = match b.within_budget() {
                Some(true) => format!("ok (<= {} KiB)", BINARY_BUDGET / 1024),
                Some(false) => format!("OVER by {} KiB", kib((b.bytes - BINARY_BUDGET) as f64)),
                None if b.arch == "mipsel" => "unknown (not built)".into(),
                None => "-".into(),
            };
            match &b.path {
                Some(p) => t.row(vec![
                    b.arch.into(),
                    b.bytes.to_string(),
                    kib(b.bytes as f64),
                    b.elf.as_ref().map_or("not ELF".into(), |e| {
                        let mut d = e.describe();
                        if !e.matches_arch(b.arch) {
                            d.push_str(" (WRONG ARCH)");
                        }
                        d
                    }),
                    budget,
                    format!("{} ({})", show(&self.root, p), b.source),
                ]),
                None => t.row(vec![
                    b.arch.into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    budget,
                    b.source.clone(),
                ]),
            }
        }
        s.push_str(&t.render());

        s.push_str(
            "\n2. Crates by share of .text: cargo bloat --release -p meshd --crates -n 15\n   \
             (x86_64 native release build with symbols kept, CARGO_PROFILE_RELEASE_STRIP=false;\n   \
             same code as the stripped build; sizes as cargo-bloat rounds them)\n",
        );
        match &self.crates {
            Crates::Table(b) => {
                let mut t = Table::new(&["crate", ".text share", "KiB", "file share"]);
                for c in &b.crates {
                    t.row(vec![
                        c.name.clone(),
                        format!("{:.1}%", c.text_pct),
                        kib(c.bytes),
                        format!("{:.1}%", c.file_pct),
                    ]);
                }
                if let Some((n, bytes, pct)) = b.more {
                    t.row(vec![
                        format!("({n} more crates)"),
                        format!("{pct:.1}%"),
                        kib(bytes),
                        String::new(),
                    ]);
                }
                t.row(vec![
                    ".text in all".into(),
                    "100%".into(),
                    kib(b.text_bytes),
                    format!("(unstripped file {} KiB)", kib(b.file_bytes)),
                ]);
                s.push_str(&t.render());
            }
            Crates::Unavailable(why) => s.push_str(&format!("   unavailable: {why}\n")),
            Crates::Skipped => s.push_str("   skipped (--no-bloat)\n"),
        }

        s.push_str(&format!(
            "\n3. RSS of a running meshd (real daemon, x86_64 native, network namespace; budget <= {} KiB at {} originators)\n",
            RSS_BUDGET_KIB, RSS_BUDGET_AT
        ));
        match &self.rss {
            Rss::NotRun(why) => s.push_str(&format!("   not measured: {why}\n")),
            Rss::Rows { binary, elf, rows } => {
                s.push_str(&format!(
                    "   meshd: {} ({})\n   OGM flood from {} fake neighbours (echoing meshd's OGMs) forwarding the others' \
                     OGMs, one TT client each;\n   VmRSS: median of {} samples 1 s apart, {} s after meshctl o listed all; \
                     median (min..max) over {} run(s);\n   \
                     VmRSS = RssAnon (heap, stacks: the daemon's own) + RssFile (mapped pages of the binary and libraries)\n",
                    binary.display(),
                    elf.as_ref().map_or("not ELF".into(), ElfInfo::describe),
                    o.neighbours,
                    o.samples,
                    o.settle_secs,
                    o.runs
                ));
                let mut t = Table::new(&[
                    "originators",
                    "neighbours",
                    "meshctl o",
                    "meshctl tg",
                    "all known after",
                    "VmRSS KiB",
                    "RssAnon KiB",
                    "RssFile KiB",
                    "VmHWM KiB",
                    "budget",
                ]);
                for r in rows {
                    let range = |v: &[f64]| match Summary::of(v) {
                        Some(x) if x.n > 1 => {
                            format!("{:.0} ({:.0}..{:.0})", x.median, x.min, x.max)
                        }
                        Some(x) => format!("{:.0}", x.median),
                        None => "-".into(),
                    };
                    let budget = match r.within_budget() {
                        Some(true) => "ok".into(),
                        Some(false) => format!(
                            "OVER by {:.0} KiB",
                            med(&r.rss).unwrap_or(0.0) - RSS_BUDGET_KIB as f64
                        ),
                        None => "-".into(),
                    };
                    t.row(vec![
                        r.originators.to_string(),
                        r.neighbours.to_string(),
                        med(&r.known).map_or("-".into(), |v| format!("{v:.0}")),
                        med(&r.tt_global).map_or("-".into(), |v| format!("{v:.0}")),
                        med(&r.all_known).map_or("-".into(), |v| {
                            if v.is_finite() {
                                format!("{v:.1} s")
                            } else {
                                "never".into()
                            }
                        }),
                        range(&r.rss),
                        range(&r.anon),
                        range(&r.file),
                        range(&r.hwm),
                        budget,
                    ]);
                }
                s.push_str(&t.render());
                for r in rows {
                    for e in &r.errors {
                        s.push_str(&format!("   {} originators: {e}\n", r.originators));
                    }
                    if r.tt_requests > 0 {
                        s.push_str(&format!(
                            "   {} originators: meshd sent {} UNICAST_TVLV frames (TT requests the flood does not answer)\n",
                            r.originators, r.tt_requests
                        ));
                    }
                }
            }
        }

        if !o.no_sim {
            s.push_str(
                "\n4. batman core heap: Node::memory_usage() (table and queue capacities, not a process RSS; virtual clock;\n   \
                 originator entries include other nodes' secondary interfaces)\n",
            );
            let mut t = Table::new(&[
                "scenario",
                "originator entries",
                "neighbours",
                "heap bytes",
                "per entry",
            ]);
            for h in &self.heap {
                t.row(vec![
                    h.scenario.clone(),
                    h.originators.to_string(),
                    h.neighbours.to_string(),
                    h.bytes.to_string(),
                    if h.originators > 0 {
                        format!("{:.0}", h.bytes as f64 / h.originators as f64)
                    } else {
                        "-".into()
                    },
                ]);
            }
            s.push_str(&t.render());
        }

        s.push_str("\nBudgets\n");
        let mipsel = self.binaries.iter().find(|b| b.arch == "mipsel");
        s.push_str(
            &match mipsel.and_then(|b| b.within_budget().map(|ok| (b, ok))) {
                Some((b, true)) => format!(
                    "   mipsel binary <= 1.5 MiB: ok, {} KiB\n",
                    kib(b.bytes as f64)
                ),
                Some((b, false)) => format!(
                    "   mipsel binary <= 1.5 MiB: OVER, {} KiB\n",
                    kib(b.bytes as f64)
                ),
                None => "   mipsel binary <= 1.5 MiB: not measured (not built: run cross/build)\n"
                    .into(),
            },
        );
        let at = match &self.rss {
            Rss::Rows { rows, .. } => rows
                .iter()
                .find(|r| r.originators == RSS_BUDGET_AT)
                .and_then(|r| med(&r.rss).map(|m| (m, r.within_budget()))),
            Rss::NotRun(_) => None,
        };
        s.push_str(&match at {
            Some((m, Some(true))) => {
                format!("   RSS at 250 originators <= 4 MiB: ok, {m:.0} KiB\n")
            }
            Some((m, _)) => format!("   RSS at 250 originators <= 4 MiB: OVER, {m:.0} KiB\n"),
            None => "   RSS at 250 originators <= 4 MiB: not measured\n".into(),
        });
        s
    }

    /// Everything as JSON (all samples).
    pub fn json(&self) -> String {
        let opt_path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or("null".into(), |p| string(&p.display().to_string()))
        };
        let elf = |e: &Option<ElfInfo>| e.as_ref().map_or("null".into(), |e| string(&e.describe()));
        let arr = |v: &[f64]| {
            format!(
                "[{}]",
                v.iter().map(|x| num(*x)).collect::<Vec<_>>().join(",")
            )
        };
        let bins: Vec<String> = self
            .binaries
            .iter()
            .map(|b| {
                format!(
                    "{{\"arch\":{},\"path\":{},\"bytes\":{},\"elf\":{},\"source\":{},\"within_budget\":{}}}",
                    string(b.arch),
                    opt_path(&b.path),
                    if b.path.is_some() { b.bytes.to_string() } else { "null".into() },
                    elf(&b.elf),
                    string(&b.source),
                    b.within_budget().map_or("null".into(), |x| x.to_string())
                )
            })
            .collect();
        let crates = match &self.crates {
            Crates::Table(b) => format!(
                "{{\"crates\":[{}],\"more\":{},\"text_bytes\":{},\"file_bytes\":{}}}",
                b.crates
                    .iter()
                    .map(|c| format!(
                        "{{\"name\":{},\"text_pct\":{},\"file_pct\":{},\"bytes\":{}}}",
                        string(&c.name),
                        num(c.text_pct),
                        num(c.file_pct),
                        num(c.bytes)
                    ))
                    .collect::<Vec<_>>()
                    .join(","),
                b.more.map_or("null".into(), |(n, by, p)| format!(
                    "{{\"crates\":{n},\"bytes\":{},\"text_pct\":{}}}",
                    num(by),
                    num(p)
                )),
                num(b.text_bytes),
                num(b.file_bytes)
            ),
            Crates::Unavailable(why) => format!("{{\"unavailable\":{}}}", string(why)),
            Crates::Skipped => "null".into(),
        };
        let rss = match &self.rss {
            Rss::NotRun(why) => format!("{{\"not_run\":{}}}", string(why)),
            Rss::Rows { binary, elf: e, rows } => format!(
                "{{\"binary\":{},\"elf\":{},\"budget_kib\":{},\"rows\":[{}]}}",
                string(&binary.display().to_string()),
                elf(e),
                RSS_BUDGET_KIB,
                rows.iter()
                    .map(|r| format!(
                        "{{\"originators\":{},\"neighbours\":{},\"vm_rss_kib\":{},\"rss_anon_kib\":{},\
                         \"rss_file_kib\":{},\"vm_hwm_kib\":{},\"all_known_s\":{},\"meshctl_o\":{},\
                         \"meshctl_tg\":{},\"tt_requests\":{},\"within_budget\":{},\"errors\":[{}]}}",
                        r.originators,
                        r.neighbours,
                        arr(&r.rss),
                        arr(&r.anon),
                        arr(&r.file),
                        arr(&r.hwm),
                        arr(&r.all_known),
                        arr(&r.known),
                        arr(&r.tt_global),
                        r.tt_requests,
                        r.within_budget().map_or("null".into(), |x| x.to_string()),
                        r.errors.iter().map(|e| string(e)).collect::<Vec<_>>().join(",")
                    ))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        };
        let heap: Vec<String> = self
            .heap
            .iter()
            .map(|h| {
                format!(
                    "{{\"scenario\":{},\"originators\":{},\"neighbours\":{},\"bytes\":{}}}",
                    string(&h.scenario),
                    h.originators,
                    h.neighbours,
                    h.bytes
                )
            })
            .collect();
        format!(
            "{{\"bench\":\"size\",\"wall_s\":{},\"binary_budget_bytes\":{},\"binaries\":[{}],\
             \"bloat\":{},\"rss\":{},\"core_heap\":[{}]}}\n",
            num(self.wall_total),
            BINARY_BUDGET,
            bins.join(","),
            crates,
            rss,
            heap.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bench::args::owned as v;

    #[test]
    fn parses_options() {
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        let o = Options::parse(&v(&[
            "--counts",
            "9,100,250",
            "--neighbours",
            "2",
            "--runs",
            "1",
            "--settle-secs",
            "5",
            "--no-bloat",
            "--json",
        ]))
        .unwrap();
        assert_eq!(o.counts, vec![9, 100, 250]);
        assert_eq!((o.neighbours, o.runs, o.settle_secs), (2, 1, 5.0));
        assert!(o.no_bloat && o.json && !o.no_rss);
        for bad in [
            &["--counts", "0"][..],
            &["--counts", "x"],
            &["--counts", ""],
            &["--runs", "0"],
            &["--runs"],
            &["--neighbours", "0"],
            &["--timeout", "1"],
            &["--settle-secs", "-1"],
            &["--bogus"],
        ] {
            assert!(Options::parse(&v(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn budgets() {
        let b = |arch, bytes| Binary {
            arch,
            path: Some(PathBuf::from("x")),
            bytes,
            elf: None,
            source: String::new(),
        };
        assert_eq!(b("mipsel", BINARY_BUDGET).within_budget(), Some(true));
        assert_eq!(b("mipsel", BINARY_BUDGET + 1).within_budget(), Some(false));
        assert_eq!(b("x86_64", 1 << 30).within_budget(), None);
        let mut r = RssRow {
            originators: 250,
            neighbours: 4,
            rss: vec![4000.0, 4200.0, 4100.0],
            hwm: vec![],
            anon: vec![],
            file: vec![],
            all_known: vec![],
            known: vec![],
            tt_global: vec![],
            tt_requests: 0,
            errors: vec![],
        };
        assert_eq!(r.within_budget(), Some(false));
        r.rss = vec![3000.0];
        assert_eq!(r.within_budget(), Some(true));
        r.originators = 9;
        assert_eq!(r.within_budget(), None);
    }
}

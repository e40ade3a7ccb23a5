//! `hwtest bench netns`: real routing daemons on a 3x3 grid of network
//! namespaces, meshd next to babeld and batmand measured in the same run
//! with docs/anchors.md's method (and its scripts' grid).
//!
//! Runs are interleaved (run 1: meshd, babeld, batmand; run 2: ...) so
//! that load from other work on the machine hits every daemon alike. Per
//! daemon and run, two fresh grids:
//!
//! - grid A: all 9 daemons start while n00 pings n22 every 100 ms
//!   (convergence = first reply - start); `--settle-secs`; then the L2
//!   bytes and packets sent on the middle node's 4 veths over
//!   `--overhead-secs` (no pings run: it is all control traffic, the
//!   kernel's own chatter included for every daemon alike); the VmRSS of
//!   each daemon; meshd only: iperf3 TCP n00 -> n02 over bat0 (2 hops, via
//!   n01) and over plain kernel forwarding on the same two veths; then the
//!   carrier-down reroute: n00 pings n22 every 50 ms, the second link of
//!   the forward path is set down at its downstream end, gap = the longest
//!   hole between replies from 1 s before the cut until replies have
//!   flowed 2 s again.
//! - grid B: convergence again (a second sample), settle, and the same
//!   reroute with a silent cut (nftables netdev ingress drop on both ends,
//!   carrier stays up).
//!
//! Safety: namespaces are `hwtest::netns::Netns` guards (`mt<pid>-...`);
//! no host interface is touched. Ctrl-C kills hwtest before its guards
//! run, so a janitor process (a shell that ignores SIGINT) waits for
//! hwtest to exit and then kills what is left in its namespaces and
//! deletes them; `Netns::new` also sweeps namespaces of dead hwtests.

mod grid;
mod parse;
mod report;

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::netns::which;
use grid::{Cut, Daemon, Grid, Tools};

use super::table::Summary;

/// Options of `hwtest bench netns` (see its `--help`).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub runs: usize,
    pub daemons: Vec<Daemon>,
    pub settle_secs: f64,
    pub overhead_secs: f64,
    pub iperf_secs: u64,
    /// Limit for convergence and for pings to come back after a cut.
    pub timeout_secs: f64,
    /// The meshd binary; default: next to this executable.
    pub meshd: Option<PathBuf>,
    pub keep: bool,
    pub json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runs: 3,
            daemons: Daemon::ALL.to_vec(),
            settle_secs: 20.0,
            overhead_secs: 30.0,
            iperf_secs: 10,
            timeout_secs: 120.0,
            meshd: None,
            keep: false,
            json: false,
        }
    }
}

impl Options {
    /// Parse the arguments after `bench netns`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |name: &str| -> Result<&String, String> {
                it.next().ok_or(format!("{name} needs a value"))
            };
            let number = |name: &str, v: &String| -> Result<f64, String> {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or(format!("{name}: not a number: {v}"))
            };
            match a.as_str() {
                "--runs" => {
                    let v = value("--runs")?;
                    o.runs = v
                        .parse()
                        .map_err(|_| format!("--runs: not a number: {v}"))?;
                }
                "--daemons" => {
                    let v = value("--daemons")?;
                    o.daemons = Vec::new();
                    for d in v.split(',').filter(|d| !d.is_empty()) {
                        let d = Daemon::parse(d).ok_or(format!(
                            "--daemons: unknown daemon {d:?} (meshd, babeld, batmand)"
                        ))?;
                        if !o.daemons.contains(&d) {
                            o.daemons.push(d);
                        }
                    }
                    o.daemons
                        .sort_by_key(|d| Daemon::ALL.iter().position(|x| x == d));
                }
                "--settle-secs" => o.settle_secs = number(a, value(a)?)?,
                "--overhead-secs" => o.overhead_secs = number(a, value(a)?)?,
                "--iperf-secs" => {
                    let v = value(a)?;
                    o.iperf_secs = v.parse().map_err(|_| format!("{a}: not a number: {v}"))?;
                }
                "--timeout" => o.timeout_secs = number(a, value(a)?)?,
                "--meshd" => o.meshd = Some(PathBuf::from(value(a)?)),
                "--keep" => o.keep = true,
                "--json" => o.json = true,
                other => return Err(format!("unknown option {other}")),
            }
        }
        if o.runs == 0 || o.daemons.is_empty() {
            return Err("--runs must be at least 1 and --daemons name at least one".into());
        }
        if o.overhead_secs < 1.0 || o.iperf_secs == 0 || o.timeout_secs < 5.0 {
            return Err(
                "--overhead-secs and --iperf-secs must be at least 1, --timeout at least 5".into(),
            );
        }
        Ok(o)
    }
}

/// Everything measured for one daemon, one entry per sample.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub conv: Vec<f64>,
    pub gap_down: Vec<f64>,
    pub gap_silent: Vec<f64>,
    pub lost_down: Vec<f64>,
    pub lost_silent: Vec<f64>,
    /// L2 bytes / packets per second sent on n11's 4 veths.
    pub tx_bps: Vec<f64>,
    pub tx_pps: Vec<f64>,
    /// Median VmRSS over the 9 daemons of a run, KiB.
    pub rss_kib: Vec<f64>,
    /// iperf3 receiver Gbit/s (meshd only).
    pub tcp_mesh: Vec<f64>,
    pub tcp_kernel: Vec<f64>,
    pub tcp_ratio: Vec<f64>,
    pub errors: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub options: Options,
    pub results: Vec<(Daemon, Samples)>,
    pub wall_total: f64,
}

fn progress(t0: &Instant, msg: &str) {
    eprintln!("[{:7.1} s] {msg}", t0.elapsed().as_secs_f64());
}

/// Run the bench (root only), printing progress to stderr.
pub fn run(o: &Options) -> Result<Report, String> {
    if !crate::netns::is_root() {
        return Err(
            "needs root (network namespaces, raw sockets, nftables, tmpfs mounts): \
                    run it with sudo or as root"
                .into(),
        );
    }
    let tools = tools(o)?;
    let work = std::env::temp_dir().join(format!("hwtest-bench-netns-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    crate::netns::janitor().map_err(|e| format!("cannot start the clean-up process: {e}"))?;
    let t0 = Instant::now();
    let mut results: Vec<(Daemon, Samples)> =
        o.daemons.iter().map(|d| (*d, Samples::default())).collect();
    progress(
        &t0,
        &format!(
            "bench netns: {} run(s) of {}; files in {}",
            o.runs,
            o.daemons
                .iter()
                .map(|d| d.name())
                .collect::<Vec<_>>()
                .join(", "),
            work.display()
        ),
    );
    for run in 1..=o.runs {
        for (d, s) in results.iter_mut() {
            let label = format!("{} run {run}/{}", d.name(), o.runs);
            if let Err(e) = one_run(o, &tools, &work, *d, run, s, &t0) {
                progress(&t0, &format!("{label}: FAILED: {e}"));
                s.errors.push(format!("run {run}: {e}"));
            }
        }
    }
    let failed = results.iter().any(|(_, s)| !s.errors.is_empty());
    if o.keep || failed {
        progress(&t0, &format!("logs kept in {}", work.display()));
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(Report {
        options: o.clone(),
        results,
        wall_total: t0.elapsed().as_secs_f64(),
    })
}

/// One run of one daemon: grid A (convergence, overhead, RSS, iperf,
/// carrier cut), then grid B (convergence, silent cut).
fn one_run(
    o: &Options,
    tools: &Tools,
    work: &Path,
    d: Daemon,
    run: usize,
    s: &mut Samples,
    t0: &Instant,
) -> io::Result<()> {
    let label = format!("{} run {run}/{}", d.name(), o.runs);
    let say = |m: String| progress(t0, &format!("{label}: {m}"));
    let conv = |g: &mut Grid, s: &mut Samples| -> io::Result<bool> {
        let c = g.converge(o.timeout_secs)?;
        s.conv.push(c.unwrap_or(f64::INFINITY));
        match c {
            Some(c) => say(format!("converged in {c:.2} s")),
            None => say(format!("no n00 -> n22 reply within {} s", o.timeout_secs)),
        }
        Ok(c.is_some())
    };
    let reroute = |g: &Grid, how: Cut, gaps: &mut Vec<f64>, lost: &mut Vec<f64>| {
        let r = g.reroute(how, o.timeout_secs)?;
        say(format!(
            "{} cut {}-{} (path {}): gap {:.3} s, {} no-answer lines; path after {}",
            match how {
                Cut::Down => "carrier-down",
                Cut::Silent => "silent",
            },
            r.cut.0,
            r.cut.1,
            r.path.join(">"),
            r.gap,
            r.lost,
            r.after.join(">")
        ));
        gaps.push(r.gap);
        lost.push(r.lost as f64);
        io::Result::Ok(())
    };

    let mut g = Grid::build(d, tools, work, &format!("{}-r{run}-a", d.name()))?;
    if conv(&mut g, s)? {
        std::thread::sleep(std::time::Duration::from_secs_f64(o.settle_secs));
        let (b0, p0) = g.tx_counters("11")?;
        let start = Instant::now();
        std::thread::sleep(std::time::Duration::from_secs_f64(o.overhead_secs));
        let (b1, p1) = g.tx_counters("11")?;
        let secs = start.elapsed().as_secs_f64();
        let (bps, pps) = ((b1 - b0) as f64 / secs, (p1 - p0) as f64 / secs);
        s.tx_bps.push(bps);
        s.tx_pps.push(pps);
        let rss = g.rss_kib();
        let rss_med = Summary::of(&rss.iter().map(|&k| k as f64).collect::<Vec<_>>());
        if let Some(m) = rss_med {
            s.rss_kib.push(m.median);
        }
        say(format!(
            "n11 sends {bps:.0} B/s, {pps:.1} pkt/s on its 4 veths; RSS KiB per node {rss:?}"
        ));
        if d == Daemon::Meshd {
            let path = g.path_to("02");
            let mesh = g.iperf(&g.bat0_ip("02"), o.iperf_secs, "bat0");
            let kernel_ip = g.kernel_route_n00_n02()?;
            let kernel = g.iperf(kernel_ip, o.iperf_secs, "kernel");
            match (mesh, kernel) {
                (Ok((m, mr)), Ok((k, kr))) => {
                    say(format!(
                        "TCP n00 -> n02: bat0 (path {}) {:.3} Gbit/s ({mr} retransmits), \
                         kernel forwarding {:.3} Gbit/s ({kr} retransmits)",
                        path.join(">"),
                        m / 1e9,
                        k / 1e9
                    ));
                    s.tcp_mesh.push(m / 1e9);
                    s.tcp_kernel.push(k / 1e9);
                    s.tcp_ratio.push(m / k);
                }
                (m, k) => {
                    for e in [m.err(), k.err()].into_iter().flatten() {
                        say(format!("iperf3 failed: {e}"));
                        s.errors.push(format!("run {run}: {e}"));
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_secs(2));
        }
        reroute(&g, Cut::Down, &mut s.gap_down, &mut s.lost_down)?;
    }
    drop(g);

    let mut g = Grid::build(d, tools, work, &format!("{}-r{run}-b", d.name()))?;
    if conv(&mut g, s)? {
        std::thread::sleep(std::time::Duration::from_secs_f64(o.settle_secs));
        reroute(&g, Cut::Silent, &mut s.gap_silent, &mut s.lost_silent)?;
    }
    Ok(())
}

/// The programs, installing missing Debian packages as the anchors'
/// scripts do; the meshd binary from `--meshd` or next to this executable.
fn tools(o: &Options) -> Result<Tools, String> {
    let meshd = match &o.meshd {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find this executable: {e}"))?
            .with_file_name("meshd"),
    };
    if o.daemons.contains(&Daemon::Meshd) && !meshd.is_file() {
        return Err(format!(
            "no meshd binary at {}: build it with `cargo build --release -p meshd` \
             (same target dir as hwtest) or pass --meshd PATH",
            meshd.display()
        ));
    }
    let mut need = vec![
        ("ip", "iproute2"),
        ("ping", "iputils-ping"),
        ("nft", "nftables"),
        ("sysctl", "procps"),
    ];
    if o.daemons.contains(&Daemon::Babeld) {
        need.push(("babeld", "babeld"));
    }
    if o.daemons.contains(&Daemon::Batmand) {
        need.push(("batmand", "batmand"));
    }
    if o.daemons.contains(&Daemon::Meshd) {
        need.push(("iperf3", "iperf3"));
    }
    let missing: Vec<&str> = need
        .iter()
        .filter(|(p, _)| which(p).is_none())
        .map(|(_, pkg)| *pkg)
        .collect();
    if !missing.is_empty() {
        eprintln!("installing: {}", missing.join(" "));
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if !install() {
            let _ = Command::new("apt-get")
                .args(["update", "-qq"])
                .stdout(Stdio::null())
                .status();
            if !install() {
                return Err(format!(
                    "could not install {} (apt-get install -y {})",
                    missing.join(", "),
                    missing.join(" ")
                ));
            }
        }
    }
    let find = |p: &str| which(p).ok_or(format!("{p} not found after installing it"));
    let absent = PathBuf::new;
    Ok(Tools {
        meshd,
        babeld: find("babeld").unwrap_or_else(|_| absent()),
        batmand: find("batmand").unwrap_or_else(|_| absent()),
        ping: find("ping")?,
        iperf3: find("iperf3").unwrap_or_else(|_| absent()),
        nft: find("nft")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bench::args::owned as v;

    #[test]
    fn parses_options() {
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        let o = Options::parse(&v(&[
            "--runs",
            "5",
            "--daemons",
            "batmand,meshd",
            "--overhead-secs",
            "10",
            "--json",
        ]))
        .unwrap();
        assert_eq!(o.runs, 5);
        assert_eq!(o.daemons, vec![Daemon::Meshd, Daemon::Batmand]);
        assert_eq!((o.overhead_secs, o.json), (10.0, true));
        assert!(Options::parse(&v(&["--daemons", "olsrd"])).is_err());
        assert!(Options::parse(&v(&["--runs", "0"])).is_err());
        assert!(Options::parse(&v(&["--runs"])).is_err());
        assert!(Options::parse(&v(&["--settle-secs", "-1"])).is_err());
        assert!(Options::parse(&v(&["--bogus"])).is_err());
    }
}

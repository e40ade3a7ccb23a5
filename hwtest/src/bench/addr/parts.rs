//! The order of `bench addr`: tools, the node-layer line, the joins, the
//! overhead windows, the throughput sets, the simulator.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::join::NodeLine;
use super::overhead::{exchange_per_node, sim_once, sum_tx, PlainLine, SimNet, ROUTERS};
use super::report::{PathSamples, Report, SimRow};
use super::topo::{cpu_secs, progress, sleep, write_udhcpc_script};
use super::tput::{iperf, L2Set, WgSet};
use super::Options;
use crate::netns::which;

/// Where `cargo install` puts boringtun-cli.
pub const BENCH_TOOLS: &str = "/var/cache/meshd-bench-tools";

/// Namespace parts: join, throughput, netns overhead (root checked).
pub fn netns(o: &Options, r: &mut Report, t0: &Instant) {
    let meshd = match meshd_binary(o.meshd.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            r.errors.push(e);
            return;
        }
    };
    let mut missing = Vec::new();
    if which("dnsmasq").is_none() {
        missing.push("dnsmasq-base");
    }
    if !has_udhcpc() {
        missing.push("busybox");
    }
    if !missing.is_empty() {
        r.skipped.push(format!(
            "join, throughput and netns overhead: the LANs need dnsmasq and busybox's \
             udhcpc: apt-get install -y {}",
            missing.join(" ")
        ));
        return;
    }
    let mut tput = o.parts.tput;
    if tput && which("iperf3").is_none() {
        r.skipped
            .push("throughput: iperf3 is missing: apt-get install -y iperf3".into());
        tput = false;
    }
    let wg = if tput {
        wg_tools(t0)
    } else {
        Err(String::new())
    };
    if let Err(e) = &wg {
        if tput {
            r.skipped.push(format!("boringtun column: {e}"));
        }
    }
    let work = std::env::temp_dir().join(format!("hwtest-bench-addr-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&work) {
        r.errors.push(format!("{}: {e}", work.display()));
        return;
    }
    if let Err(e) = crate::netns::janitor().and_then(|()| files_janitor(&work)) {
        r.errors
            .push(format!("cannot start the clean-up process: {e}"));
        return;
    }
    progress(t0, &format!("bench addr: files in {}", work.display()));
    if let Err(e) = netns_inner(o, r, t0, &meshd, &work, tput, wg.ok()) {
        progress(t0, &format!("FAILED: {e}"));
        r.errors.push(e.to_string());
    }
    if o.keep || !r.errors.is_empty() {
        let _ = std::fs::write(work.join(KEEP), b"");
        progress(t0, &format!("logs kept in {}", work.display()));
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
}

/// The meshd to run: `given`, else the one next to this executable; an
/// error saying how to build it if there is none.
pub(crate) fn meshd_binary(given: Option<&Path>) -> Result<PathBuf, String> {
    let meshd = match given {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe()
            .map(|e| e.with_file_name("meshd"))
            .unwrap_or_default(),
    };
    if !meshd.is_file() {
        return Err(format!(
            "no meshd binary at {}: build it with `cargo build --release -p meshd` \
             (same target dir as hwtest) or pass --meshd PATH",
            meshd.display()
        ));
    }
    Ok(meshd)
}

/// Marker in the work directory: keep it after exit.
pub(crate) const KEEP: &str = ".keep";

/// A shell that outlives a Ctrl-C of hwtest (as `netns::janitor`) and
/// removes the work directory (logs, keys, sockets) once hwtest is gone,
/// unless it was marked to be kept.
pub(crate) fn files_janitor(work: &Path) -> std::io::Result<()> {
    let script = format!(
        "trap '' INT TERM HUP\n\
         while kill -0 {pid} 2>/dev/null; do sleep 1; done\n\
         [ -e '{dir}/{KEEP}' ] || rm -rf '{dir}'\n",
        pid = std::process::id(),
        dir = work.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
}

fn has_udhcpc() -> bool {
    Command::new("busybox")
        .arg("--list")
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == "udhcpc")
        })
}

/// `wg` and boringtun-cli (installed with cargo into [`BENCH_TOOLS`] if
/// missing), or why not.
pub(crate) fn wg_tools(t0: &Instant) -> Result<(PathBuf, PathBuf), String> {
    let wg = which("wg").ok_or("wg is missing: apt-get install -y wireguard-tools")?;
    let bt = Path::new(BENCH_TOOLS).join("bin/boringtun-cli");
    if bt.is_file() {
        return Ok((wg, bt));
    }
    if let Some(p) = which("boringtun-cli") {
        return Ok((wg, p));
    }
    let home_cargo = std::env::var("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/cargo"));
    let cargo = which("cargo")
        .or(home_cargo.ok().filter(|p| p.is_file()))
        .ok_or("boringtun-cli is missing and there is no cargo to install it")?;
    progress(
        t0,
        &format!("installing boringtun-cli: cargo install boringtun-cli --locked --root {BENCH_TOOLS} (a minute or two)"),
    );
    let out = Command::new(cargo)
        .args([
            "install",
            "boringtun-cli",
            "--locked",
            "--root",
            BENCH_TOOLS,
        ])
        .output()
        .map_err(|e| format!("cargo install boringtun-cli: {e}"))?;
    if !out.status.success() || !bt.is_file() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last: Vec<&str> = err.lines().rev().take(3).collect();
        return Err(format!(
            "cargo install boringtun-cli --locked --root {BENCH_TOOLS} failed: {}",
            last.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    Ok((wg, bt))
}

type Res = Result<(), Box<dyn std::error::Error>>;

fn netns_inner(
    o: &Options,
    r: &mut Report,
    t0: &Instant,
    meshd: &Path,
    work: &Path,
    tput: bool,
    wg: Option<(PathBuf, PathBuf)>,
) -> Res {
    let say = |m: String| progress(t0, &m);
    let udhcpc = write_udhcpc_script(work)?;
    say("node-layer line r0..r3 with DHCP clients c0..c3: starting".into());
    let mut line = NodeLine::build(meshd, work, &udhcpc, o.timeout_secs)?;
    say(format!(
        "line up: directories complete, leases {:?}, c0 reaches c3; settling {:.0} s",
        line.addrs, o.settle_secs
    ));
    sleep(o.settle_secs);
    if o.parts.join {
        // Interleaved: a new router, then the same one re-keyed.
        for k in 1..=o.join_runs {
            for rekey in [false, true] {
                let (what, res) = if rekey {
                    ("re-keyed r4", line.rekey(k, o.timeout_secs))
                } else {
                    ("new r4", line.join(k, o.timeout_secs))
                };
                match res {
                    Ok(s) => {
                        say(format!(
                            "join {k}/{} {what}: r4 directory {:.2} s, r0 has r4 {:.2} s, \
                             c4 lease {:.2} s, c4 -> c0 ping {:.2} s, {} handshake retries",
                            o.join_runs, s.dir_r4, s.r0_has_r4, s.lease, s.ping, s.hs_retries
                        ));
                        if rekey { &mut r.rekey } else { &mut r.join }.push(s);
                    }
                    Err(e) => {
                        say(format!("join {k}/{} {what}: FAILED: {e}", o.join_runs));
                        r.errors.push(format!("join run {k} ({what}): {e}"));
                    }
                }
                if let Some(e) = line.check() {
                    return Err(e.into());
                }
            }
        }
    }
    if o.parts.overhead && line.r4.is_none() {
        say("r4 joins (for the line of five)".into());
        line.join(0, o.timeout_secs)?;
    }
    // Overhead before throughput: no end-to-end session has carried data
    // yet, so the windows hold the announcement and routing only.
    if o.parts.overhead {
        overhead_netns(o, r, t0, &line, meshd, work)?;
    }
    if tput {
        throughput(o, r, t0, &line, meshd, work, wg)?;
    }
    if let Some(e) = line.check() {
        return Err(e.into());
    }
    Ok(())
}

pub(crate) fn cpu(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|&p| cpu_secs(p)).sum()
}

fn throughput(
    o: &Options,
    r: &mut Report,
    t0: &Instant,
    line: &NodeLine,
    meshd: &Path,
    work: &Path,
    wg: Option<(PathBuf, PathBuf)>,
) -> Res {
    let say = |m: String| progress(t0, &m);
    say("bat0 reference: routers b0..b3 (-t bat0, bridged LANs), clients bc0..bc3".into());
    let l2 = L2Set::build(meshd, work, o.timeout_secs)
        .map_err(|e| r.errors.push(format!("bat0 set: {e}")))
        .ok();
    let wgs = match &wg {
        Some((wg, bt)) => {
            say("boringtun reference: routers w0..w3 (-t bat0), wg0 between w0 and w3".into());
            WgSet::build(meshd, bt, wg, work, o.timeout_secs)
                .map_err(|e| r.errors.push(format!("boringtun set: {e}")))
                .ok()
        }
        None => None,
    };
    let mut s = vec![
        PathSamples::new("mesh0", "mesh0: node layer, end-to-end encrypted"),
        PathSamples::new("bat0", "bat0 bridged: plain L2, no encryption"),
        PathSamples::new("boringtun", "boringtun r0-r3 over bat0 (WireGuard)"),
    ];
    s[1].available = l2.is_some();
    s[2].available = wgs.is_some();
    for run in 0..o.iperf_runs {
        for k in 0..3 {
            let path = (run + k) % 3;
            let (c, srv, ip, mpids, opids) = match (path, &l2, &wgs) {
                (0, _, _) => (
                    &line.clients[0],
                    &line.clients[3],
                    line.addrs[3].clone(),
                    line.pids(),
                    Vec::new(),
                ),
                (1, Some(l), _) => (
                    &l.clients[0],
                    &l.clients[3],
                    L2Set::SERVER.to_string(),
                    l.pids(),
                    Vec::new(),
                ),
                (2, _, Some(w)) => (
                    &w.clients[0],
                    &w.clients[1],
                    WgSet::SERVER.to_string(),
                    w.meshd_pids(),
                    w.bt_pids.clone(),
                ),
                _ => continue,
            };
            let name = s[path].name;
            let (m0, b0) = (cpu(&mpids), cpu(&opids));
            let prefix = work.join(format!("tput-{name}-{}", run + 1));
            match iperf(c, srv, &ip, o.iperf_secs, &prefix) {
                Ok(i) => {
                    let gb = i.bytes / 1e9;
                    let (m, b) = ((cpu(&mpids) - m0) / gb, (cpu(&opids) - b0) / gb);
                    say(format!(
                        "iperf3 run {}/{} {name}: {:.0} Mbit/s, {} retransmits, meshd {m:.2} s/GB{}",
                        run + 1,
                        o.iperf_runs,
                        i.bps / 1e6,
                        i.retransmits,
                        if opids.is_empty() { String::new() } else { format!(", boringtun {b:.2} s/GB") }
                    ));
                    s[path].mbps.push(i.bps / 1e6);
                    s[path].meshd_s_gb.push(m);
                    if !opids.is_empty() {
                        s[path].other_s_gb.push(b);
                    }
                    s[path].retransmits.push(i.retransmits);
                }
                Err(e) => {
                    say(format!("iperf3 {name}: FAILED: {e}"));
                    r.errors
                        .push(format!("throughput {name} run {}: {e}", run + 1));
                }
            }
        }
    }
    r.tput = s;
    Ok(())
}

fn overhead_netns(
    o: &Options,
    r: &mut Report,
    t0: &Instant,
    line: &NodeLine,
    meshd: &Path,
    work: &Path,
) -> Res {
    let say = |m: String| progress(t0, &m);
    say("plain line p0..p4 (meshd without --state-dir): starting".into());
    let plain = PlainLine::build(meshd, work, o.timeout_secs)?;
    say(format!(
        "plain line converged; settling {:.0} s",
        o.settle_secs
    ));
    sleep(o.settle_secs);
    let (with, without) = (line.mesh_ifaces(), plain.mesh_ifaces());
    if with.len() != ROUTERS {
        return Err(format!(
            "the node-layer line has {} routers, not {ROUTERS}",
            with.len()
        )
        .into());
    }
    for w in 1..=o.overhead_runs {
        let (a0, b0) = (sum_tx(&with)?, sum_tx(&without)?);
        let t = Instant::now();
        sleep(o.overhead_secs);
        let (a1, b1) = (sum_tx(&with)?, sum_tx(&without)?);
        let dt = t.elapsed().as_secs_f64() * ROUTERS as f64;
        let (a, b) = ((a1 - a0) as f64 / dt, (b1 - b0) as f64 / dt);
        say(format!(
            "overhead window {w}/{}: with node layer {a:.1} B/s per node, without {b:.1}",
            o.overhead_runs
        ));
        r.over_with.push(a);
        r.over_without.push(b);
        r.over_diff.push(a - b);
    }
    Ok(())
}

/// The simulator rows: line 5 (the netns line), grid 3x3, rgg 250.
pub fn sim(o: &Options, r: &mut Report, t0: &Instant) {
    for net in [SimNet::Line(ROUTERS), SimNet::Grid(3, 3), SimNet::Rgg(250)] {
        let mut row = SimRow::new(net);
        for seed in 1..=o.sim_seeds {
            let a = sim_once(net, seed, o.sim_secs, false);
            let b = sim_once(net, seed, o.sim_secs, true);
            progress(
                t0,
                &format!(
                    "sim {} seed {seed}: {:.1} -> {:.1} OGM B/s per node{}",
                    net.name(),
                    a.bytes_per_node_s,
                    b.bytes_per_node_s,
                    if a.converged && b.converged {
                        ""
                    } else {
                        " (NOT converged)"
                    }
                ),
            );
            if !(a.converged && b.converged) {
                r.errors
                    .push(format!("sim {} seed {seed}: did not converge", net.name()));
            }
            row.push(&a, &b);
        }
        let (own, all) = exchange_per_node(row.nodes, row.mean_hops);
        row.exchange_own = own;
        row.exchange_all = all;
        r.sim.push(row);
    }
}

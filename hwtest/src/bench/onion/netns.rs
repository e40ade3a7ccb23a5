//! `--part netns` (root): onion circuits between real meshd processes in
//! network namespaces, on the ring of [`super::ring`].
//!
//! Phase 1, every router with the default policy (fd00::/8 anonymous).
//! Per run, for `--relays` 1, 2 and 3 on r0 (in that order): r0's meshd
//! restarted (same keys, so its circuits are new) and its directory
//! complete again; then cA pings cB every 50 ms (`-c 1 -w 20`): the time
//! from the first ping to the first reply (icmp_seq and time of that
//! reply), next to meshd's "circuit ... ready in M ms" from r0's debug log
//! and the circuit's hops (`meshctl circuits`); then `--pings` pings at
//! 0.2 s on the ready circuit (their median RTT). With 3 relays, iperf3
//! TCP cA -> cB over the circuit, and the boringtun reference.
//!
//! Phase 2, every router restarted with `--anonymous none` (mesh0's
//! direct end-to-end session): per run the same pings and iperf3.
//!
//! The boringtun reference is `bench addr`'s [`WgSet`] (its own four
//! routers r0..r3 in a line, meshd `-t bat0`, WireGuard between the ends
//! over bat0), run in the same bench run, interleaved with the circuit
//! runs. On the ring itself it would need meshd's L2 soft interface next
//! to the node layer and the clients' IPv6 routed into wg0 instead of
//! mesh0: not the path `bench addr` measures. The line's r0 -> r3 is 3
//! batman hops over veths of the same MTU, as the ring's shortest r0 ->
//! r3.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::ring::{path_hops, Mode, Ring, A};
use super::Options;
use crate::bench::addr::parts::{cpu, files_janitor, meshd_binary, wg_tools, KEEP};
use crate::bench::addr::report::{median, mmm, PathSamples};
use crate::bench::addr::topo::{progress, sh};
use crate::bench::addr::tput::{iperf, WgSet};
use crate::bench::table::Table;
use crate::netns::{which, Netns};

/// Interval of the build-time pings, ms.
const BUILD_PING_MS: f64 = 50.0;

/// One configuration's samples (one per run).
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// s from the restart until the directory was complete again.
    pub dir_s: Vec<f64>,
    /// ms from cA's first ping to the first reply after the restart.
    pub first_reply_ms: Vec<f64>,
    /// meshd's "ready in M ms" (r0's debug log).
    pub ready_ms: Vec<f64>,
    /// Relays the circuit got (meshd's log).
    pub relays: Vec<f64>,
    /// One-way batman hops along the circuit (or r0 -> r3 direct).
    pub ring_hops: Vec<f64>,
    /// Per run: the median RTT of `--pings` pings, ms.
    pub rtt_ms: Vec<f64>,
}

impl Config {
    fn new(mode: Mode) -> Self {
        Config {
            mode,
            dir_s: Vec::new(),
            first_reply_ms: Vec::new(),
            ready_ms: Vec::new(),
            relays: Vec::new(),
            ring_hops: Vec::new(),
            rtt_ms: Vec::new(),
        }
    }
}

/// What the netns part measured.
#[derive(Debug, Clone)]
pub struct NetnsPart {
    /// Circuits of 1, 2, 3 relays, then the direct path.
    pub configs: Vec<Config>,
    /// circuit (3 relays), direct mesh0, boringtun.
    pub tput: Vec<PathSamples>,
    /// Each circuit r0 built, as "run k, n relays: r0 -> r5 -> r2 -> r6 -> r3".
    pub circuits: Vec<String>,
    /// Lines of r0's log about circuits that failed (meshd's own words).
    pub failures: Vec<String>,
    pub secs: u64,
    pub pings: usize,
}

/// Run the part; errors of single samples go to `errors`, and the part
/// goes on.
pub fn run(
    o: &Options,
    errors: &mut Vec<String>,
    skipped: &mut Vec<String>,
    t0: &Instant,
) -> Option<NetnsPart> {
    let meshd = match meshd_binary(o.meshd.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            errors.push(format!("netns: {e}"));
            return None;
        }
    };
    for (prog, pkg) in [
        ("dnsmasq", "dnsmasq-base"),
        ("iperf3", "iperf3"),
        ("ping", "iputils-ping"),
    ] {
        if which(prog).is_none() {
            skipped.push(format!(
                "netns: {prog} is missing: apt-get install -y {pkg}"
            ));
            return None;
        }
    }
    let wg = wg_tools(t0);
    if let Err(e) = &wg {
        skipped.push(format!("netns: boringtun reference: {e}"));
    }
    let work = std::env::temp_dir().join(format!("hwtest-bench-onion-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&work) {
        errors.push(format!("netns: {}: {e}", work.display()));
        return None;
    }
    if let Err(e) = crate::netns::janitor().and_then(|()| files_janitor(&work)) {
        errors.push(format!("netns: cannot start the clean-up process: {e}"));
        return None;
    }
    progress(t0, &format!("netns: files in {}", work.display()));
    let mut part = NetnsPart::new(o.iperf_secs, o.pings);
    let n_err = errors.len();
    if let Err(e) = measure(o, &mut part, errors, t0, &meshd, &work, wg.ok()) {
        progress(t0, &format!("netns: FAILED: {e}"));
        errors.push(format!("netns: {e}"));
    }
    if o.keep || errors.len() > n_err {
        let _ = std::fs::write(work.join(KEEP), b"");
        progress(t0, &format!("netns: logs kept in {}", work.display()));
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Some(part)
}

fn measure(
    o: &Options,
    part: &mut NetnsPart,
    errors: &mut Vec<String>,
    t0: &Instant,
    meshd: &Path,
    work: &Path,
    wg: Option<(PathBuf, PathBuf)>,
) -> io::Result<()> {
    let say = |m: String| progress(t0, &m);
    say("netns: ring r0..r6 with cA behind r0, cB behind r3: starting".into());
    let mut ring = Ring::build(meshd, work, o.timeout_secs)?;
    say(format!(
        "netns: ring up, directories complete, cB at {}",
        ring.b_addr
    ));
    let wgs = match &wg {
        Some((wg, bt)) => {
            say(
                "netns: boringtun reference: bench addr's line w0..w3, wg0 between w0 and w3"
                    .into(),
            );
            WgSet::build(meshd, bt, wg, work, o.timeout_secs)
                .map_err(|e| errors.push(format!("netns: boringtun set: {e}")))
                .ok()
        }
        None => None,
    };
    part.tput[2].available = wgs.is_some();
    let runs = o.netns_runs;
    for run in 1..=runs {
        for (k, relays) in [1usize, 2, 3].into_iter().enumerate() {
            let mode = Mode::Circuit(relays);
            let res = ring
                .restart(&[A], mode, o.timeout_secs)
                .and_then(|()| sample(o, &mut ring, part, k, run));
            match res {
                Ok(line) => say(format!("netns run {run}/{runs}, {}: {line}", mode.label())),
                Err(e) => {
                    say(format!(
                        "netns run {run}/{runs}, {}: FAILED: {e}",
                        mode.label()
                    ));
                    errors.push(format!("netns run {run}, {}: {e}", mode.label()));
                }
            }
            if let Some(e) = ring.check() {
                return Err(io::Error::other(e));
            }
        }
        // The 3-relay circuit is up: throughput over it, then boringtun.
        ring_tput(o, &ring, &mut part.tput[0], work, run, errors, t0);
        if let Some(w) = &wgs {
            tput(
                o,
                &w.clients[0],
                &w.clients[1],
                WgSet::SERVER,
                &w.meshd_pids(),
                &w.bt_pids,
                &mut part.tput[2],
                work,
                run,
                errors,
                t0,
            );
        }
    }
    for run in 1..=runs {
        // All routers to --anonymous none first, then r0 alone per run.
        let which: Vec<usize> = if run == 1 {
            say("netns: every router restarted with --anonymous none".into());
            (0..super::ring::N).collect()
        } else {
            vec![A]
        };
        let res = ring
            .restart(&which, Mode::Direct, o.timeout_secs)
            .and_then(|()| sample(o, &mut ring, part, 3, run));
        match res {
            Ok(line) => say(format!("netns run {run}/{runs}, direct: {line}")),
            Err(e) => {
                say(format!("netns run {run}/{runs}, direct: FAILED: {e}"));
                errors.push(format!("netns run {run}, direct: {e}"));
            }
        }
        ring_tput(o, &ring, &mut part.tput[1], work, run, errors, t0);
        if let Some(e) = ring.check() {
            return Err(io::Error::other(e));
        }
    }
    Ok(())
}

/// One sample of a configuration, right after the restart: the first
/// reply, the circuit, the RTT. A line for the progress output.
fn sample(
    o: &Options,
    ring: &mut Ring,
    part: &mut NetnsPart,
    k: usize,
    run: usize,
) -> io::Result<String> {
    let c = &mut part.configs[k];
    let (seq, time) = first_reply(&ring.ca, &ring.b_addr)?;
    let first = (seq - 1) as f64 * BUILD_PING_MS + time;
    let r0_log = std::fs::read_to_string(&ring.routers[A].log).unwrap_or_default();
    let ready = r0_log.lines().find_map(ready_line);
    for l in r0_log.lines().filter(|l| is_failure(l)) {
        part.failures
            .push(format!("run {run}, {}: {l}", ring.mode.label()));
    }
    let hops = match c.mode {
        Mode::Circuit(_) => ring.ready_hops().unwrap_or_default(),
        Mode::Direct => vec![super::ring::B],
    };
    c.dir_s.push(ring.restart_s);
    let mut line = format!(
        "directory complete {:.1} s after the restart; first reply after {first:.0} ms \
         (icmp_seq {seq})",
        ring.restart_s
    );
    if let Mode::Circuit(_) = c.mode {
        let names: Vec<String> = std::iter::once(A)
            .chain(hops.iter().copied())
            .map(|i| format!("r{i}"))
            .collect();
        part.circuits.push(format!(
            "run {run}, {}: {}",
            c.mode.label(),
            names.join(" -> ")
        ));
        match ready {
            Some((relays, ms)) => {
                c.ready_ms.push(ms);
                c.relays.push(relays);
                line.push_str(&format!(", meshd: {relays} relays ready in {ms} ms"));
            }
            None => line.push_str(", no \"ready in\" line in r0's log"),
        }
        line.push_str(&format!(", {}", names.join(" -> ")));
    }
    c.first_reply_ms.push(first);
    if !hops.is_empty() {
        c.ring_hops.push(path_hops(&hops) as f64);
    }
    let rtts = rtts(&ring.ca, &ring.b_addr, o.pings)?;
    let m = median(&rtts).unwrap_or(f64::NAN);
    c.rtt_ms.push(m);
    line.push_str(&format!(
        "; {} of {} pings, median RTT {m:.2} ms",
        rtts.len(),
        o.pings
    ));
    Ok(line)
}

/// cA pings `to` every 50 ms until the first reply (20 s at most): that
/// reply's icmp_seq and time (ms).
fn first_reply(ca: &Netns, to: &str) -> io::Result<(u64, f64)> {
    let (_, out) = sh(ca, &format!("ping -6 -n -c 1 -i 0.05 -w 20 {to}"));
    out.lines()
        .find_map(reply)
        .ok_or_else(|| io::Error::other(format!("no reply from {to} in 20 s: {}", out.trim())))
}

/// `n` pings at 0.2 s from cA to `to`: the RTTs of the replies, ms.
fn rtts(ca: &Netns, to: &str, n: usize) -> io::Result<Vec<f64>> {
    let (_, out) = sh(ca, &format!("ping -6 -n -c {n} -i 0.2 -W 2 {to}"));
    let v: Vec<f64> = out.lines().filter_map(reply).map(|(_, t)| t).collect();
    if v.is_empty() {
        return Err(io::Error::other(format!(
            "no ping reply from {to}: {}",
            out.trim()
        )));
    }
    Ok(v)
}

/// `64 bytes from ...: icmp_seq=3 ttl=61 time=12.3 ms`: (3, 12.3).
fn reply(l: &str) -> Option<(u64, f64)> {
    let seq = l.split("icmp_seq=").nth(1)?.split_whitespace().next()?;
    let time = l.split("time=").nth(1)?.split_whitespace().next()?;
    Some((seq.parse().ok()?, time.parse().ok()?))
}

/// meshd's `circuit to X through N relays ready in M ms`: (N, M).
fn ready_line(l: &str) -> Option<(f64, f64)> {
    let rest = l.split("circuit to ").nth(1)?;
    let relays = rest.split(" through ").nth(1)?.split(' ').next()?;
    let ms = rest.split(" ready in ").nth(1)?.split(' ').next()?;
    Some((relays.parse().ok()?, ms.parse().ok()?))
}

/// A line of meshd's log about a circuit that did not work out.
fn is_failure(l: &str) -> bool {
    (l.starts_with("meshd: circuit") || l.starts_with("meshd: no circuit"))
        && !l.contains(" ready in ")
}

/// One iperf3 run into `s`, with meshd's (and boringtun's) CPU per GB.
#[allow(clippy::too_many_arguments)]
fn tput(
    o: &Options,
    c: &Netns,
    srv: &Netns,
    ip: &str,
    mpids: &[u32],
    opids: &[u32],
    s: &mut PathSamples,
    work: &Path,
    run: usize,
    errors: &mut Vec<String>,
    t0: &Instant,
) {
    let (m0, b0) = (cpu(mpids), cpu(opids));
    let prefix = work.join(format!("tput-{}-{run}", s.name));
    match iperf(c, srv, ip, o.iperf_secs, &prefix) {
        Ok(i) => {
            let gb = i.bytes / 1e9;
            let (m, b) = ((cpu(mpids) - m0) / gb, (cpu(opids) - b0) / gb);
            progress(
                t0,
                &format!(
                    "netns iperf3 run {run} {}: {:.0} Mbit/s, {} retransmits, meshd {m:.2} s/GB{}",
                    s.name,
                    i.bps / 1e6,
                    i.retransmits,
                    if opids.is_empty() {
                        String::new()
                    } else {
                        format!(", boringtun {b:.2} s/GB")
                    }
                ),
            );
            s.mbps.push(i.bps / 1e6);
            s.meshd_s_gb.push(m);
            if !opids.is_empty() {
                s.other_s_gb.push(b);
            }
            s.retransmits.push(i.retransmits);
        }
        Err(e) => {
            progress(t0, &format!("netns iperf3 {}: FAILED: {e}", s.name));
            errors.push(format!("netns throughput {} run {run}: {e}", s.name));
        }
    }
}

/// One iperf3 run cA -> cB on the ring, every router's meshd counted.
fn ring_tput(
    o: &Options,
    ring: &Ring,
    s: &mut PathSamples,
    work: &Path,
    run: usize,
    errors: &mut Vec<String>,
    t0: &Instant,
) {
    let pids = ring.pids();
    tput(
        o,
        &ring.ca,
        &ring.cb,
        &ring.b_addr,
        &pids,
        &[],
        s,
        work,
        run,
        errors,
        t0,
    );
}

/// Median of per-run ratios a[k] / b[k] (runs paired by index).
fn paired_ratio(a: &[f64], b: &[f64]) -> Option<f64> {
    let r: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    median(&r)
}

/// Least-squares slope of y over x.
fn slope(pts: &[(f64, f64)]) -> Option<f64> {
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

impl NetnsPart {
    fn new(secs: u64, pings: usize) -> Self {
        NetnsPart {
            configs: [
                Mode::Circuit(1),
                Mode::Circuit(2),
                Mode::Circuit(3),
                Mode::Direct,
            ]
            .map(Config::new)
            .to_vec(),
            tput: vec![
                PathSamples::new("circuit", "onion circuit, 3 relays (default policy)"),
                PathSamples::new("direct", "direct mesh0 (--anonymous none)"),
                PathSamples::new("boringtun", "boringtun r0-r3 over bat0 (bench addr's line)"),
            ],
            circuits: Vec::new(),
            failures: Vec::new(),
            secs,
            pings,
        }
    }

    /// The three tables and the circuits used.
    pub fn text(&self, runs: usize) -> String {
        let mut out = format!(
            "\nnetns: meshd in network namespaces, a ring of 7 routers (veths MTU 1532),\n\
             client cA (SLAAC) behind r0, cB behind r3 (r0 -> r3: 3 batman hops the short way);\n\
             {runs} runs; boringtun on bench addr's own 4-router line (3 hops), same bench run\n"
        );
        out.push_str(
            "\n1. Circuit build: r0's meshd restarted with --relays N (same keys, no circuit);\n   \
             directory s: from the restart until its directory is complete again (direct:\n   \
             run 1 restarts every router); then cA pings cB every 50 ms: ms from the first\n   \
             ping to the first reply ((icmp_seq - 1) x 50 + its RTT); meshd's own \"circuit\n   \
             ... ready in M ms\" from r0's debug log; the relays the circuit got; one-way\n   \
             batman hops along it (r0 -> relays -> r3). min / median / max over runs.\n",
        );
        let mut t = Table::new(&[
            "configuration",
            "directory s",
            "first ping -> reply ms",
            "meshd ready in ms",
            "relays got",
            "path hops",
        ]);
        for c in &self.configs {
            t.row(vec![
                c.mode.label(),
                mmm(&c.dir_s, 1),
                mmm(&c.first_reply_ms, 0),
                mmm(&c.ready_ms, 0),
                mmm(&c.relays, 0),
                mmm(&c.ring_hops, 0),
            ]);
        }
        out.push_str(&t.render());
        out.push_str(&format!(
            "\n2. TCP throughput cA -> cB, iperf3 -t {} one stream (circuit and direct: IPv6;\n   \
             boringtun: IPv4 between its line's clients, wg0 MTU 1420; the circuit's path MTU\n   \
             is 1280). meshd CPU s per GB received, summed over all routers of the path (7\n   \
             on the ring, 4 on the line), /proc/PID/stat. Ratios: per run (same run index),\n   \
             then their median.\n",
            self.secs
        ));
        let mut t = Table::new(&[
            "path",
            "Mbit/s",
            "meshd s/GB",
            "boringtun s/GB",
            "retransmits",
        ]);
        for p in &self.tput {
            if !p.available && p.mbps.is_empty() {
                t.row(vec![p.what.into(), "not run".into()]);
                continue;
            }
            t.row(vec![
                p.what.into(),
                mmm(&p.mbps, 0),
                mmm(&p.meshd_s_gb, 2),
                mmm(&p.other_s_gb, 2),
                median(&p.retransmits).map_or("-".into(), |v| format!("{v:.0}")),
            ]);
        }
        let [c, d, w] = [&self.tput[0], &self.tput[1], &self.tput[2]];
        let fmt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        t.row(vec![
            "ratio circuit / direct".into(),
            fmt(paired_ratio(&c.mbps, &d.mbps)),
            fmt(paired_ratio(&c.meshd_s_gb, &d.meshd_s_gb)),
        ]);
        t.row(vec![
            "ratio circuit / boringtun".into(),
            fmt(paired_ratio(&c.mbps, &w.mbps)),
        ]);
        out.push_str(&t.render());
        out.push_str(&format!(
            "\n3. Latency: ping RTT cA -> cB, {} pings at 0.2 s on the ready circuit (or the\n   \
             direct path) right after part 1's first reply; per run the median of the pings,\n   \
             min / median / max of those over runs.\n",
            self.pings
        ));
        let mut t = Table::new(&["configuration", "RTT ms", "path hops (one way)"]);
        for c in &self.configs {
            t.row(vec![
                c.mode.label(),
                mmm(&c.rtt_ms, 2),
                mmm(&c.ring_hops, 0),
            ]);
        }
        out.push_str(&t.render());
        let pts: Vec<(f64, f64)> = self
            .configs
            .iter()
            .filter_map(|c| match c.mode {
                Mode::Circuit(n) => Some((n as f64, median(&c.rtt_ms)?)),
                Mode::Direct => None,
            })
            .collect();
        let hop_pts: Vec<(f64, f64)> = self
            .configs
            .iter()
            .flat_map(|c| c.ring_hops.iter().copied().zip(c.rtt_ms.iter().copied()))
            .collect();
        let direct = median(&self.configs[3].rtt_ms);
        let three = median(&self.configs[2].rtt_ms);
        out.push_str(&format!(
            "added RTT per relay, least-squares fit over the medians of 1, 2, 3 relays: {} ms\n\
             (3-relay median - direct median) / 3: {} ms\n\
             RTT per one-way batman hop, fit over every run of every configuration: {} ms\n",
            fmt(slope(&pts)),
            fmt(three.zip(direct).map(|(a, b)| (a - b) / 3.0)),
            fmt(slope(&hop_pts)),
        ));
        out.push_str("\nCircuits r0 built (from meshctl circuits):\n");
        for c in &self.circuits {
            out.push_str(&format!("  {c}\n"));
        }
        if !self.failures.is_empty() {
            out.push_str("r0's log on circuits that failed (meshd's words):\n");
            for f in &self.failures {
                out.push_str(&format!("  {f}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ping_and_meshd_lines() {
        assert_eq!(
            reply("64 bytes from fd00::1: icmp_seq=3 ttl=61 time=12.3 ms"),
            Some((3, 12.3))
        );
        assert_eq!(reply("PING fd00::1 56 data bytes"), None);
        assert_eq!(
            ready_line("meshd: circuit to ab12cd34 through 3 relays ready in 41 ms"),
            Some((3.0, 41.0))
        );
        assert!(is_failure(
            "meshd: circuit to ab12cd34: build step unanswered"
        ));
        assert!(!is_failure(
            "meshd: circuit to ab12cd34 through 3 relays ready in 41 ms"
        ));
        assert_eq!(slope(&[(1.0, 2.0), (2.0, 4.0), (3.0, 6.0)]), Some(2.0));
        assert_eq!(paired_ratio(&[2.0, 4.0], &[1.0, 1.0]), Some(3.0));
    }

    #[test]
    fn text_has_every_table() {
        let mut p = NetnsPart::new(10, 20);
        p.circuits.push("run 1: r0 -> r5 -> r2 -> r6 -> r3".into());
        let t = p.text(3);
        for s in [
            "Circuit build",
            "ratio circuit / direct",
            "added RTT per relay",
            "r0 -> r5",
        ] {
            assert!(t.contains(s), "{s}: {t}");
        }
    }
}

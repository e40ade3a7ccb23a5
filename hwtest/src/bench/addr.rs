//! `hwtest bench addr`: the node layer (key-derived addresses, mesh0 with
//! end-to-end encryption, the identity announcement) measured in network
//! namespaces and in the simulator.
//!
//! 1. Join time: a new router r4 with fresh keys and fresh namespaces (so
//!    new MACs) joins the end of a settled line r0..r3 (meshd
//!    `--state-dir --lan`, a DHCP client behind every router); seconds
//!    from r4's meshd start until its client c4, which runs udhcpc in a
//!    loop from t = 0, pings c0 (every 50 ms, -W 0.2); the split: r4's
//!    directory complete, r0's directory has r4, c4's lease, r4's
//!    end-to-end handshake retries. Each run is followed by one of the same
//!    r4 re-keyed (stopped, fresh state dir, same namespaces and MACs: a
//!    reflashed router).
//! 2. Throughput: iperf3 TCP c0 -> c3 (3 hops) over mesh0, next to the
//!    same clients over plain L2 (meshd `-t bat0` bridged with the LANs)
//!    and through boringtun (WireGuard) between r0 and r3 over bat0, runs
//!    interleaved; meshd's (and boringtun's) CPU time per GB from
//!    /proc/PID/stat.
//! 3. Announcement overhead: L2 bytes/s per node on the mesh veths of the
//!    node-layer line of five against a plain meshd line of five, counted
//!    in the same windows; in the simulator the same core with and without
//!    the 12-byte hash TVLV in every other second's OGMs (line 5, grid 3x3, 250-node
//!    radio mesh); the one-time record exchange computed from
//!    `onion::announce`'s sizes.
//!
//! Safety: namespaces are `hwtest::netns::Netns` guards (`mt<pid>-...`),
//! nothing touches the host's interfaces and no packet leaves them; a
//! janitor process removes what a Ctrl-C leaves (see `bench netns`).

mod join;
mod overhead;
pub(crate) mod parts;
pub(crate) mod report;
pub(crate) mod topo;
pub(crate) mod tput;

use std::path::PathBuf;
use std::time::Instant;

pub use join::JoinSample;
pub use overhead::SimNet;
pub use report::{PathSamples, Report, SimRow};

/// Which parts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub join: bool,
    pub tput: bool,
    pub overhead: bool,
    pub sim: bool,
}

/// Options of `hwtest bench addr` (see its `--help`).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub join_runs: usize,
    pub iperf_runs: usize,
    pub iperf_secs: u64,
    pub overhead_runs: usize,
    pub overhead_secs: f64,
    pub settle_secs: f64,
    pub sim_secs: u64,
    pub sim_seeds: u64,
    pub timeout_secs: f64,
    pub parts: Parts,
    pub meshd: Option<PathBuf>,
    pub keep: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            join_runs: 5,
            iperf_runs: 3,
            iperf_secs: 10,
            overhead_runs: 3,
            overhead_secs: 30.0,
            settle_secs: 10.0,
            sim_secs: 60,
            sim_seeds: 3,
            timeout_secs: 60.0,
            parts: Parts {
                join: true,
                tput: true,
                overhead: true,
                sim: true,
            },
            meshd: None,
            keep: false,
        }
    }
}

impl Options {
    /// Parse the arguments after `bench addr`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let v = |it: &mut std::slice::Iter<String>| super::args::value(a, it);
            let count = |s: String| super::args::count(a, &s);
            let secs = |s: String| super::args::secs(a, &s, 0.0);
            match a.as_str() {
                "--join-runs" => o.join_runs = count(v(&mut it)?)? as usize,
                "--iperf-runs" => o.iperf_runs = count(v(&mut it)?)? as usize,
                "--iperf-secs" => o.iperf_secs = count(v(&mut it)?)?,
                "--overhead-runs" => o.overhead_runs = count(v(&mut it)?)? as usize,
                "--overhead-secs" => o.overhead_secs = secs(v(&mut it)?)?.max(1.0),
                "--settle-secs" => o.settle_secs = secs(v(&mut it)?)?,
                "--sim-secs" => o.sim_secs = count(v(&mut it)?)?.max(20),
                "--sim-seeds" => o.sim_seeds = count(v(&mut it)?)?,
                "--timeout" => o.timeout_secs = secs(v(&mut it)?)?.max(5.0),
                "--only" => {
                    let list = v(&mut it)?;
                    o.parts = Parts {
                        join: false,
                        tput: false,
                        overhead: false,
                        sim: false,
                    };
                    for p in list.split(',').filter(|p| !p.is_empty()) {
                        match p {
                            "join" => o.parts.join = true,
                            "tput" => o.parts.tput = true,
                            "overhead" => o.parts.overhead = true,
                            "sim" => o.parts.sim = true,
                            _ => {
                                return Err(format!(
                                    "--only: unknown part {p:?} (join, tput, overhead, sim)"
                                ))
                            }
                        }
                    }
                }
                "--meshd" => o.meshd = Some(PathBuf::from(v(&mut it)?)),
                "--keep" => o.keep = true,
                other => return Err(format!("unknown option {other}")),
            }
        }
        let p = o.parts;
        if !(p.join || p.tput || p.overhead || p.sim) {
            return Err("--only must name at least one part".into());
        }
        Ok(o)
    }
}

/// Run the bench, printing progress to stderr. The namespace parts need
/// root; without it they are skipped (said in the report).
pub fn run(o: &Options) -> Report {
    let t0 = Instant::now();
    let mut r = Report::new(o.clone());
    let p = o.parts;
    if p.join || p.tput || p.overhead {
        if crate::netns::is_root() {
            parts::netns(o, &mut r, &t0);
        } else {
            r.skipped.push(
                "join, throughput and netns overhead: need root (network namespaces); \
                 run as root or with sudo"
                    .into(),
            );
        }
    }
    if p.sim {
        parts::sim(o, &mut r, &t0);
    }
    r.wall_total = t0.elapsed().as_secs_f64();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::bench::args::owned as v;

    #[test]
    fn parses_options() {
        assert_eq!(Options::parse(&[]).unwrap(), Options::default());
        let o = Options::parse(&v(&["--join-runs", "2", "--only", "join,sim", "--keep"])).unwrap();
        assert_eq!(o.join_runs, 2);
        assert!(o.parts.join && o.parts.sim && !o.parts.tput && !o.parts.overhead && o.keep);
        assert!(Options::parse(&v(&["--only", "bogus"])).is_err());
        assert!(Options::parse(&v(&["--only", ""])).is_err());
        assert!(Options::parse(&v(&["--join-runs", "0"])).is_err());
        assert!(Options::parse(&v(&["--iperf-secs"])).is_err());
        assert!(Options::parse(&v(&["--settle-secs", "-1"])).is_err());
        assert!(Options::parse(&v(&["--bogus"])).is_err());
    }
}

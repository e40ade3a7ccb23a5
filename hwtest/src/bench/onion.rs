//! `hwtest bench onion`: what onion circuits cost.
//!
//! Parts (`--part`, default: all):
//! - `cells` (in-process, no root): the cryptography of one cell on a
//!   4-hop circuit (3 relays + the destination) whose keys come from real
//!   ntor handshakes, timed on one core, medians of `--runs` runs of
//!   `--cells` cells each: a raw ChaCha20-Poly1305 seal of a cell-sized
//!   buffer (the reference), a relay's forward hop
//!   ([`onion::cell::hop_forward`]) and backward hop
//!   ([`onion::cell::relay_backward`]), the client building a 4-layer
//!   forward cell ([`onion::cell::client_forward`]) and peeling a 4-layer
//!   backward one ([`onion::cell::client_backward`]), the destination's
//!   [`onion::cell::dest_backward`]; each with its ratio to the raw seal of
//!   the same run. Then the ntor handshake ([`onion::ntor`]):
//!   `client_start`, `server_respond`, `finish`, and the crypto-only build
//!   cost of a 4-hop circuit (4 handshakes). Finally the derived crypto per
//!   relay per cell, forward + backward (the in-process latency a relay
//!   adds).
//!
//! - `netns` (root; in the default parts only when run as root): meshd
//!   in network namespaces, a ring of 7 routers with a LAN client behind
//!   r0 and r3 ([`ring`]): circuit build time after a restart of r0, TCP
//!   throughput over a 3-relay circuit against the direct mesh0 path and
//!   boringtun, the RTT with 1, 2, 3 relays and direct ([`netns`]);
//!   medians of `--runs` runs (default 3 for this part).
//!
//! Randomness is the kernel's (a read of /dev/urandom per draw, as meshd
//! makes a getrandom(2) call per draw), so the client's and the
//! handshake's costs include it.

mod cells;
mod handshake;
pub mod netns;
pub mod ring;
mod rng;

use std::path::PathBuf;
use std::time::Instant;

pub use cells::{CellRow, Cells};
pub use handshake::{Handshakes, HsRow};
pub use rng::OsRandom;

/// Which parts run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// Per-cell crypto and the handshake, in-process.
    pub cells: bool,
    /// Circuits between meshd processes in network namespaces (root).
    pub netns: bool,
}

impl Parts {
    /// The names `--part` accepts, in the order the parts run.
    pub const NAMES: &'static [&'static str] = &["cells", "netns"];

    fn none() -> Self {
        Parts {
            cells: false,
            netns: false,
        }
    }

    /// The default: every part, `netns` only as root.
    pub fn all() -> Self {
        Parts {
            cells: true,
            netns: crate::netns::is_root(),
        }
    }

    fn any(&self) -> bool {
        self.cells || self.netns
    }
}

/// Options of `hwtest bench onion` (see its `--help`).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Timed runs of every measurement (medians over them).
    pub runs: usize,
    /// Cells per run and operation.
    pub cells: usize,
    /// 4-hop circuits (4 handshakes each) per run.
    pub circuits: usize,
    /// Runs of the netns part (`--runs` sets both).
    pub netns_runs: usize,
    /// iperf3 seconds per run (netns).
    pub iperf_secs: u64,
    /// Pings per latency sample (netns).
    pub pings: usize,
    /// Limit of each wait in the namespaces, s.
    pub timeout_secs: f64,
    /// The meshd to run (default: next to this executable).
    pub meshd: Option<PathBuf>,
    /// Keep the netns part's logs (kept anyway on errors).
    pub keep: bool,
    pub parts: Parts,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            runs: 7,
            cells: 20_000,
            circuits: 50,
            netns_runs: 3,
            iperf_secs: 10,
            pings: 20,
            timeout_secs: 60.0,
            meshd: None,
            keep: false,
            parts: Parts::all(),
        }
    }
}

impl Options {
    /// Parse the arguments after `bench onion`.
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let v = |it: &mut std::slice::Iter<String>| super::args::value(a, it);
            let count = |s: String| super::args::count(a, &s).map(|n| n as usize);
            match a.as_str() {
                "--runs" => {
                    o.runs = count(v(&mut it)?)?;
                    o.netns_runs = o.runs;
                }
                "--iperf-secs" => o.iperf_secs = count(v(&mut it)?)? as u64,
                "--pings" => o.pings = count(v(&mut it)?)?,
                "--timeout" => o.timeout_secs = super::args::secs(a, &v(&mut it)?, 5.0)?,
                "--meshd" => o.meshd = Some(PathBuf::from(v(&mut it)?)),
                "--keep" => o.keep = true,
                "--cells" => o.cells = count(v(&mut it)?)?,
                "--circuits" => o.circuits = count(v(&mut it)?)?,
                "--part" => {
                    let list = v(&mut it)?;
                    o.parts = Parts::none();
                    for p in list.split(',').filter(|p| !p.is_empty()) {
                        match p {
                            "cells" => o.parts.cells = true,
                            "netns" => o.parts.netns = true,
                            _ => {
                                return Err(format!(
                                    "--part: unknown part {p:?} ({})",
                                    Parts::NAMES.join(", ")
                                ))
                            }
                        }
                    }
                }
                other => return Err(format!("unknown option {other}")),
            }
        }
        if !o.parts.any() {
            return Err("--part must name at least one part".into());
        }
        Ok(o)
    }
}

/// Everything `bench onion` measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub options: Options,
    pub cells: Option<Cells>,
    pub handshakes: Option<Handshakes>,
    pub netns: Option<netns::NetnsPart>,
    /// Parts not run and why.
    pub skipped: Vec<String>,
    pub errors: Vec<String>,
    pub wall_total: f64,
}

/// Progress on stderr, seconds since the start.
fn progress(t0: &Instant, msg: &str) {
    eprintln!("[{:7.1} s] {msg}", t0.elapsed().as_secs_f64());
}

/// Run the bench, printing progress to stderr.
pub fn run(o: &Options) -> Report {
    let t0 = Instant::now();
    let mut r = Report {
        options: o.clone(),
        cells: None,
        handshakes: None,
        netns: None,
        skipped: Vec::new(),
        errors: Vec::new(),
        wall_total: 0.0,
    };
    if o.parts.cells {
        if let Err(e) = cells_part(o, &mut r, &t0) {
            progress(&t0, &format!("FAILED: {e}"));
            r.errors.push(e);
        }
    }
    let root = crate::netns::is_root();
    if o.parts.netns && root {
        r.netns = netns::run(o, &mut r.errors, &mut r.skipped, &t0);
    } else if !root && (o.parts.netns || o.parts == Parts::all()) {
        r.skipped.push(
            "netns: needs root (network namespaces); run as root or with sudo \
             (left out of the default parts when not root)"
                .into(),
        );
    }
    r.wall_total = t0.elapsed().as_secs_f64();
    r
}

fn cells_part(o: &Options, r: &mut Report, t0: &Instant) -> Result<(), String> {
    let mut rng = OsRandom::open().map_err(|e| format!("/dev/urandom: {e}"))?;
    progress(t0, "cells: a 4-hop circuit's keys from ntor handshakes");
    let circuit = handshake::Circuit::build(&mut rng)?;
    progress(
        t0,
        &format!("cells: {} runs of {} cells per operation", o.runs, o.cells),
    );
    r.cells = Some(cells::measure(o, &circuit.keys, &mut rng, t0)?);
    progress(
        t0,
        &format!(
            "handshakes: {} runs of {} circuits (4 handshakes each)",
            o.runs, o.circuits
        ),
    );
    r.handshakes = Some(handshake::measure(o, &circuit, &mut rng)?);
    Ok(())
}

/// The CPU's model name from /proc/cpuinfo, if there is one.
fn cpu_model() -> Option<String> {
    let s = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    s.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

impl Report {
    /// The plain-text tables.
    pub fn text(&self) -> String {
        let mut out = String::from(
            "hwtest bench onion: what onion circuits cost\n\
             (min / median / max over runs; ratios computed per run, then their median)\n",
        );
        out.push_str(&format!(
            "CPU: {}; {} build (opt-levels as in the workspace's release profile: onion,\n\
             chacha20, poly1305, curve25519-dalek and hwtest at 3, the rest at \"z\")\n",
            cpu_model().unwrap_or_else(|| "unknown".into()),
            if cfg!(debug_assertions) {
                "DEBUG (numbers meaningless: use --release)"
            } else {
                "release"
            }
        ));
        if let Some(c) = &self.cells {
            out.push_str(&c.text(&self.options));
        }
        if let Some(h) = &self.handshakes {
            out.push_str(&h.text(&self.options));
        }
        if let Some(c) = &self.cells {
            out.push_str(&c.derived_text());
        }
        if let Some(n) = &self.netns {
            out.push_str(&n.text(self.options.netns_runs));
        }
        crate::bench::table::push_footer(
            &mut out,
            &format!("{:.1}", self.wall_total),
            &self.skipped,
            &self.errors,
        );
        out
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
            "--runs",
            "3",
            "--cells",
            "100",
            "--circuits",
            "2",
            "--part",
            "cells",
        ]))
        .unwrap();
        assert_eq!((o.runs, o.cells, o.circuits), (3, 100, 2));
        assert!(o.parts.cells && !o.parts.netns);
        let o =
            Options::parse(&v(&["--part", "netns", "--runs", "2", "--iperf-secs", "5"])).unwrap();
        assert!(o.parts.netns && !o.parts.cells);
        assert_eq!((o.runs, o.netns_runs, o.iperf_secs), (2, 2, 5));
        assert_eq!(Options::default().netns_runs, 3);
        assert!(Options::parse(&v(&["--part", "bogus"])).is_err());
        assert!(Options::parse(&v(&["--part", ""])).is_err());
        assert!(Options::parse(&v(&["--runs", "0"])).is_err());
        assert!(Options::parse(&v(&["--cells"])).is_err());
        assert!(Options::parse(&v(&["--bogus"])).is_err());
    }

    #[test]
    fn tiny_run_has_every_table() {
        let o = Options {
            runs: 2,
            cells: 40,
            circuits: 1,
            parts: Parts {
                cells: true,
                netns: false,
            },
            ..Options::default()
        };
        let r = run(&o);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        let t = r.text();
        for s in [
            "raw ChaCha20-Poly1305 seal",
            "hop_forward",
            "relay_backward",
            "client_forward",
            "client_backward",
            "dest_backward",
            "server_respond",
            "4-hop circuit",
            "per relay per cell",
        ] {
            assert!(t.contains(s), "{s}: {t}");
        }
    }
}

//! `hwtest bench sim`: the batman core in the simulator.
//!
//! For each topology (3x3 grid, 10x10 grid, 250-node random geometric radio
//! mesh) and each convergence seed, one run of `--secs` simulated seconds
//! (default 120) measures:
//! - convergence: simulated seconds until every node has a route to every
//!   other (checked after every route change);
//! - wall-clock seconds of the whole run;
//! - control overhead: OGM bytes sent (`stats().tx_ogm_bytes`, Ethernet
//!   header included, every copy on every interface) per node per second,
//!   from 10 s after convergence (at the latest 30 s before the end) to the
//!   end;
//! - memory per originator: `memory_usage().bytes / originators known`,
//!   mean over nodes, at the end.
//!
//! Reroute (grids only): converge, ping corner to corner every 50 ms, cut
//! the second link of the forward path 10 s after convergence (25 ms after
//! a ping), run 10 s more; the gap is the longest hole between pongs from
//! 1 s before the cut to the end (anchors.md's method). Once silently
//! (frames dropped, carrier up) and once carrier-down, over `--seeds`
//! seeds (default 20).

use std::time::{Duration, Instant as Wall};

use crate::sim::{secs, Geometric, LinkParams, LinkState, Sim, SimRng, Topology};

use super::table::{num, string, Summary, Table};

/// Bench options (see `hwtest bench --help`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Seeds for the reroute measurements: `first_seed..first_seed + seeds`.
    pub seeds: u64,
    /// Seeds for the convergence / overhead runs.
    pub conv_seeds: u64,
    pub first_seed: u64,
    /// Simulated seconds of each convergence run.
    pub secs: u64,
    /// Skip the 250-node mesh.
    pub no_rgg: bool,
    pub json: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seeds: 20,
            conv_seeds: 3,
            first_seed: 1,
            secs: 120,
            no_rgg: false,
            json: false,
        }
    }
}

/// Which network a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    Grid(usize, usize),
    /// Random geometric radio mesh with `n` nodes, mean degree ~10.
    Rgg(usize),
}

impl Net {
    pub fn name(&self) -> String {
        match self {
            Net::Grid(w, h) => format!("grid {w}x{h}"),
            Net::Rgg(n) => format!("rgg {n}"),
        }
    }

    /// The topology for a seed (radio placements depend on it).
    pub fn topology(&self, seed: u64) -> Topology {
        match *self {
            Net::Grid(w, h) => Topology::grid(w, h, LinkParams::wired()),
            Net::Rgg(n) => {
                let g = Geometric::with_degree(n, 10.0);
                let mut rng = SimRng::seed_from_u64(seed).fork(0x7090);
                Topology::random_geometric(&g, &mut rng)
                    .unwrap_or_else(|e| panic!("rgg {n}, seed {seed}: {e}"))
            }
        }
    }
}

/// One convergence run.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvRun {
    pub seed: u64,
    pub nodes: usize,
    pub links: usize,
    pub diameter: usize,
    /// Simulated seconds to all routes, `None` if not within the run.
    pub converged: Option<f64>,
    pub wall: f64,
    pub ctrl_bytes_per_node_s: f64,
    pub bytes_per_orig: f64,
    pub loops_at_end: usize,
    /// Share of ordered node pairs with a route at the end of the run (%).
    pub routes_pct: f64,
}

/// Run `net` with `seed` for `run_secs` simulated seconds.
pub fn conv_run(net: Net, seed: u64, run_secs: u64) -> ConvRun {
    let topo = net.topology(seed);
    let (nodes, links) = (topo.nodes.len(), topo.links.len());
    let diameter = topo.diameter().unwrap_or(0);
    let wall = Wall::now();
    let mut sim = Sim::batman(topo, seed).expect("core accepts the topology");
    let end = sim.at(Duration::from_secs(run_secs));
    // Overhead window: from 10 s after convergence (at the latest 30 s
    // before the end) to the end; a run that has not converged 30 s before
    // the end is measured over its last 30 s (and may still converge then).
    let last30 = end - Duration::from_secs(30.min(run_secs / 2));
    let mut conv = sim.run_until_converged(last30);
    let from = conv.map_or(last30, |t| (t + Duration::from_secs(10)).min(last30));
    sim.run_until(from);
    let b0 = sim.total_ogm_bytes();
    if conv.is_none() {
        conv = sim.run_until_converged(end);
    }
    sim.run_until(end);
    let b1 = sim.total_ogm_bytes();
    let window = end.saturating_since(from).as_secs_f64();
    let ctrl = if window > 0.0 {
        (b1 - b0) as f64 / nodes as f64 / window
    } else {
        f64::NAN
    };
    ConvRun {
        seed,
        nodes,
        links,
        diameter,
        converged: conv.map(|t| secs(t) - secs(sim.start())),
        wall: wall.elapsed().as_secs_f64(),
        ctrl_bytes_per_node_s: ctrl,
        bytes_per_orig: sim.bytes_per_originator(),
        loops_at_end: sim.check_routes().loops.len(),
        routes_pct: {
            let pairs = (nodes * nodes.saturating_sub(1)).max(1);
            100.0 * (pairs - sim.missing_routes(usize::MAX).len()) as f64 / pairs as f64
        },
    }
}

/// One cut.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CutRun {
    pub seed: u64,
    /// Ping gap around the cut (s); `None` if the grid did not converge.
    pub gap: Option<f64>,
    /// Pings lost from the cut to 2 s after it.
    pub lost: usize,
}

/// Cut the second link of the corner-to-corner path of `net` (see module docs).
pub fn cut_run(net: Net, seed: u64, state: LinkState) -> CutRun {
    let mut sim = Sim::batman(net.topology(seed), seed).expect("core accepts the topology");
    let (a, b) = (0, sim.len() - 1);
    let Some(conv) = sim.run_until_converged(sim.at(Duration::from_secs(120))) else {
        return CutRun {
            seed,
            gap: None,
            lost: 0,
        };
    };
    // Align to the 50 ms ping grid, then cut 25 ms after a ping.
    let t0 = conv + Duration::from_secs(7);
    let t0 = batman::Instant::from_millis(t0.as_millis() / 50 * 50);
    let p = sim.add_pinger(a, b, t0);
    let t_cut = t0 + Duration::from_millis(3025);
    sim.run_until(t_cut);
    let links = sim.path_links(a, b);
    let Some(&link) = links.get(1).or(links.first()) else {
        return CutRun {
            seed,
            gap: None,
            lost: 0,
        };
    };
    sim.set_link_state(link, state);
    let end = t_cut + Duration::from_secs(10);
    sim.run_until(end);
    let log = &sim.pinger(p).log;
    CutRun {
        seed,
        gap: Some(
            log.max_gap(t_cut - Duration::from_secs(1), end)
                .len
                .as_secs_f64(),
        ),
        lost: log.lost_in(t_cut, t_cut + Duration::from_secs(2)),
    }
}

/// Everything the bench measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub options: Option<Options>,
    pub conv: Vec<(Net, Vec<ConvRun>)>,
    pub cuts: Vec<(Net, &'static str, Vec<CutRun>)>,
    pub wall_total: f64,
}

/// Run the whole bench, printing progress to stderr.
pub fn run(o: &Options) -> Report {
    let wall = Wall::now();
    let mut report = Report {
        options: Some(o.clone()),
        ..Report::default()
    };
    let mut nets = vec![Net::Grid(3, 3), Net::Grid(10, 10)];
    if !o.no_rgg {
        nets.push(Net::Rgg(250));
    }
    for net in nets {
        let mut runs = Vec::new();
        for seed in o.first_seed..o.first_seed + o.conv_seeds {
            let r = conv_run(net, seed, o.secs);
            eprintln!(
                "{} seed {seed}: converged {:?} s, wall {:.2} s",
                net.name(),
                r.converged,
                r.wall
            );
            runs.push(r);
        }
        report.conv.push((net, runs));
    }
    for net in [Net::Grid(3, 3), Net::Grid(10, 10)] {
        for (name, state) in [("silent", LinkState::SilentDrop), ("down", LinkState::Down)] {
            let runs: Vec<CutRun> = (o.first_seed..o.first_seed + o.seeds)
                .map(|seed| cut_run(net, seed, state))
                .collect();
            eprintln!("{} {name} cut: {} runs", net.name(), runs.len());
            report.cuts.push((net, name, runs));
        }
    }
    report.wall_total = wall.elapsed().as_secs_f64();
    report
}

fn summary(v: impl Iterator<Item = f64>) -> Option<Summary> {
    Summary::of(&v.filter(|x| x.is_finite()).collect::<Vec<_>>())
}

impl Report {
    /// The plain-text tables.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut t = Table::new(&[
            "topology",
            "nodes",
            "links",
            "diam",
            "seeds",
            "converged",
            "routes at end % (min)",
            "convergence s (min / med / max)",
            "wall s (med)",
            "ctrl B/node/s (med)",
            "mem B/orig (med)",
            "loops",
        ]);
        for (net, runs) in &self.conv {
            let first = &runs[0];
            let conv = summary(runs.iter().filter_map(|r| r.converged));
            let ok = runs.iter().filter(|r| r.converged.is_some()).count();
            t.row(vec![
                net.name(),
                first.nodes.to_string(),
                summary(runs.iter().map(|r| r.links as f64))
                    .map_or("-".into(), |s| format!("{:.0}", s.median)),
                summary(runs.iter().map(|r| r.diameter as f64))
                    .map_or("-".into(), |s| format!("{:.0}", s.median)),
                seed_range(runs.iter().map(|r| r.seed)),
                format!("{ok}/{}", runs.len()),
                summary(runs.iter().map(|r| r.routes_pct))
                    .map_or("-".into(), |s| format!("{:.2}", s.min)),
                conv.map_or("-".into(), |s| s.fmt(2)),
                med(runs.iter().map(|r| r.wall), 2),
                med(runs.iter().map(|r| r.ctrl_bytes_per_node_s), 0),
                med(runs.iter().map(|r| r.bytes_per_orig), 0),
                runs.iter()
                    .map(|r| r.loops_at_end)
                    .sum::<usize>()
                    .to_string(),
            ]);
        }
        out.push_str(&t.render());
        out.push('\n');
        let mut t = Table::new(&[
            "reroute (ping corner to corner)",
            "cut",
            "seeds",
            "gap s (min / med / max)",
            "lost pings (med / max)",
        ]);
        for (net, name, runs) in &self.cuts {
            let gaps = summary(runs.iter().filter_map(|r| r.gap));
            let lost = summary(
                runs.iter()
                    .filter(|r| r.gap.is_some())
                    .map(|r| r.lost as f64),
            );
            t.row(vec![
                net.name(),
                name.to_string(),
                seed_range(runs.iter().map(|r| r.seed)),
                gaps.map_or("-".into(), |s| s.fmt(3)),
                lost.map_or("-".into(), |s| format!("{:.0} / {:.0}", s.median, s.max)),
            ]);
        }
        out.push_str(&t.render());
        out.push_str(&format!(
            "\nwall clock of the whole bench: {:.1} s. Convergence runs last {} simulated s;\n\
             reroute: cut of the 2nd link of the n00 -> far-corner path 10 s after convergence,\n\
             gap = longest hole between pongs (50 ms pings) from 1 s before the cut to 10 s after.\n\
             rgg: one radio per node, so every hop pays the hop penalty twice (batman-adv's\n\
             same-wireless-interface rule); a lossless path's TQ reaches 0 after about 20 hops\n\
             (17 with batman-adv's truncating arithmetic), so pairs farther apart have no route\n\
             and a seed whose diameter exceeds that never shows all routes: see \"routes at end\".\n",
            self.wall_total,
            self.options.as_ref().map_or(0, |o| o.secs)
        ));
        out
    }

    /// The same as JSON.
    pub fn json(&self) -> String {
        let mut conv = Vec::new();
        for (net, runs) in &self.conv {
            let rs: Vec<String> = runs
                .iter()
                .map(|r| {
                    format!(
                        "{{\"seed\":{},\"nodes\":{},\"links\":{},\"diameter\":{},\"converged_s\":{},\"wall_s\":{},\"ctrl_bytes_per_node_s\":{},\"bytes_per_originator\":{},\"loops_at_end\":{},\"routes_pct\":{}}}",
                        r.seed,
                        r.nodes,
                        r.links,
                        r.diameter,
                        r.converged.map_or("null".into(), num),
                        num(r.wall),
                        num(r.ctrl_bytes_per_node_s),
                        num(r.bytes_per_orig),
                        r.loops_at_end,
                        num(r.routes_pct)
                    )
                })
                .collect();
            let conv_s = summary(runs.iter().filter_map(|r| r.converged));
            conv.push(format!(
                "{{\"topology\":{},\"convergence_s\":{},\"runs\":[{}]}}",
                string(&net.name()),
                conv_s.map_or("null".into(), |s| s.json()),
                rs.join(",")
            ));
        }
        let mut cuts = Vec::new();
        for (net, name, runs) in &self.cuts {
            let rs: Vec<String> = runs
                .iter()
                .map(|r| {
                    format!(
                        "{{\"seed\":{},\"gap_s\":{},\"lost\":{}}}",
                        r.seed,
                        r.gap.map_or("null".into(), num),
                        r.lost
                    )
                })
                .collect();
            cuts.push(format!(
                "{{\"topology\":{},\"cut\":{},\"gap_s\":{},\"runs\":[{}]}}",
                string(&net.name()),
                string(name),
                summary(runs.iter().filter_map(|r| r.gap)).map_or("null".into(), |s| s.json()),
                rs.join(",")
            ));
        }
        format!(
            "{{\"bench\":\"sim\",\"wall_total_s\":{},\"convergence\":[{}],\"reroute\":[{}]}}\n",
            num(self.wall_total),
            conv.join(","),
            cuts.join(",")
        )
    }
}

fn med(v: impl Iterator<Item = f64>, prec: usize) -> String {
    summary(v).map_or("-".into(), |s| format!("{:.p$}", s.median, p = prec))
}

fn seed_range(seeds: impl Iterator<Item = u64>) -> String {
    let v: Vec<u64> = seeds.collect();
    match (v.first(), v.last()) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a}-{b}"),
        _ => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nets_build_their_topologies() {
        assert_eq!(Net::Grid(3, 3).topology(1).nodes.len(), 9);
        let a = Net::Rgg(40).topology(1);
        assert_eq!(a.nodes.len(), 40);
        assert!(a.is_connected());
        assert_eq!(a, Net::Rgg(40).topology(1));
        assert_eq!(Net::Rgg(250).name(), "rgg 250");
        assert_eq!(seed_range([1, 2, 3].into_iter()), "1-3");
        assert_eq!(seed_range([4].into_iter()), "4");
    }

    #[test]
    fn report_renders_text_and_json() {
        let r = Report {
            options: Some(Options::default()),
            conv: vec![(
                Net::Grid(3, 3),
                vec![ConvRun {
                    seed: 1,
                    nodes: 9,
                    links: 12,
                    diameter: 4,
                    converged: Some(10.0),
                    wall: 0.5,
                    ctrl_bytes_per_node_s: 1000.0,
                    bytes_per_orig: 300.0,
                    loops_at_end: 0,
                    routes_pct: 100.0,
                }],
            )],
            cuts: vec![(
                Net::Grid(3, 3),
                "down",
                vec![CutRun {
                    seed: 1,
                    gap: Some(0.05),
                    lost: 0,
                }],
            )],
            wall_total: 1.0,
        };
        let t = r.text();
        assert!(t.contains("grid 3x3") && t.contains("10.00 / 10.00 / 10.00"));
        assert!(t.contains("0.050 / 0.050 / 0.050"));
        let j = r.json();
        assert!(j.starts_with("{\"bench\":\"sim\""));
        assert!(j.contains("\"converged_s\":10"));
        assert!(j.contains("\"cut\":\"down\""));
    }
}

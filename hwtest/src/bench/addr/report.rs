//! The samples of `bench addr` and its tables.

use super::join::JoinSample;
use super::overhead::{exchange, SimNet, SimOnce};
use super::Options;
use crate::bench::table::{Summary, Table};

/// One throughput path's samples (one per iperf3 run).
#[derive(Debug, Clone)]
pub struct PathSamples {
    pub name: &'static str,
    pub what: &'static str,
    pub available: bool,
    pub mbps: Vec<f64>,
    /// meshd CPU seconds (all four routers of the path) per GB received.
    pub meshd_s_gb: Vec<f64>,
    /// boringtun CPU seconds (both ends) per GB received.
    pub other_s_gb: Vec<f64>,
    pub retransmits: Vec<f64>,
}

impl PathSamples {
    pub fn new(name: &'static str, what: &'static str) -> Self {
        PathSamples {
            name,
            what,
            available: true,
            mbps: Vec::new(),
            meshd_s_gb: Vec::new(),
            other_s_gb: Vec::new(),
            retransmits: Vec::new(),
        }
    }
}

/// One simulated network, with and without the hash TVLV, per seed.
#[derive(Debug, Clone)]
pub struct SimRow {
    pub net: SimNet,
    pub nodes: usize,
    pub without: Vec<f64>,
    pub with: Vec<f64>,
    pub extra: Vec<f64>,
    pub ogms: Vec<f64>,
    pub per_ogm: Vec<f64>,
    /// Mean over seeds of the mean hop count between nodes.
    pub mean_hops: f64,
    hops_sum: f64,
    /// One-time exchange bytes per node: originated, and with forwarding.
    pub exchange_own: f64,
    pub exchange_all: f64,
}

impl SimRow {
    pub fn new(net: SimNet) -> Self {
        SimRow {
            net,
            nodes: 0,
            without: Vec::new(),
            with: Vec::new(),
            extra: Vec::new(),
            ogms: Vec::new(),
            per_ogm: Vec::new(),
            mean_hops: 0.0,
            hops_sum: 0.0,
            exchange_own: 0.0,
            exchange_all: 0.0,
        }
    }

    pub fn push(&mut self, without: &SimOnce, with: &SimOnce) {
        self.nodes = with.nodes;
        self.without.push(without.bytes_per_node_s);
        self.with.push(with.bytes_per_node_s);
        let extra = with.bytes_per_node_s - without.bytes_per_node_s;
        self.extra.push(extra);
        self.ogms.push(with.ogms_per_node_s);
        self.per_ogm.push(extra / with.ogms_per_node_s.max(1e-9));
        self.hops_sum += with.mean_hops;
        self.mean_hops = self.hops_sum / self.with.len() as f64;
    }
}

/// Everything `bench addr` measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub options: Options,
    /// Joins of a new router (new namespaces, new keys).
    pub join: Vec<JoinSample>,
    /// Joins of the same router with new keys (same MACs).
    pub rekey: Vec<JoinSample>,
    pub tput: Vec<PathSamples>,
    /// L2 B/s per node on the mesh veths, per window.
    pub over_with: Vec<f64>,
    pub over_without: Vec<f64>,
    pub over_diff: Vec<f64>,
    pub sim: Vec<SimRow>,
    /// Parts not run and why (missing tools, no root).
    pub skipped: Vec<String>,
    pub errors: Vec<String>,
    pub wall_total: f64,
}

/// `min / median / max` ("-" without samples).
pub(crate) fn mmm(v: &[f64], prec: usize) -> String {
    Summary::of(v).map_or("-".into(), |s| s.fmt(prec))
}

pub(crate) fn median(v: &[f64]) -> Option<f64> {
    Summary::of(v).map(|s| s.median)
}

impl Report {
    pub fn new(options: Options) -> Self {
        Report {
            options,
            join: Vec::new(),
            rekey: Vec::new(),
            tput: Vec::new(),
            over_with: Vec::new(),
            over_without: Vec::new(),
            over_diff: Vec::new(),
            sim: Vec::new(),
            skipped: Vec::new(),
            errors: Vec::new(),
            wall_total: 0.0,
        }
    }

    /// The plain-text tables.
    pub fn text(&self) -> String {
        let o = &self.options;
        let mut out = String::from(
            "hwtest bench addr: the node layer in network namespaces and in the simulator\n\
             (min / median / max over runs; ratios of medians measured in the same run)\n",
        );
        if !self.join.is_empty() || !self.rekey.is_empty() {
            out.push_str(&format!(
                "\n1. Join at the end of the settled line r0..r3: seconds from r4's meshd start\n   \
                 (fresh state dir: new keys); new router: new namespaces, so new MACs ({} of {}\n   \
                 runs complete); re-keyed: the same r4 restarted, same MACs ({} of {})\n",
                self.join.len(),
                o.join_runs,
                self.rekey.len(),
                o.join_runs
            ));
            let mut t = Table::new(&["event", "new router", "re-keyed r4 (same MACs)"]);
            type Get = fn(&JoinSample) -> f64;
            let rows: [(&str, Get, usize); 6] = [
                ("r4's directory complete (r0..r3)", |s| s.dir_r4, 2),
                ("r0's directory has r4", |s| s.r0_has_r4, 2),
                ("c4's DHCPv4 lease (udhcpc loop from t=0)", |s| s.lease, 2),
                ("c4 pings c0 = join time", |s| s.ping, 2),
                ("  of which after the lease", |s| s.ping - s.lease, 2),
                ("r4's e2e handshake retries (count)", |s| s.hs_retries, 0),
            ];
            for (name, f, prec) in rows {
                let a: Vec<f64> = self.join.iter().map(f).collect();
                let b: Vec<f64> = self.rekey.iter().map(f).collect();
                t.row(vec![name.into(), mmm(&a, prec), mmm(&b, prec)]);
            }
            out.push_str(&t.render());
        }
        if self.tput.iter().any(|p| !p.mbps.is_empty()) {
            out.push_str(&format!(
                "\n2. Throughput: iperf3 TCP, 1 stream, {} s, client 0 -> client 3 across 3 hops\n   \
                 (mesh veths MTU 1532; paths interleaved, {} runs each)\n",
                o.iperf_secs, o.iperf_runs
            ));
            let mut t = Table::new(&[
                "path",
                "runs",
                "Mbit/s",
                "mesh0/this",
                "meshd CPU s/GB (4 routers)",
                "boringtun CPU s/GB",
                "retransmits",
            ]);
            let mesh = self.tput.first().and_then(|p| median(&p.mbps));
            for p in &self.tput {
                let ratio = match (mesh, median(&p.mbps)) {
                    (Some(m), Some(x)) if x > 0.0 => format!("{:.3}", m / x),
                    _ => "-".into(),
                };
                let runs = if p.available {
                    p.mbps.len().to_string()
                } else {
                    "skipped".into()
                };
                t.row(vec![
                    p.what.into(),
                    runs,
                    mmm(&p.mbps, 0),
                    ratio,
                    median(&p.meshd_s_gb).map_or("-".into(), |v| format!("{v:.2}")),
                    median(&p.other_s_gb).map_or("-".into(), |v| format!("{v:.2}")),
                    median(&p.retransmits).map_or("-".into(), |v| format!("{v:.0}")),
                ]);
            }
            out.push_str(&t.render());
        }
        if !self.over_diff.is_empty() {
            out.push_str(&format!(
                "\n3a. Announcement overhead in namespaces: L2 bytes/s per node sent on the mesh\n    \
                 veths, line of 5 with and without the node layer, the same {} windows of {:.0} s\n",
                self.over_diff.len(),
                o.overhead_secs
            ));
            let mut t = Table::new(&["line of 5", "windows", "B/s per node"]);
            let n = self.over_diff.len().to_string();
            t.row(vec![
                "meshd --state-dir --lan (node layer)".into(),
                n.clone(),
                mmm(&self.over_with, 1),
            ]);
            t.row(vec![
                "meshd without --state-dir".into(),
                n.clone(),
                mmm(&self.over_without, 1),
            ]);
            t.row(vec![
                "difference = the node layer's cost".into(),
                n,
                mmm(&self.over_diff, 1),
            ]);
            if let (Some(a), Some(b)) = (median(&self.over_with), median(&self.over_without)) {
                t.row(vec![
                    "ratio with / without (medians)".into(),
                    String::new(),
                    format!("{:.3}", a / b.max(1e-9)),
                ]);
            }
            out.push_str(&t.render());
        }
        if !self.sim.is_empty() {
            out.push_str(&self.sim_text());
        }
        crate::bench::table::push_footer(
            &mut out,
            &format!("{:.0}", self.wall_total),
            &self.skipped,
            &self.errors,
        );
        out
    }

    fn sim_text(&self) -> String {
        let o = &self.options;
        let mut out = format!(
            "\n3b. Simulator: OGM bytes/s per node (Ethernet header included) without and with\n    \
             meshd's 12-byte hash TVLV (0xa2 v1, 8-byte value) in every other second's OGMs; same seed\n    \
             for both, {} seed(s), {} simulated s, window from 10 s after convergence\n",
            o.sim_seeds, o.sim_secs
        );
        out.push_str("    (line 5 is the simulated twin of the namespace line in 3a)\n");
        let mut t = Table::new(&[
            "network",
            "nodes",
            "without B/s",
            "with B/s",
            "extra B/s per node",
            "OGMs sent/node/s",
            "extra B per OGM",
        ]);
        for r in &self.sim {
            t.row(vec![
                r.net.name(),
                r.nodes.to_string(),
                mmm(&r.without, 1),
                mmm(&r.with, 1),
                mmm(&r.extra, 1),
                median(&r.ogms).map_or("-".into(), |v| format!("{v:.2}")),
                median(&r.per_ogm).map_or("-".into(), |v| format!("{v:.1}")),
            ]);
        }
        out.push_str(&t.render());
        let e = exchange();
        out.push_str(&format!(
            "\n3c. One-time record exchange (computed from onion::announce): every node asks\n    \
             each of the N-1 others once and answers N-1 requests; request frame {} B\n    \
             (14 Ethernet + 10 UNICAST + 14 inner Ethernet + 4 TVLV + 4 digest; 60 padded), record\n    \
             frame {} B (a {}-byte record: one onion key, 2-character name; at most {} B)\n",
            e.request_frame, e.record_frame, e.record_len, e.max_record_frame
        ));
        let mut t = Table::new(&[
            "network",
            "nodes",
            "mean hops",
            "B per node originated",
            "B per node incl. forwarding",
            "= s of the extra OGM B/s",
        ]);
        for r in &self.sim {
            let secs = median(&r.extra)
                .filter(|x| *x > 0.0)
                .map_or("-".into(), |x| format!("{:.0}", r.exchange_all / x));
            t.row(vec![
                r.net.name(),
                r.nodes.to_string(),
                format!("{:.2}", r.mean_hops),
                format!("{:.0}", r.exchange_own),
                format!("{:.0}", r.exchange_all),
                secs,
            ]);
        }
        out.push_str(&t.render());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_every_table() {
        let mut r = Report::new(Options::default());
        r.join.push(JoinSample {
            dir_r4: 1.0,
            r0_has_r4: 1.5,
            lease: 1.2,
            ping: 2.0,
            hs_retries: 0.0,
        });
        let mut p = PathSamples::new("mesh0", "mesh0 path");
        p.mbps = vec![100.0, 200.0, 300.0];
        let mut q = PathSamples::new("bat0", "bat0 path");
        q.mbps = vec![400.0];
        let mut w = PathSamples::new("boringtun", "wg path");
        w.available = false;
        r.tput = vec![p, q, w];
        r.over_with = vec![300.0];
        r.over_without = vec![200.0];
        r.over_diff = vec![100.0];
        let mut s = SimRow::new(SimNet::Grid(3, 3));
        let once = |b| SimOnce {
            nodes: 9,
            bytes_per_node_s: b,
            ogms_per_node_s: 10.0,
            mean_hops: 2.0,
            converged: true,
        };
        s.push(&once(100.0), &once(300.0));
        r.sim.push(s);
        r.skipped.push("boringtun column: wg missing".into());
        let t = r.text();
        assert!(t.contains("0.80 / 0.80 / 0.80"), "{t}"); // ping - lease
        assert!(t.contains("0.500"), "{t}"); // 200 / 400
        assert!(t.contains("skipped"), "{t}");
        assert!(t.contains("100.0 / 100.0 / 100.0"), "{t}");
        assert!(t.contains("1.500"), "{t}");
        assert!(
            t.contains("200.0 / 200.0 / 200.0") && t.contains("20.0"),
            "{t}"
        );
        assert!(t.contains("SKIPPED boringtun column"), "{t}");
    }
}

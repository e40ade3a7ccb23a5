//! The tables and JSON of `bench netns`.

use super::grid::Daemon;
use super::{Report, Samples};
use crate::bench::table::{num, string, Summary, Table};

/// `min / median / max`, "never" for samples that timed out.
fn fmt_summary(v: &[f64], prec: usize) -> String {
    let Some(s) = Summary::of(v) else {
        return "-".into();
    };
    let f = |x: f64| {
        if x.is_finite() {
            format!("{x:.prec$}")
        } else {
            "never".into()
        }
    };
    format!("{} / {} / {}", f(s.min), f(s.median), f(s.max))
}

/// meshd's median over the reference's (`-` where undefined).
fn ratio(mesh: &[f64], reference: &[f64]) -> String {
    match (Summary::of(mesh), Summary::of(reference)) {
        (Some(m), Some(r)) if m.median.is_finite() && r.median.is_finite() && r.median > 0.0 => {
            format!("{:.3}", m.median / r.median)
        }
        _ => "-".into(),
    }
}

fn json_samples(v: &[f64]) -> String {
    let s = Summary::of(v).map_or("null".into(), |s| s.json());
    let all: Vec<String> = v.iter().map(|&x| num(x)).collect();
    format!("{{\"summary\":{s},\"samples\":[{}]}}", all.join(","))
}

type Metric = (&'static str, &'static str, usize, fn(&Samples) -> &Vec<f64>);

const METRICS: [Metric; 6] = [
    (
        "convergence: start -> first n00>n22 reply (s)",
        "convergence_s",
        2,
        |s| &s.conv,
    ),
    (
        "ping gap, carrier-down cut (s)",
        "gap_carrier_down_s",
        3,
        |s| &s.gap_down,
    ),
    ("ping gap, silent cut (s)", "gap_silent_s", 3, |s| {
        &s.gap_silent
    }),
    (
        "control: L2 B/s sent on n11's 4 links",
        "n11_tx_l2_bytes_per_s",
        0,
        |s| &s.tx_bps,
    ),
    (
        "control: packets/s sent by n11",
        "n11_tx_packets_per_s",
        1,
        |s| &s.tx_pps,
    ),
    (
        "RSS per daemon, median of 9 (MiB)",
        "rss_kib_median_of_nodes",
        2,
        |s| &s.rss_kib,
    ),
];

impl Report {
    fn get(&self, d: Daemon) -> Option<&Samples> {
        self.results.iter().find(|(x, _)| *x == d).map(|(_, s)| s)
    }

    /// The plain-text tables.
    pub fn text(&self) -> String {
        let o = &self.options;
        let mut out = format!(
            "hwtest bench netns: 3x3 grid of namespaces, {} run(s), min / median / max\n\n",
            o.runs
        );
        let mesh = self.get(Daemon::Meshd);
        let refs: Vec<Daemon> = [Daemon::Babeld, Daemon::Batmand]
            .into_iter()
            .filter(|d| mesh.is_some() && self.get(*d).is_some())
            .collect();
        let mut header = vec!["measurement".to_string()];
        header.extend(self.results.iter().map(|(d, _)| d.name().to_string()));
        header.extend(refs.iter().map(|d| format!("meshd/{}", d.name())));
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let mut t = Table::new(&header);
        for (name, _, prec, get) in METRICS {
            let scale = |v: &Vec<f64>| -> Vec<f64> {
                if name.contains("MiB") {
                    v.iter().map(|k| k / 1024.0).collect()
                } else {
                    v.clone()
                }
            };
            let mut row = vec![name.to_string()];
            row.extend(
                self.results
                    .iter()
                    .map(|(_, s)| fmt_summary(&scale(get(s)), prec)),
            );
            for r in &refs {
                row.push(ratio(
                    get(mesh.expect("meshd ran")),
                    get(self.get(*r).expect("ran")),
                ));
            }
            t.row(row);
        }
        out.push_str(&t.render());
        if let Some(m) = mesh.filter(|m| !m.tcp_mesh.is_empty()) {
            out.push('\n');
            let mut t = Table::new(&[
                &format!(
                    "iperf3 TCP, 1 stream, {} s, n00 -> n02 (2 hops)",
                    o.iperf_secs
                ),
                "Gbit/s",
            ]);
            t.row(vec![
                "meshd: bat0 to bat0 via n01".into(),
                fmt_summary(&m.tcp_mesh, 3),
            ]);
            t.row(vec![
                "kernel IPv4 forwarding, same veths".into(),
                fmt_summary(&m.tcp_kernel, 3),
            ]);
            t.row(vec![
                "ratio meshd / kernel (per run)".into(),
                fmt_summary(&m.tcp_ratio, 4),
            ]);
            out.push_str(&t.render());
        }
        out.push_str(&format!(
            "\nSamples: convergence twice per run (grids A and B), the rest once per run.\n\
             Ratios: meshd's median / the reference's median (below 1: meshd lower).\n\
             Gap: longest hole between replies (pings every 50 ms) from 1 s before the cut\n\
             of the 2nd link of the n00 -> n22 path until replies flowed 2 s again.\n\
             Control: all L2 bytes sent on n11's veths over {:.0} s after a {:.0} s settle.\n\
             meshd pings bat0 (10.99.0.9), babeld/batmand 10.255.0.22 from 10.255.0.0;\n\
             For meshd n00 and n22 have static neighbour entries for each other's bat0:\n\
             the figure is the mesh's convergence, not ARP's 1 s retry across it.\n\
             Wall clock of the whole bench: {:.0} s.\n",
            o.overhead_secs, o.settle_secs, self.wall_total
        ));
        for (d, s) in &self.results {
            for e in &s.errors {
                out.push_str(&format!("ERROR {}: {e}\n", d.name()));
            }
        }
        out
    }

    /// The same as JSON (samples included).
    pub fn json(&self) -> String {
        let mut ds = Vec::new();
        for (d, s) in &self.results {
            let mut f: Vec<String> = METRICS
                .iter()
                .map(|(_, key, _, get)| format!("{}:{}", string(key), json_samples(get(s))))
                .collect();
            f.push(format!(
                "\"lost_carrier_down\":{}",
                json_samples(&s.lost_down)
            ));
            f.push(format!("\"lost_silent\":{}", json_samples(&s.lost_silent)));
            if *d == Daemon::Meshd {
                f.push(format!("\"tcp_bat0_gbps\":{}", json_samples(&s.tcp_mesh)));
                f.push(format!(
                    "\"tcp_kernel_gbps\":{}",
                    json_samples(&s.tcp_kernel)
                ));
                f.push(format!(
                    "\"tcp_ratio_meshd_kernel\":{}",
                    json_samples(&s.tcp_ratio)
                ));
            }
            let errs: Vec<String> = s.errors.iter().map(|e| string(e)).collect();
            f.push(format!("\"errors\":[{}]", errs.join(",")));
            ds.push(format!("{}:{{{}}}", string(d.name()), f.join(",")));
        }
        format!(
            "{{\"bench\":\"netns\",\"runs\":{},\"settle_s\":{},\"overhead_s\":{},\"iperf_s\":{},\"wall_total_s\":{},\"daemons\":{{{}}}}}\n",
            self.options.runs,
            num(self.options.settle_secs),
            num(self.options.overhead_secs),
            self.options.iperf_secs,
            num(self.wall_total),
            ds.join(",")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::Options;
    use super::*;

    #[test]
    fn report_text_and_json() {
        let mesh = Samples {
            conv: vec![1.0, 2.0, 3.0],
            gap_down: vec![0.05, 0.05, f64::INFINITY],
            tx_bps: vec![500.0],
            tcp_mesh: vec![0.5],
            tcp_kernel: vec![10.0],
            tcp_ratio: vec![0.05],
            ..Samples::default()
        };
        let babel = Samples {
            conv: vec![8.0],
            gap_down: vec![10.0],
            tx_bps: vec![125.0],
            ..Samples::default()
        };
        let r = Report {
            options: Options::default(),
            results: vec![(Daemon::Meshd, mesh), (Daemon::Babeld, babel)],
            wall_total: 1.0,
        };
        let t = r.text();
        assert!(t.contains("meshd/babeld") && !t.contains("meshd/batmand"));
        assert!(t.contains("1.00 / 2.00 / 3.00"));
        assert!(t.contains("0.050 / 0.050 / never"));
        assert!(t.contains("0.250")); // convergence ratio 2 / 8
        assert!(t.contains("4.000")); // bytes ratio 500 / 125
        assert!(t.contains("0.0500 / 0.0500 / 0.0500"));
        let j = r.json();
        assert!(j.starts_with("{\"bench\":\"netns\""));
        assert!(j.contains("\"gap_carrier_down_s\":{\"summary\":{\"n\":3"));
        assert!(j.contains("null")); // the infinite gap
        assert!(j.contains("\"tcp_kernel_gbps\""));
        assert_eq!(ratio(&[1.0], &[]), "-");
        assert_eq!(fmt_summary(&[], 1), "-");
    }
}

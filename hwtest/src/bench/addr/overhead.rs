//! The identity announcement's cost: in namespaces (the node-layer line
//! of five against a line of five plain meshd, counted in the same
//! windows), in the simulator (with and without the 12-byte hash TVLV meshd
//! adds to every other second's OGMs) and computed (the one-time record
//! exchange).

use std::io;
use std::path::Path;
use std::time::Duration;

use batman::wire::{tvlv, unicast, TvlvRepr, TvlvType, ETH_HLEN};
use onion::announce::{
    HASH_LEN, MAX_RECORD_LEN, MIN_RECORD_LEN, REQUEST_LEN, TVLV_HASH, TVLV_VERSION,
};

use super::topo::{line_ifaces, link_line, other, tx_bytes, Router};
use crate::netns::{wait_for, Netns};
use crate::sim::{Geometric, LinkParams, Sim, SimRng, Topology};

/// Routers in each overhead line.
pub const ROUTERS: usize = 5;

/// p0..p4: meshd without the node layer (and without a soft interface),
/// the same line as the node-layer one.
pub struct PlainLine {
    pub routers: Vec<Router>,
}

impl PlainLine {
    pub fn build(meshd: &Path, work: &Path, timeout: f64) -> io::Result<PlainLine> {
        let mut routers = Vec::new();
        for i in 0..ROUTERS {
            routers.push(Router::new(&format!("p{i}"), meshd, work)?);
        }
        link_line(&routers)?;
        for (i, r) in routers.iter_mut().enumerate() {
            let mut a = vec!["daemon".to_string()];
            a.extend(line_ifaces(i, ROUTERS, false));
            r.start(&a)?;
        }
        for r in &routers {
            let all = wait_for(Duration::from_secs_f64(timeout), || {
                r.ctl("o")
                    .is_some_and(|o| o.matches("\"orig\"").count() >= ROUTERS - 1)
            });
            if all.is_none() {
                return Err(other(format!(
                    "{}: not all {} originators within {timeout} s",
                    r.ns.name,
                    ROUTERS - 1
                )));
            }
        }
        Ok(PlainLine { routers })
    }

    pub fn mesh_ifaces(&self) -> Vec<(&Netns, Vec<&'static str>)> {
        let last = self.routers.len() - 1;
        self.routers
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let ifs = match i {
                    0 => vec!["m1"],
                    i if i == last => vec!["m0"],
                    _ => vec!["m0", "m1"],
                };
                (&r.ns, ifs)
            })
            .collect()
    }
}

/// Sum of the tx bytes of every listed interface.
pub fn sum_tx(sets: &[(&Netns, Vec<&'static str>)]) -> io::Result<u64> {
    let mut s = 0;
    for (ns, ifs) in sets {
        s += tx_bytes(ns, ifs)?;
    }
    Ok(s)
}

/// The TVLV area meshd puts in every other own OGM: one hash TVLV (type
/// 0xa2, version 1, seqno's low 32 bits + 4-byte digest).
pub fn hash_tvlv_area() -> Vec<u8> {
    let mut out = Vec::new();
    TvlvRepr {
        tvlv_type: TvlvType::Unknown(TVLV_HASH),
        version: TVLV_VERSION,
        value: &[0x5a; HASH_LEN],
    }
    .append_to(&mut out);
    out
}

/// A simulated network of the overhead table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimNet {
    Line(usize),
    Grid(usize, usize),
    /// Random geometric radio mesh, mean degree ~10 (as `bench sim`).
    Rgg(usize),
}

impl SimNet {
    pub fn name(self) -> String {
        match self {
            SimNet::Line(n) => format!("line {n}"),
            SimNet::Grid(w, h) => format!("grid {w}x{h}"),
            SimNet::Rgg(n) => format!("rgg {n}"),
        }
    }

    pub fn topology(self, seed: u64) -> Topology {
        match self {
            SimNet::Line(n) => Topology::line(n, LinkParams::wired()),
            SimNet::Grid(w, h) => Topology::grid(w, h, LinkParams::wired()),
            SimNet::Rgg(n) => {
                let g = Geometric::with_degree(n, 10.0);
                let mut rng = SimRng::seed_from_u64(seed).fork(0x7090);
                Topology::random_geometric(&g, &mut rng)
                    .unwrap_or_else(|e| panic!("rgg {n}, seed {seed}: {e}"))
            }
        }
    }
}

/// One simulated run: OGM bytes and OGMs sent per node per second in the
/// window from 10 s after convergence (at the latest the last 30 s) to
/// the end.
#[derive(Debug, Clone, Copy)]
pub struct SimOnce {
    pub nodes: usize,
    pub bytes_per_node_s: f64,
    pub ogms_per_node_s: f64,
    pub mean_hops: f64,
    pub converged: bool,
}

pub fn sim_once(net: SimNet, seed: u64, secs: u64, with_hash: bool) -> SimOnce {
    let topo = net.topology(seed);
    let n = topo.nodes.len();
    let mean_hops = mean_hops(&topo);
    let mut sim = Sim::batman(topo, seed).expect("the core accepts the topology");
    // As meshd does (ident.rs, ogm_tvlvs_for_tick): the hash in the OGMs of
    // every other second.
    let area = hash_tvlv_area();
    let run_to = |sim: &mut Sim, t: batman::Instant| loop {
        let second = sim.elapsed().as_secs();
        let next = sim.at(Duration::from_secs(second + 1));
        if with_hash {
            let a = if second % 2 == 0 {
                area.clone()
            } else {
                Vec::new()
            };
            for i in 0..n {
                sim.node_mut(i)
                    .set_ogm_tvlvs(a.clone())
                    .expect("a valid TVLV area");
            }
        }
        if next >= t {
            sim.run_until(t);
            return;
        }
        sim.run_until(next);
    };
    let end = sim.at(Duration::from_secs(secs));
    let last30 = end - Duration::from_secs(30.min(secs / 2));
    let conv = sim.run_until_converged(last30);
    let from = conv.map_or(last30, |t| (t + Duration::from_secs(10)).min(last30));
    run_to(&mut sim, from);
    let ogms = |s: &Sim| -> u64 {
        (0..n)
            .map(|i| {
                let st = s.node(i).stats();
                st.own_ogm + st.fwd_ogm
            })
            .sum()
    };
    let (b0, o0) = (sim.total_ogm_bytes(), ogms(&sim));
    run_to(&mut sim, end);
    let (b1, o1) = (sim.total_ogm_bytes(), ogms(&sim));
    let w = end.saturating_since(from).as_secs_f64().max(1e-9);
    SimOnce {
        nodes: n,
        bytes_per_node_s: (b1 - b0) as f64 / n as f64 / w,
        ogms_per_node_s: (o1 - o0) as f64 / n as f64 / w,
        mean_hops,
        converged: conv.is_some(),
    }
}

/// Mean hop count over ordered pairs of distinct nodes.
pub fn mean_hops(t: &Topology) -> f64 {
    let n = t.nodes.len();
    if n < 2 {
        return 0.0;
    }
    let sum: usize = (0..n)
        .map(|s| {
            t.hops_from(s)
                .iter()
                .filter(|&&d| d != usize::MAX)
                .sum::<usize>()
        })
        .sum();
    sum as f64 / (n * (n - 1)) as f64
}

/// Frame sizes of the one-time record exchange (Ethernet header
/// included, no padding to 60 bytes, as the simulator and sysfs count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// ETH + batman UNICAST + inner Ethernet (meshd frame) + TVLV header +
    /// digest.
    pub request_frame: usize,
    /// A record with one onion key and a 2-character name (`r0`).
    pub record_len: usize,
    pub record_frame: usize,
    /// The largest record (two keys, a 32-character name).
    pub max_record_frame: usize,
}

pub fn exchange() -> Exchange {
    // meshd frames: batman UNICAST with an inner Ethernet header
    // (meshd/src/carrier.rs).
    let head = ETH_HLEN + unicast::HEADER_LEN + ETH_HLEN + tvlv::HEADER_LEN;
    let record_len = MIN_RECORD_LEN + 2;
    Exchange {
        request_frame: head + REQUEST_LEN,
        record_len,
        record_frame: head + record_len,
        max_record_frame: head + MAX_RECORD_LEN,
    }
}

/// Bytes per node for everyone learning everyone's record once: (sent as
/// originator of its N-1 requests and N-1 answers, all transmissions on
/// the way included at `hops` mean hops).
pub fn exchange_per_node(n: usize, hops: f64) -> (f64, f64) {
    let e = exchange();
    let own = (n.saturating_sub(1) * (e.request_frame + e.record_frame)) as f64;
    (own, own * hops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tvlv_and_exchange_sizes() {
        let a = hash_tvlv_area();
        assert_eq!(a.len(), 12);
        assert_eq!(&a[..4], &[0xa2, 1, 0, 8]);
        batman::wire::tvlv::check_area(&a).unwrap();
        let e = exchange();
        assert_eq!(
            (e.request_frame, e.record_len, e.record_frame),
            (46, 160, 202)
        );
        assert_eq!(exchange_per_node(5, 2.0), (992.0, 1984.0));
        let line = Topology::line(3, LinkParams::wired());
        assert!((mean_hops(&line) - 8.0 / 6.0).abs() < 1e-9);
    }

    #[test]
    fn sim_hash_costs_about_6_bytes_per_ogm() {
        let a = sim_once(SimNet::Line(3), 1, 40, false);
        let b = sim_once(SimNet::Line(3), 1, 40, true);
        assert!(a.converged && b.converged);
        let per_ogm = (b.bytes_per_node_s - a.bytes_per_node_s) / b.ogms_per_node_s;
        // 12 bytes in every other second's OGMs.
        assert!((3.0..=9.0).contains(&per_ogm), "{per_ogm} B per OGM");
    }
}

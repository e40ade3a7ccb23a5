//! The OGM flood of `bench size`: `K` fake one-hop neighbours that behave
//! as batman-adv neighbours do towards the node under test, and behind
//! them `N - K` more originators whose OGMs they forward. Pure: frames in,
//! frames out, built and parsed with the `batman` crate's wire reprs.
//!
//! ```text
//!                      +-- neighbour 0 --+-- originator K
//!   node under test ---+-- neighbour 1 --+-- originator K+1
//!     (one link)       +-- ...         --+-- ...            (all of them)
//!                      +-- neighbour K-1 +-- originator N-1
//! ```
//!
//! Every OGM interval each neighbour sends
//! - its own OGM (TTL 50, TQ 255, DIRECTLINK clear, its seqno + 1),
//! - the OGM of every originator behind it as batman-adv forwards one:
//!   TTL 49, `prev_sender` = the originator, TQ 225 (255 after one hop
//!   penalty of 30) for neighbour 0 and 15 less per further neighbour, so
//!   the node keeps up to `K` candidate next hops per originator and one
//!   clear best;
//!
//! aggregated as batman-adv aggregates (at most 512 bytes and 32 OGMs per
//! frame). Each OGM carries a TT TVLV announcing one client (the
//! originator's soft-interface MAC, ttvn 1, the change appended), as every
//! node with a `bat0` does. And each neighbour echoes the node's own OGMs
//! back at once (DIRECTLINK, TTL - 1, `prev_sender` = the node): that is
//! what makes it a bidirectional neighbour, without which multi-hop OGMs
//! are not accepted from it.

use batman::tt::entry_crc;
use batman::wire::tvlv_data::TT_OGM_DIFF;
use batman::wire::{
    OgmFlags, OgmIter, OgmPacket, OgmRepr, TtChange, TtRepr, TtVlan, TvlvData, ETHERTYPE_BATADV,
    ETH_HLEN, TQ_MAX,
};
use batman::Mac;

/// batman-adv's limits for one aggregate.
pub const MAX_AGGREGATION_BYTES: usize = batman::config::MAX_AGGREGATION_BYTES;
pub const MAX_AGGREGATION_PACKETS: usize = batman::config::MAX_AGGREGATION_PACKETS;

/// One Ethernet frame (broadcast, ethertype 0x4305) of the flood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub src: Mac,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The whole Ethernet frame: broadcast destination, `src`, 0x4305.
    pub fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(ETH_HLEN + self.payload.len());
        b.extend_from_slice(&Mac::BROADCAST.0);
        b.extend_from_slice(&self.src.0);
        b.extend_from_slice(&ETHERTYPE_BATADV.to_be_bytes());
        b.extend_from_slice(&self.payload);
        b
    }
}

/// `(dst, src, payload)` of an Ethernet frame with ethertype 0x4305.
pub fn split_frame(b: &[u8]) -> Option<(Mac, Mac, &[u8])> {
    if b.len() < ETH_HLEN || b[12..14] != ETHERTYPE_BATADV.to_be_bytes() {
        return None;
    }
    Some((
        Mac::from_bytes(&b[0..6]),
        Mac::from_bytes(&b[6..12]),
        &b[ETH_HLEN..],
    ))
}

/// Fake neighbour `k`: 02:ba:7a:fe:00:k.
pub fn neighbour_mac(k: usize) -> Mac {
    Mac([0x02, 0xba, 0x7a, 0xfe, (k >> 8) as u8, k as u8])
}

/// Originator `i` behind the neighbours: 02:ba:7a:fd:hi:lo.
pub fn behind_mac(i: usize) -> Mac {
    Mac([0x02, 0xba, 0x7a, 0xfd, (i >> 8) as u8, i as u8])
}

/// The client an originator announces (its soft interface): the same
/// address with 06 as first byte (locally administered, unicast).
pub fn client_mac(orig: Mac) -> Mac {
    let mut m = orig.0;
    m[0] = 0x06;
    Mac(m)
}

/// The TT TVLV of an originator with one client, table version 1, the
/// change appended (what batman-adv sends after its first commit).
pub fn tt_tvlv(orig: Mac) -> Vec<u8> {
    let client = client_mac(orig);
    TtRepr {
        flags: TT_OGM_DIFF,
        ttvn: 1,
        vlans: vec![TtVlan {
            crc: entry_crc(client, 0, 0),
            vid: 0,
        }],
        changes: vec![TtChange {
            flags: 0,
            addr: client,
            vid: 0,
        }],
    }
    .to_tvlv()
    .expect("one change fits a TVLV")
}

/// Pack OGMs into aggregates of at most `MAX_AGGREGATION_BYTES` and
/// `MAX_AGGREGATION_PACKETS` (an OGM larger than that goes alone).
pub fn aggregate(ogms: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut count = 0;
    for o in ogms {
        match out.last_mut() {
            Some(agg)
                if agg.len() + o.len() <= MAX_AGGREGATION_BYTES
                    && count < MAX_AGGREGATION_PACKETS =>
            {
                agg.extend_from_slice(o);
                count += 1;
            }
            _ => {
                out.push(o.clone());
                count = 1;
            }
        }
    }
    out
}

/// The flood's state: who is in it and the next seqno.
#[derive(Debug, Clone)]
pub struct Flood {
    neighbours: Vec<Mac>,
    behind: Vec<Mac>,
    /// OGM bytes per originator (seqno patched each round).
    tvlvs: Vec<Vec<u8>>,
    seqno: u32,
}

impl Flood {
    /// `originators` in all (at least 1), `neighbours` of them one hop
    /// away (at most `originators`, at least 1).
    pub fn new(originators: usize, neighbours: usize, first_seqno: u32) -> Flood {
        let originators = originators.max(1);
        let k = neighbours.clamp(1, originators);
        let neighbours: Vec<Mac> = (0..k).map(neighbour_mac).collect();
        let behind: Vec<Mac> = (0..originators - k).map(behind_mac).collect();
        let tvlvs = neighbours
            .iter()
            .chain(&behind)
            .map(|m| tt_tvlv(*m))
            .collect();
        Flood {
            neighbours,
            behind,
            tvlvs,
            seqno: first_seqno,
        }
    }

    pub fn neighbours(&self) -> &[Mac] {
        &self.neighbours
    }

    /// Every originator of the flood, neighbours first.
    pub fn originators(&self) -> Vec<Mac> {
        self.neighbours
            .iter()
            .chain(&self.behind)
            .copied()
            .collect()
    }

    /// TQ with which neighbour `k` forwards the OGMs behind it.
    pub fn forward_tq(k: usize) -> u8 {
        let first = TQ_MAX - batman::config::HOP_PENALTY;
        first.saturating_sub((15 * k).min(first as usize - 1) as u8)
    }

    /// The frames of one OGM interval; the seqno moves on by one.
    pub fn round(&mut self) -> Vec<Frame> {
        let ttl = batman::config::TTL;
        let seqno = self.seqno;
        self.seqno = self.seqno.wrapping_add(1);
        let k_count = self.neighbours.len();
        let mut frames = Vec::new();
        for (k, &n) in self.neighbours.iter().enumerate() {
            let mut ogms = Vec::with_capacity(1 + self.behind.len());
            let own = OgmRepr {
                ttl,
                flags: OgmFlags(0),
                seqno,
                orig: n,
                prev_sender: n,
                tq: TQ_MAX,
                tvlv_len: 0,
            };
            ogms.push(own.to_vec(&self.tvlvs[k]));
            for (i, &o) in self.behind.iter().enumerate() {
                let fwd = OgmRepr {
                    ttl: ttl - 1,
                    flags: OgmFlags(0),
                    seqno,
                    orig: o,
                    prev_sender: o,
                    tq: Flood::forward_tq(k),
                    tvlv_len: 0,
                };
                ogms.push(fwd.to_vec(&self.tvlvs[k_count + i]));
            }
            frames.extend(
                aggregate(&ogms)
                    .into_iter()
                    .map(|payload| Frame { src: n, payload }),
            );
        }
        frames
    }
}

/// What every fake neighbour sends back for a frame from `src` when the
/// node under test is `node`: an echo of each of the node's own OGMs in
/// it (only those the node sent itself: `src` = `orig` = `prev_sender`),
/// one frame per neighbour.
pub fn echoes(neighbours: &[Mac], node: Mac, src: Mac, payload: &[u8]) -> Vec<Frame> {
    if src != node {
        return Vec::new();
    }
    let mut own = Vec::new();
    for p in OgmIter::new(payload).flatten() {
        if p.orig() == node && p.prev_sender() == node && p.ttl() > 1 {
            let mut b = p.into_inner().to_vec();
            let mut q = OgmPacket::new_unchecked(&mut b[..]);
            let ttl = q.ttl();
            q.set_ttl(ttl - 1);
            q.set_flags(OgmFlags(q.flags().0).with(OgmFlags::DIRECTLINK));
            q.set_tq(TQ_MAX - batman::config::HOP_PENALTY);
            own.push(b);
        }
    }
    if own.is_empty() {
        return Vec::new();
    }
    let aggs = aggregate(&own);
    neighbours
        .iter()
        .flat_map(|&n| {
            aggs.iter().map(move |a| Frame {
                src: n,
                payload: a.clone(),
            })
        })
        .collect()
}

/// What a batman core knew after the flood ran against it in-process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreResult {
    /// Originators with a route.
    pub routed: usize,
    pub tt_global: usize,
    pub memory: batman::api::MemoryUsage,
}

/// Run the flood against a `batman::Node` in this process on a virtual
/// clock for `secs` seconds (the same frames the netns flood sends, the
/// node's transmits answered by [`echoes`] at once).
pub fn run_core(originators: usize, neighbours: usize, secs: u64) -> CoreResult {
    use batman::{Config, IfaceConfig, Instant, Node};
    let node_mac = Mac([0x02, 0xba, 0x7a, 0x00, 0x00, 0x01]);
    let rng = crate::sim::SimRng::seed_from_u64(originators as u64);
    let mut node = Node::new(Config::default(), rng, Instant::ZERO).expect("default config");
    let iface = node
        .add_iface(Instant::ZERO, IfaceConfig::wired(node_mac))
        .expect("one interface");
    let mut flood = Flood::new(originators, neighbours, 1000);
    let end = Instant::from_millis(secs * 1000);
    let mut next_round = Instant::from_millis(500);
    let mut now = Instant::ZERO;
    while now < end {
        let wake = node.poll_timeout().unwrap_or(end).min(next_round).min(end);
        now = wake.max(now);
        node.handle_timeout(now);
        if now >= next_round {
            for f in flood.round() {
                node.handle_frame(now, iface, f.src, Mac::BROADCAST, &f.payload);
            }
            next_round = next_round + core::time::Duration::from_secs(1);
        }
        loop {
            let mut answers = Vec::new();
            while let Some(t) = node.poll_transmit() {
                answers.extend(echoes(flood.neighbours(), node_mac, t.src, &t.payload));
            }
            if answers.is_empty() {
                break;
            }
            for f in answers {
                node.handle_frame(now, iface, f.src, Mac::BROADCAST, &f.payload);
            }
        }
        while node.poll_event().is_some() {}
        if now >= end {
            break;
        }
    }
    CoreResult {
        routed: node
            .originators()
            .iter()
            .filter(|o| o.router.is_some())
            .count(),
        tt_global: node.tt_global().len(),
        memory: node.memory_usage(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_frames_parse_back() {
        let mut f = Flood::new(10, 3, 7);
        let frames = f.round();
        // 3 neighbours x (1 own + 7 forwarded OGMs of 52 bytes): 416 bytes
        // each, one aggregate per neighbour.
        assert_eq!(frames.len(), 3);
        let mut seen = Vec::new();
        for (k, fr) in frames.iter().enumerate() {
            assert_eq!(fr.src, neighbour_mac(k));
            assert!(fr.payload.len() <= MAX_AGGREGATION_BYTES);
            let ogms: Vec<_> = OgmIter::new(&fr.payload).map(|p| p.unwrap()).collect();
            assert_eq!(ogms.len(), 8);
            for p in &ogms {
                let r = OgmRepr::parse(p).unwrap();
                assert_eq!(r.seqno, 7);
                let t = batman::wire::TvlvIter::new(p.tvlv())
                    .next()
                    .unwrap()
                    .unwrap();
                let tt = batman::wire::TtData::parse(t.value).unwrap();
                assert_eq!(tt.ttvn, 1);
                assert_eq!(tt.changes().next().unwrap().addr, client_mac(r.orig));
                seen.push((r.orig, r.prev_sender, r.ttl, r.tq));
            }
        }
        assert!(seen.contains(&(neighbour_mac(1), neighbour_mac(1), 50, 255)));
        assert!(seen.contains(&(behind_mac(6), behind_mac(6), 49, 210)));
        assert_eq!(f.originators().len(), 10);
        assert_eq!(f.round()[0].payload[4..8], 8u32.to_be_bytes());
        // Big floods are cut into aggregates of at most 512 bytes.
        let frames = Flood::new(250, 4, 0).round();
        assert!(frames.iter().all(|f| f.payload.len() <= 512));
        let n: usize = frames
            .iter()
            .map(|f| OgmIter::new(&f.payload).count())
            .sum();
        assert_eq!(n, 4 * 247);
    }

    #[test]
    fn echoes_only_the_nodes_own_ogms() {
        let node = Mac([2, 0, 0, 0, 0, 1]);
        let other = Mac([2, 0, 0, 0, 0, 9]);
        let own = OgmRepr {
            ttl: 50,
            flags: OgmFlags(0),
            seqno: 77,
            orig: node,
            prev_sender: node,
            tq: 255,
            tvlv_len: 0,
        };
        let fwd = OgmRepr {
            orig: other,
            prev_sender: neighbour_mac(0),
            ttl: 48,
            ..own
        };
        let mut payload = fwd.to_vec(&[]);
        payload.extend(own.to_vec(&tt_tvlv(node)));
        let n = [neighbour_mac(0), neighbour_mac(1)];
        let e = echoes(&n, node, node, &payload);
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].src, neighbour_mac(1));
        let p = OgmPacket::new_checked(&e[0].payload[..]).unwrap();
        let r = OgmRepr::parse(&p).unwrap();
        assert_eq!(
            (r.orig, r.prev_sender, r.ttl, r.seqno),
            (node, node, 49, 77)
        );
        assert!(r.flags.contains(OgmFlags::DIRECTLINK));
        assert_eq!(p.tvlv(), &tt_tvlv(node)[..]);
        // Frames from someone else, or with no own OGM: nothing.
        assert!(echoes(&n, node, other, &payload).is_empty());
        assert!(echoes(&n, node, node, &fwd.to_vec(&[])).is_empty());
    }

    #[test]
    fn ethernet_frames() {
        let f = Frame {
            src: neighbour_mac(3),
            payload: vec![0, 15, 1],
        };
        let b = f.bytes();
        assert_eq!(b.len(), 17);
        assert_eq!(
            split_frame(&b),
            Some((Mac::BROADCAST, neighbour_mac(3), &[0u8, 15, 1][..]))
        );
        let mut ip = b.clone();
        ip[12] = 0x08;
        assert_eq!(split_frame(&ip), None);
        assert_eq!(split_frame(&b[..10]), None);
    }

    #[test]
    fn aggregates_respect_both_limits() {
        let big = vec![vec![0u8; 300]; 3];
        assert_eq!(aggregate(&big).len(), 3);
        let small = vec![vec![0u8; 10]; 40];
        let a = aggregate(&small);
        assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), vec![320, 80]);
        assert!(aggregate(&[]).is_empty());
    }

    /// The flood is what a batman core accepts: every originator gets a
    /// route and its client lands in the global translation table.
    #[test]
    fn a_core_learns_every_originator() {
        for (n, k) in [(9, 4), (250, 4), (3, 1)] {
            let r = run_core(n, k, 15);
            assert_eq!(r.routed, n, "{n} originators, {k} neighbours: {r:?}");
            assert_eq!(r.tt_global, n, "{n} originators: {r:?}");
            assert_eq!(r.memory.neighbours, k);
            assert_eq!(r.memory.originators, n);
        }
    }
}

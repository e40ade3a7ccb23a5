//! Cores wired together in memory (no sockets): a minimal discrete-event
//! loop with a 1 ms link delay, enough to test the protocol end to end.
//! The full simulator (loss, jitter, topologies, benches) lives in hwtest.

use crate::api::*;
use crate::time::Instant;
use crate::wire::{Mac, OgmFlags, OgmRepr};
use crate::{Config, Node};
use core::time::Duration;
use std::collections::BTreeMap;

/// xorshift64*: deterministic randomness for tests.
pub(crate) struct TestRng(u64);

impl rand_core::RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = self.next_u32() as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

pub(crate) fn mac(n: usize, i: usize) -> Mac {
    Mac([2, 0, 0, 0, n as u8, i as u8])
}

/// A wire: (node, iface) <-> (node, iface), passing frames when true.
type Wire = ((usize, IfaceId), (usize, IfaceId), bool);
/// A frame in flight: (to node, its iface, src, dst, payload).
type Flight = (usize, IfaceId, Mac, Mac, Vec<u8>);

pub(crate) struct Net {
    pub nodes: Vec<Node<TestRng>>,
    pub wires: Vec<Wire>,
    pub now: Instant,
    inflight: BTreeMap<(Instant, u64), Flight>,
    seq: u64,
    pub events: Vec<(usize, Event)>,
}

impl Net {
    pub fn new(n: usize, seed: u64) -> Self {
        let nodes = (0..n)
            .map(|i| {
                let rng = TestRng(seed.wrapping_mul(31).wrapping_add(i as u64 + 1) | 1);
                Node::new(Config::default(), rng, Instant::ZERO).unwrap()
            })
            .collect();
        Net {
            nodes,
            wires: Vec::new(),
            now: Instant::ZERO,
            inflight: BTreeMap::new(),
            seq: 0,
            events: Vec::new(),
        }
    }

    /// Connect a and b with a new point-to-point wire (a new interface each).
    pub fn wire(&mut self, a: usize, b: usize) -> usize {
        let ia = self.add_iface(a);
        let ib = self.add_iface(b);
        self.wires.push(((a, ia), (b, ib), true));
        self.wires.len() - 1
    }

    pub fn add_iface(&mut self, n: usize) -> IfaceId {
        let k = self
            .wires
            .iter()
            .filter(|w| w.0 .0 == n || w.1 .0 == n)
            .count();
        let now = self.now;
        self.nodes[n]
            .add_iface(now, IfaceConfig::wired(mac(n, k)))
            .unwrap()
    }

    pub fn primary(&self, n: usize) -> Mac {
        self.nodes[n].primary_mac().unwrap()
    }

    /// The frames delivered to node `n`'s soft interface so far.
    pub fn delivered_to(&self, n: usize) -> Vec<&Vec<u8>> {
        self.events
            .iter()
            .filter_map(|(m, e)| match e {
                Event::Deliver { frame, .. } if *m == n => Some(frame),
                _ => None,
            })
            .collect()
    }

    fn drain(&mut self, n: usize) {
        while let Some(t) = self.nodes[n].poll_transmit() {
            for (a, b, up) in &self.wires {
                let peer = if (a.0, a.1) == (n, t.iface) {
                    b
                } else if (b.0, b.1) == (n, t.iface) {
                    a
                } else {
                    continue;
                };
                if *up {
                    self.seq += 1;
                    self.inflight.insert(
                        (self.now + Duration::from_millis(1), self.seq),
                        (peer.0, peer.1, t.src, t.dst, t.payload.clone()),
                    );
                }
            }
        }
        while let Some(e) = self.nodes[n].poll_event() {
            self.events.push((n, e));
        }
    }

    /// Run until `until`, checking next-hop loops after every step when
    /// `check_loops`.
    pub fn run(&mut self, until: Instant, check_loops: bool) {
        loop {
            let frame_t = self.inflight.keys().next().map(|k| k.0);
            let timer = self
                .nodes
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.poll_timeout().map(|t| (t, i)))
                .min();
            let t = match (frame_t, timer) {
                (Some(f), Some((tt, _))) => f.min(tt),
                (Some(f), None) => f,
                (None, Some((tt, _))) => tt,
                (None, None) => break,
            };
            if t > until {
                break;
            }
            self.now = t;
            if frame_t == Some(t) {
                let (_, (n, iface, src, dst, payload)) = self.inflight.pop_first().unwrap();
                self.nodes[n].handle_frame(t, iface, src, dst, &payload);
                self.drain(n);
            } else {
                let (_, n) = timer.unwrap();
                self.nodes[n].handle_timeout(t);
                self.drain(n);
            }
            if check_loops {
                self.assert_loop_free();
            }
        }
        self.now = until;
    }

    fn owner(&self, m: Mac) -> Option<usize> {
        self.nodes.iter().position(|n| n.is_own_mac(m))
    }

    pub fn assert_loop_free(&self) {
        for d in 0..self.nodes.len() {
            let dest = self.primary(d);
            for s in 0..self.nodes.len() {
                let mut at = s;
                let mut seen = vec![false; self.nodes.len()];
                while at != d {
                    assert!(
                        !seen[at],
                        "loop towards {dest} from node {s} at {}",
                        self.now
                    );
                    seen[at] = true;
                    match self.nodes[at]
                        .next_hop(dest)
                        .and_then(|h| self.owner(h.mac))
                    {
                        Some(n) => at = n,
                        None => break,
                    }
                }
            }
        }
    }

    pub fn all_routes(&self) -> bool {
        (0..self.nodes.len()).all(|s| {
            (0..self.nodes.len())
                .all(|d| s == d || self.nodes[s].next_hop(self.primary(d)).is_some())
        })
    }
}

fn secs(s: u64) -> Instant {
    Instant::from_millis(s * 1000)
}

#[test]
fn two_nodes_become_neighbours_and_route() {
    let mut net = Net::new(2, 1);
    net.wire(0, 1);
    net.run(secs(4), true);
    let h = net.nodes[0].next_hop(net.primary(1)).expect("route");
    assert_eq!(h.mac, net.primary(1));
    assert!(h.tq > 0);
    let n = net.nodes[0].neighbours();
    assert_eq!(n.len(), 1);
    assert!(n[0].tq_own > 0, "echoes counted");
    assert!(net.nodes[0].stats().own_ogm >= 3);
}

/// Carrier loss on the path: with a neighbour strictly closer to the
/// destination (feasible) the route moves in the same step; with only a
/// neighbour as far as we are (infeasible: it might route through us) the
/// node waits for the destination's next seqno, at most about one OGM
/// interval plus propagation, and never loops meanwhile.
#[test]
fn carrier_loss_reroutes_at_once_or_within_one_interval() {
    // 0 - 1 - 2, 0 - 5 - 2 (equal), and a longer detour 0 - 3 - 4 - 2
    let mut net = Net::new(6, 7);
    let w01 = net.wire(0, 1);
    net.wire(1, 2);
    let w05 = net.wire(0, 5);
    net.wire(5, 2);
    net.wire(0, 3);
    net.wire(3, 4);
    net.wire(4, 2);
    net.run(secs(10), true);
    assert!(net.all_routes());
    let d = net.primary(2);
    let cut = |net: &mut Net, w: usize| {
        let ((na, ia), (nb, ib), _) = net.wires[w];
        net.wires[w].2 = false;
        let now = net.now;
        net.nodes[na].set_carrier(now, ia, false);
        net.nodes[nb].set_carrier(now, ib, false);
    };
    let first = net.owner(net.nodes[0].next_hop(d).unwrap().mac).unwrap();
    assert!(first == 1 || first == 5, "a shortest path first");
    let (this, other) = if first == 1 { (w01, 5) } else { (w05, 1) };
    cut(&mut net, this);
    let h = net.nodes[0].next_hop(d).expect("rerouted in the same step");
    assert_eq!(net.owner(h.mac), Some(other));
    net.run(secs(12), true);
    // now cut the other short path: only the detour through 3 is left,
    // and 3 is as far from 2 as 0 is.
    cut(&mut net, if other == 1 { w01 } else { w05 });
    let t0 = net.now;
    let mut moved = None;
    for step in 1..=30 {
        net.run(t0 + Duration::from_millis(50 * step), true);
        if net.nodes[0].next_hop(d).and_then(|h| net.owner(h.mac)) == Some(3) {
            moved = Some(50 * step);
            break;
        }
    }
    let ms = moved.expect("detour taken");
    assert!(ms <= 1200, "took {ms} ms");
    net.run(secs(16), true);
    assert!(net.all_routes());
}

#[test]
fn silent_cut_reroutes_within_a_few_intervals_and_stays_loop_free() {
    // a ring of 6: two paths between 0 and 3
    let mut net = Net::new(6, 3);
    let mut w = Vec::new();
    for i in 0..6 {
        w.push(net.wire(i, (i + 1) % 6));
    }
    net.run(secs(10), true);
    assert!(net.all_routes());
    let d = net.primary(3);
    let first = net.owner(net.nodes[0].next_hop(d).unwrap().mac).unwrap();
    // silently cut the first hop of the current path
    let cut = if first == 1 { w[0] } else { w[5] };
    net.wires[cut].2 = false;
    let t0 = net.now;
    let mut moved = None;
    for step in 1..=100 {
        net.run(t0 + Duration::from_millis(100 * step), true);
        let h = net.nodes[0].next_hop(d).and_then(|h| net.owner(h.mac));
        if h.is_some() && h != Some(first) {
            moved = Some(step * 100);
            break;
        }
    }
    let ms = moved.expect("route moved after a silent cut");
    assert!(ms <= 5000, "took {ms} ms");
}

#[test]
fn hostile_frames_are_counted_not_fatal() {
    let mut net = Net::new(2, 9);
    net.wire(0, 1);
    net.run(secs(3), false);
    let now = net.now;
    let peer = net.primary(1);
    let n = &mut net.nodes[0];
    let ifc = IfaceId(0);
    let src = mac(9, 9);
    let before = *n.stats();
    n.handle_frame(now, ifc, src, Mac::BROADCAST, &[]);
    n.handle_frame(now, ifc, src, Mac::BROADCAST, &[0x00, 14]);
    n.handle_frame(now, ifc, src, Mac::BROADCAST, &[0x00, 15, 1, 2]);
    n.handle_frame(now, ifc, src, Mac::BROADCAST, &[0x99, 15, 0, 0]);
    let mut big = OgmRepr {
        ttl: 5,
        flags: OgmFlags(0),
        seqno: 1,
        orig: mac(7, 7),
        prev_sender: mac(7, 7),
        tq: 255,
        tvlv_len: 0,
    }
    .to_vec(&[]);
    big[22] = 0xff; // tvlv_len past the end
    n.handle_frame(now, ifc, src, Mac::BROADCAST, &big);
    let s = n.stats();
    assert_eq!(s.drop_malformed - before.drop_malformed, 3);
    assert_eq!(s.drop_version - before.drop_version, 1);
    assert_eq!(s.drop_unknown_type - before.drop_unknown_type, 1);
    assert!(n.next_hop(peer).is_some());
}

#[test]
fn forged_originator_flood_stays_under_the_cap() {
    let mut net = Net::new(2, 11);
    net.wire(0, 1);
    net.run(secs(5), false);
    let real = net.primary(1);
    let bound = net.nodes[0].memory_bound();
    let now = net.now;
    for i in 0..20_000u32 {
        let b = i.to_be_bytes();
        let fake = Mac([2, 0xee, b[0], b[1], b[2], b[3]]);
        let ogm = OgmRepr {
            ttl: 50,
            flags: OgmFlags(0),
            seqno: i,
            orig: fake,
            prev_sender: fake,
            tq: 255,
            tvlv_len: 0,
        }
        .to_vec(&[]);
        net.nodes[0].handle_frame(now, IfaceId(0), fake, Mac::BROADCAST, &ogm);
        while net.nodes[0].poll_transmit().is_some() {}
        while net.nodes[0].poll_event().is_some() {}
    }
    let m = net.nodes[0].memory_usage();
    assert!(m.originators <= net.nodes[0].config().limits.max_originators);
    assert!(m.bytes <= bound, "{} > {}", m.bytes, bound);
    assert_eq!(net.nodes[0].next_hop(real).map(|h| h.mac), Some(real));
}

#[test]
fn same_seed_same_run() {
    let run = |seed| {
        let mut net = Net::new(4, seed);
        for i in 0..4 {
            net.wire(i, (i + 1) % 4);
        }
        net.run(secs(6), false);
        net.nodes.iter().map(|n| *n.stats()).collect::<Vec<_>>()
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

fn frame(tag: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[2, 0xaa, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&[2, 0xbb, 0, 0, 0, 1]);
    f[12] = 0x08;
    f[14] = tag;
    f
}

fn line(n: usize, seed: u64) -> Net {
    let mut net = Net::new(n, seed);
    for i in 0..n - 1 {
        net.wire(i, i + 1);
    }
    net.run(secs(8), true);
    assert!(net.all_routes());
    net
}

#[test]
fn one_hop_originators_are_told_apart_even_through_a_secondary_interface() {
    let net = line(4, 5);
    // Node 2 reaches node 1 through node 1's second interface: the next
    // hop's MAC is not node 1's originator, yet node 1 is one hop away.
    let p1 = net.primary(1);
    assert_ne!(net.nodes[2].next_hop(p1).unwrap().mac, p1);
    assert!(net.nodes[2].is_one_hop(p1));
    assert!(net.nodes[2].is_one_hop(net.primary(3)));
    assert!(!net.nodes[2].is_one_hop(net.primary(0)));
    assert!(net.nodes[0].is_one_hop(p1));
    assert!(!net.nodes[0].is_one_hop(net.primary(2)));
    assert!(!net.nodes[0].is_one_hop(net.primary(3)));
    assert!(!net.nodes[0].is_one_hop(Mac([2, 9, 9, 9, 9, 9])));
}

#[test]
fn unicast_crosses_the_mesh_and_ttl_limits_it() {
    let mut net = line(4, 21);
    let (now, d) = (net.now, net.primary(3));
    let fwd = |net: &Net, n: usize| net.nodes[n].stats().fwd_unicast;
    let (f1, f2) = (fwd(&net, 1), fwd(&net, 2));
    net.nodes[0].send_unicast(now, d, 0, &frame(7)).unwrap();
    net.run(now + Duration::from_millis(50), false);
    let got: Vec<_> = net
        .events
        .iter()
        .filter_map(|(n, e)| match e {
            Event::Deliver { kind, frame, .. } => Some((*n, *kind, frame[14])),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![(3, DeliverKind::Unicast, 7)]);
    assert_eq!(fwd(&net, 1) - f1, 1);
    assert_eq!(fwd(&net, 2) - f2, 1);
    assert!(matches!(
        net.nodes[0].send_unicast(now, d, 0, &[1, 2, 3]),
        Err(SendError::BadFrame)
    ));
    assert!(matches!(
        net.nodes[0].send_unicast(now, mac(99, 0), 0, &frame(1)),
        Err(SendError::NoRoute(_))
    ));
}

#[test]
fn broadcast_reaches_every_node_once() {
    let mut net = Net::new(4, 23);
    for i in 0..4 {
        net.wire(i, (i + 1) % 4); // a ring: every broadcast arrives twice
    }
    net.run(secs(8), true);
    let now = net.now;
    net.events.clear();
    net.nodes[0].send_broadcast(now, &frame(9)).unwrap();
    net.run(now + Duration::from_millis(50), false);
    let mut got: Vec<usize> = net
        .events
        .iter()
        .filter_map(|(n, e)| match e {
            Event::Deliver {
                kind: DeliverKind::Broadcast,
                orig,
                ..
            } => {
                assert_eq!(*orig, Some(net.primary(0)));
                Some(*n)
            }
            _ => None,
        })
        .collect();
    got.sort();
    assert_eq!(got, vec![1, 2, 3]);
    let dups: u64 = net.nodes.iter().map(|n| n.stats().drop_duplicate).sum();
    assert!(dups >= 1, "the ring's second copy is a duplicate");
}

#[test]
fn icmp_ping_with_route_record_and_traceroute() {
    let mut net = line(4, 25);
    let (now, d) = (net.now, net.primary(3));
    let req = IcmpRequest {
        dst: d,
        seqno: 1,
        uid: 3,
        ttl: 50,
        record_route: true,
    };
    net.nodes[0].send_icmp(now, req).unwrap();
    // traceroute probe with TTL 2: the second hop answers TTL exceeded
    let probe = IcmpRequest {
        seqno: 2,
        ttl: 2,
        record_route: false,
        ..req
    };
    net.nodes[0].send_icmp(now, probe).unwrap();
    net.run(now + Duration::from_millis(50), false);
    let replies: Vec<IcmpReply> = net
        .events
        .iter()
        .filter_map(|(n, e)| match e {
            Event::Icmp(r) if *n == 0 => Some(r.clone()),
            _ => None,
        })
        .collect();
    let echo = replies.iter().find(|r| r.seqno == 1).expect("echo reply");
    assert_eq!(echo.msg_type, crate::wire::IcmpMsgType::EchoReply);
    assert_eq!(echo.from, d);
    assert_eq!(echo.uid, 3);
    // out: 0's iface, then each receiving interface (1, 2, 3), back: 2, 1, 0
    assert_eq!(echo.route.len(), 7);
    assert!(net.nodes[0].is_own_mac(echo.route[0]));
    assert!(net.nodes[3].is_own_mac(echo.route[3]));
    assert!(net.nodes[0].is_own_mac(echo.route[6]));
    let tr = replies.iter().find(|r| r.seqno == 2).expect("ttl exceeded");
    assert_eq!(tr.msg_type, crate::wire::IcmpMsgType::TtlExceeded);
    assert_eq!(tr.from, net.primary(2));
}

#[test]
fn unicast_tvlv_is_delivered_as_an_event() {
    let mut net = line(3, 27);
    let (now, d) = (net.now, net.primary(2));
    let area = [0xa0, 1, 0, 2, 0xbe, 0xef];
    net.nodes[0].send_unicast_tvlv(now, d, &area).unwrap();
    assert!(net.nodes[0]
        .send_unicast_tvlv(now, d, &[0xa0, 1, 0, 9])
        .is_err());
    net.run(now + Duration::from_millis(50), false);
    let src = net.primary(0);
    assert!(net.events.iter().any(|(n, e)| *n == 2
        && *e
            == Event::Tvlv {
                orig: src,
                unicast: true,
                data: area.to_vec()
            }));
}

/// A square D(0) - Y(1) - X(2) - Z(3) - D. X reaches D at two hops either
/// way; take a seed where it goes through Y. Cut D-Y by carrier: Y's only
/// other neighbour X is not closer to D (infeasible), so Y has no route and
/// withdraws it; X, told so, moves to Z (closer, feasible) within the
/// withdrawal's one-hop delivery instead of an OGM round.
#[test]
fn withdrawal_moves_a_neighbour_off_a_dead_route_at_once() {
    let (mut net, dy) = (1..50)
        .find_map(|seed| {
            let mut net = Net::new(4, seed);
            let dy = net.wire(0, 1);
            net.wire(1, 2);
            net.wire(2, 3);
            net.wire(3, 0);
            net.run(secs(10), true);
            let via = net.nodes[2]
                .next_hop(net.primary(0))
                .and_then(|h| net.owner(h.mac));
            (via == Some(1)).then_some((net, dy))
        })
        .expect("some seed routes X through Y");
    let d = net.primary(0);
    let ((_, ia), (_, ib), _) = net.wires[dy];
    net.wires[dy].2 = false;
    let now = net.now;
    net.nodes[0].set_carrier(now, ia, false);
    net.nodes[1].set_carrier(now, ib, false);
    assert!(net.nodes[1].next_hop(d).is_none(), "Y: no feasible route");
    assert!(net.nodes[1].stats().tx_withdrawals >= 1);
    net.run(now + Duration::from_millis(5), true);
    assert!(net.nodes[2].stats().rx_withdrawals >= 1);
    let h = net.nodes[2].next_hop(d).and_then(|h| net.owner(h.mac));
    assert_eq!(h, Some(3), "X moved to Z at once");
    // and Y gets a route back through X by the next round
    net.run(now + Duration::from_millis(1300), true);
    assert_eq!(
        net.nodes[1].next_hop(d).and_then(|h| net.owner(h.mac)),
        Some(2)
    );
}

#[test]
fn withdrawal_values_are_checked() {
    assert!(crate::withdraw::parse(&[1, 2, 3]).is_err());
    let v: Vec<Mac> = crate::withdraw::parse(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2])
        .unwrap()
        .collect();
    assert_eq!(v, vec![mac(0, 1), mac(0, 2)]);
}

#[test]
fn memory_bound_is_tight_enough_for_a_router() {
    let mut net = Net::new(1, 3);
    net.add_iface(0);
    let b = net.nodes[0].memory_bound();
    // Default limits, one 1500-byte interface: a few MiB, well inside the
    // 4 MiB RSS budget's order of magnitude and a 64 MB router.
    assert!(b < 8 << 20, "bound {b} bytes");
    let m = net.nodes[0].memory_usage().bytes;
    assert!(m <= b);
}

/// A frame too big for the 1500-byte links crosses two hops in batman-adv
/// fragments (relays forward them untouched) and is delivered whole.
#[test]
fn big_unicast_is_fragmented_and_reassembled() {
    let mut net = line(3, 31);
    let (now, d) = (net.now, net.primary(2));
    let mut big = frame(5);
    big.resize(3000, 0);
    for (i, b) in big.iter_mut().enumerate().skip(15) {
        *b = (i % 253) as u8;
    }
    let relayed = net.nodes[1].stats().fwd_unicast;
    net.nodes[0].send_unicast(now, d, 0, &big).unwrap();
    assert_eq!(net.nodes[0].stats().tx_frag, 3);
    net.run(now + Duration::from_millis(50), false);
    let got = net.delivered_to(2);
    assert_eq!(got, vec![&big]);
    assert_eq!(
        net.nodes[1].stats().fwd_unicast - relayed,
        3,
        "relay forwards fragments"
    );
    assert_eq!(net.nodes[2].stats().frag_merged, 1);
    let mut huge = frame(6);
    huge.resize(30_000, 0);
    assert!(matches!(
        net.nodes[0].send_unicast(now, d, 0, &huge),
        Err(SendError::TooBig { .. })
    ));
}

/// A relay whose next link is narrower than the packet fragments it (as
/// batman-adv does when forwarding); the destination gets it whole.
#[test]
fn a_relay_fragments_for_a_narrower_next_link() {
    let mut net = Net::new(3, 41);
    net.wire(0, 1);
    // 1 -> 2 over a 1000-byte link.
    let now = net.now;
    let narrow = |n: usize, k: usize| IfaceConfig {
        mtu: 1000,
        ..IfaceConfig::wired(mac(n, k))
    };
    let i1 = net.nodes[1].add_iface(now, narrow(1, 1)).unwrap();
    let i2 = net.nodes[2].add_iface(now, narrow(2, 0)).unwrap();
    net.wires.push(((1, i1), (2, i2), true));
    net.run(secs(8), true);
    let (now, d) = (net.now, net.primary(2));
    let mut f = frame(7);
    f.resize(1400, 0);
    for (i, b) in f.iter_mut().enumerate().skip(15) {
        *b = (i % 251) as u8;
    }
    net.nodes[0].send_unicast(now, d, 0, &f).unwrap();
    assert_eq!(
        net.nodes[0].stats().tx_frag,
        0,
        "the first link is wide enough"
    );
    net.events.clear();
    net.run(now + Duration::from_millis(50), false);
    assert_eq!(net.nodes[1].stats().fwd_fragmented, 1);
    assert_eq!(net.nodes[1].stats().tx_frag, 2);
    let got = net.delivered_to(2);
    assert_eq!(got, vec![&f]);
    assert_eq!(net.nodes[2].stats().frag_merged, 1);
}

/// Translation tables: each end announces its soft interface's MAC; after
/// a few OGMs the other end knows where it lives, and a frame to it goes
/// as UNICAST (not flooded) and arrives; a frame to an unknown MAC floods.
#[test]
fn translation_tables_turn_floods_into_unicast() {
    let mut net = Net::new(3, 33);
    net.wire(0, 1);
    net.wire(1, 2);
    let (s0, s2) = (Mac([2, 0x5f, 0, 0, 0, 0]), Mac([2, 0x5f, 0, 0, 0, 2]));
    net.nodes[0].set_soft_mac(Instant::ZERO, s0);
    net.nodes[2].set_soft_mac(Instant::ZERO, s2);
    net.run(secs(8), true);
    assert!(net.nodes[0]
        .tt_global()
        .iter()
        .any(|(m, _, o)| *m == s2 && *o == net.primary(2)));
    assert!(net.nodes[2]
        .tt_global()
        .iter()
        .any(|(m, _, o)| *m == s0 && *o == net.primary(0)));
    assert!(
        net.nodes[1].tt_global().len() >= 2,
        "the relay learns both too"
    );
    let now = net.now;
    let mut f = frame(3);
    f[0..6].copy_from_slice(&s2.0);
    f[6..12].copy_from_slice(&s0.0);
    let (u, b) = (
        net.nodes[0].stats().tx_unicast,
        net.nodes[0].stats().tx_bcast,
    );
    net.nodes[0].send_frame(now, &f).unwrap();
    assert_eq!(net.nodes[0].stats().tx_unicast, u + 1);
    let mut g = f.clone();
    g[0..6].copy_from_slice(&[2, 0x77, 0, 0, 0, 9]); // nobody announced it
    net.nodes[0].send_frame(now, &g).unwrap();
    assert_eq!(net.nodes[0].stats().tx_bcast, b + 1);
    net.run(now + Duration::from_millis(50), false);
    assert!(net.events.iter().any(|(n, e)| *n == 2
        && matches!(e, Event::Deliver { kind: DeliverKind::Unicast, frame, .. } if frame == &f)));
    // a LAN client behind node 2 is learned from its frames and announced
    let c = Mac([2, 0xcc, 0, 0, 0, 1]);
    let mut h = frame(4);
    h[0..6].copy_from_slice(&s0.0);
    h[6..12].copy_from_slice(&c.0);
    net.nodes[2].send_frame(now, &h).unwrap();
    net.run(now + Duration::from_millis(3000), false);
    assert!(net.nodes[0]
        .tt_global()
        .iter()
        .any(|(m, _, o)| *m == c && *o == net.primary(2)));
}

#[test]
fn gateway_announcements_are_listed_and_withdrawn() {
    use crate::wire::tvlv_data::GwData;
    let mut net = line(3, 33);
    let g = GwData {
        bandwidth_down: 100,
        bandwidth_up: 20,
    };
    net.nodes[2].set_gateway(Some(g));
    assert_eq!(net.nodes[2].gateway(), Some(g));
    let t = net.now + Duration::from_secs(3);
    net.run(t, false);
    let gws = net.nodes[0].gateways();
    assert_eq!(gws.len(), 1, "{gws:?}");
    assert_eq!(gws[0].orig, net.primary(2));
    assert_eq!((gws[0].bandwidth_down, gws[0].bandwidth_up), (100, 20));
    assert_eq!(gws[0].router.map(|r| r.mac), Some(net.primary(1)));
    // The GW TVLV is the core's own: no TVLV event for the upper layers.
    assert!(!net
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::Tvlv { unicast: false, .. })));
    // A zero bandwidth is not a gateway; None withdraws at the next OGM.
    net.nodes[2].set_gateway(Some(GwData {
        bandwidth_down: 0,
        bandwidth_up: 5,
    }));
    assert_eq!(net.nodes[2].gateway(), None);
    let t = net.now + Duration::from_secs(3);
    net.run(t, false);
    assert!(net.nodes[0].gateways().is_empty());
    assert!(net.nodes[1].gateways().is_empty());
}

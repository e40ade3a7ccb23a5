//! Engines wired together in memory with a virtual clock: two, three and
//! seven nodes; every cell any node sends is recorded as a link observer
//! would see it.

use std::collections::{HashSet, VecDeque};
use std::net::Ipv6Addr;

use super::msg::MAX_PACKET;
use super::select::{pick_relays, Candidate};
use super::*;
use crate::cell::CELL_LEN;
use crate::identity::test_rng::Counter;
use crate::identity::Identity;
use crate::pseudo;

/// One node: its engine and what it handed to its TUN.
struct Node {
    eng: Onion,
    id: NodeId,
    orig: Mac,
    onion: [u8; 32],
    delivered: Vec<(Vec<u8>, Option<NodeId>)>,
    built: Vec<(NodeId, u64)>,
    failed: Vec<&'static str>,
}

/// A cell on the air: from, to, bytes.
type Frame = (Mac, Mac, Vec<u8>);
/// Which frames to drop on the way.
type Filter = Box<dyn FnMut(&Frame) -> bool>;

struct Net {
    nodes: Vec<Node>,
    now: u64,
    rng: Counter,
    /// Every cell sent, in order.
    wire: Vec<Frame>,
    in_flight: VecDeque<Frame>,
    /// Nodes that are gone: cells to them vanish, they do nothing.
    dead: HashSet<usize>,
    /// Direct neighbours (for path selection): pairs of indexes.
    links: Vec<(usize, usize)>,
    /// Frames matching this are dropped on the way (after recording).
    filter: Option<Filter>,
}

const T0: u64 = 1_000_000;

impl Net {
    fn new(n: usize, cfg: Config) -> Net {
        let mut rng = Counter(0x5eed);
        let nodes = (0..n)
            .map(|i| {
                let ident = Identity::generate(&mut rng);
                let key = crate::OnionKey::generate(&ident, &mut rng, 0, 1 << 40);
                let orig = [2, 0, 0, 0, 0x10, i as u8];
                Node {
                    onion: key.public(),
                    eng: Onion::new(orig, ident.id(), vec![key], cfg.clone()),
                    id: ident.id(),
                    orig,
                    delivered: Vec::new(),
                    built: Vec::new(),
                    failed: Vec::new(),
                }
            })
            .collect();
        // A line by default: i -- i+1.
        let links = (1..n).map(|i| (i - 1, i)).collect();
        Net {
            nodes,
            now: T0,
            rng,
            wire: Vec::new(),
            in_flight: VecDeque::new(),
            dead: HashSet::new(),
            links,
            filter: None,
        }
    }

    fn hop(&self, i: usize) -> PathHop {
        let n = &self.nodes[i];
        PathHop {
            id: n.id,
            orig: n.orig,
            onion: n.onion,
        }
    }

    fn index_of(&self, orig: Mac) -> usize {
        self.nodes
            .iter()
            .position(|n| n.orig == orig)
            .expect("known")
    }

    fn candidates(&self, me: usize) -> Vec<Candidate> {
        (0..self.nodes.len())
            .map(|i| Candidate {
                hop: self.hop(i),
                neighbour: self.links.contains(&(me, i)) || self.links.contains(&(i, me)),
            })
            .collect()
    }

    /// Move cells and events until nothing moves.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                while let Some((to, cell)) = self.nodes[i].eng.poll_transmit() {
                    moved = true;
                    if self.dead.contains(&i) {
                        continue;
                    }
                    let f = (self.nodes[i].orig, to, cell.to_vec());
                    self.wire.push(f.clone());
                    self.in_flight.push_back(f);
                }
                while let Some(ev) = self.nodes[i].eng.poll_event() {
                    moved = true;
                    match ev {
                        Event::Deliver { packet, from } => {
                            self.nodes[i].delivered.push((packet, from))
                        }
                        Event::NeedPath { dest, avoid } => {
                            let cands = self.candidates(i);
                            let me = self.nodes[i].id;
                            let n = self.nodes[i].eng.config().relays;
                            let d = cands.iter().find(|c| c.hop.id == dest).unwrap().hop.clone();
                            match pick_relays(&mut self.rng, &cands, &me, &dest, n, &avoid) {
                                Ok(r) => self.nodes[i]
                                    .eng
                                    .build(self.now, &mut self.rng, d, r)
                                    .unwrap(),
                                Err(_) => self.nodes[i].eng.no_path(self.now, dest),
                            }
                        }
                        Event::Built { dest, ms, .. } => self.nodes[i].built.push((dest, ms)),
                        Event::Failed { why, .. } => self.nodes[i].failed.push(why),
                    }
                }
            }
            while let Some(f) = self.in_flight.pop_front() {
                moved = true;
                if let Some(filter) = self.filter.as_mut() {
                    if filter(&f) {
                        continue;
                    }
                }
                let to = self.index_of(f.1);
                if self.dead.contains(&to) {
                    continue;
                }
                let now = self.now;
                self.nodes[to]
                    .eng
                    .handle_cell(now, &mut self.rng, f.0, &f.2);
            }
            if !moved {
                return;
            }
        }
    }

    /// Let `ms` pass in steps of 50 ms, with timers.
    fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now += 50;
            for i in 0..self.nodes.len() {
                if !self.dead.contains(&i) {
                    let now = self.now;
                    self.nodes[i].eng.handle_timeout(now, &mut self.rng);
                }
            }
            self.pump();
        }
    }

    fn send(&mut self, from: usize, to: usize, packet: &[u8]) -> Result<(), SendError> {
        let dest = self.nodes[to].id;
        let now = self.now;
        let r = self.nodes[from]
            .eng
            .send_packet(now, &mut self.rng, dest, packet);
        self.pump();
        r
    }

    fn reply(&mut self, at: usize, packet: &[u8]) -> Result<(), SendError> {
        let now = self.now;
        let r = self.nodes[at].eng.reply_packet(now, packet);
        self.pump();
        r
    }
}

fn addr(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// A UDP/IPv6 packet with a correct checksum.
fn udp(src: Ipv6Addr, dst: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut p = vec![0u8; 40 + len];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    p[40..42].copy_from_slice(&4000u16.to_be_bytes());
    p[42..44].copy_from_slice(&5000u16.to_be_bytes());
    p[44..46].copy_from_slice(&(len as u16).to_be_bytes());
    p[48..].copy_from_slice(payload);
    let c = udp_checksum(&p);
    p[46..48].copy_from_slice(&c.to_be_bytes());
    p
}

/// The UDP checksum computed from scratch (0 in the field while summing).
fn udp_checksum(p: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    };
    add(&p[8..40]);
    let len = (p.len() - 40) as u32;
    add(&len.to_be_bytes());
    add(&[0, 0, 0, 17]);
    let mut l4 = p[40..].to_vec();
    l4[6] = 0;
    l4[7] = 0;
    add(&l4);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    match !(sum as u16) {
        0 => 0xffff,
        c => c,
    }
}

fn checksum_ok(p: &[u8]) -> bool {
    udp_checksum(p) == u16::from_be_bytes([p[46], p[47]])
}

const A_LAN: &str = "fd11:1111:1111:1111::100";
const B_LAN: &str = "fd22:2222:2222:2222::200";

/// Send `marker` from node `a` to node `b` and answer it; returns the
/// pseudonym `b` saw.
fn round_trip(net: &mut Net, a: usize, b: usize, marker: &[u8]) -> Ipv6Addr {
    let n0 = net.nodes[b].delivered.len();
    net.send(a, b, &udp(addr(A_LAN), addr(B_LAN), marker))
        .unwrap();
    net.advance(100);
    let (pkt, from) = net.nodes[b].delivered[n0].clone();
    assert_eq!(from, None, "the destination does not learn the client");
    assert!(checksum_ok(&pkt), "checksum fixed at the destination");
    let seen = pseudo::source(&pkt).unwrap();
    assert!(pseudo::is_pseudonym(&seen), "{seen}");
    assert_eq!(pseudo::destination(&pkt).unwrap(), addr(B_LAN));
    assert_eq!(&pkt[48..], marker);
    // The reply goes to the pseudonym and comes back to A_LAN.
    let m0 = net.nodes[a].delivered.len();
    let mut answer = marker.to_vec();
    answer.reverse();
    net.reply(b, &udp(addr(B_LAN), seen, &answer)).unwrap();
    let (back, from) = net.nodes[a].delivered[m0].clone();
    assert_eq!(from, Some(net.nodes[b].id));
    assert_eq!(pseudo::destination(&back).unwrap(), addr(A_LAN));
    assert_eq!(pseudo::source(&back).unwrap(), addr(B_LAN));
    assert!(checksum_ok(&back), "checksum fixed at the client");
    assert_eq!(&back[48..], &answer[..]);
    seen
}

fn cfg(relays: usize) -> Config {
    Config {
        relays,
        ..Config::default()
    }
}

#[test]
fn two_nodes_a_circuit_straight_to_the_destination() {
    let mut net = Net::new(2, cfg(0));
    let p1 = round_trip(&mut net, 0, 1, b"hello over one hop");
    let p2 = round_trip(&mut net, 0, 1, b"again");
    assert_eq!(p1, p2, "one pseudonym per flow and circuit");
    assert_eq!(net.nodes[0].built.len(), 1);
    let c = net.nodes[0].eng.circuits(net.now);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].state, "ready");
    assert_eq!(c[0].hops, vec![net.nodes[1].id]);
    assert!(net.wire.iter().all(|f| f.2.len() == CELL_LEN));
}

#[test]
fn three_nodes_through_one_relay_which_holds_only_counts() {
    let mut net = Net::new(3, cfg(1));
    // Path 0 -> 1 -> 2 (1 is the only candidate).
    round_trip(&mut net, 0, 2, b"via the relay");
    let r = net.nodes[1].eng.relay_counts();
    assert_eq!((r.relaying, r.ending, r.groups), (1, 0, 0));
    let d = net.nodes[2].eng.relay_counts();
    assert_eq!((d.relaying, d.ending, d.groups, d.pseudonyms), (0, 1, 1, 1));
    assert!(net.nodes[1].eng.circuits(net.now).is_empty());
    // The relay read the EXTEND itself (it was the end then).
    assert_eq!(net.nodes[1].eng.stats().relayed_fwd, 2, "BIND, DATA");
    assert_eq!(net.nodes[1].eng.stats().relayed_bwd, 2, "BOUND, DATA");
    // The destination's pseudonyms are per source: a second LAN host of
    // the client gets another one.
    net.send(
        0,
        2,
        &udp(addr("fd11:1111:1111:1111::101"), addr(B_LAN), b"x"),
    )
    .unwrap();
    let (p, _) = net.nodes[2].delivered.last().unwrap().clone();
    let first = pseudo::source(&net.nodes[2].delivered[0].0).unwrap();
    assert_ne!(pseudo::source(&p).unwrap(), first);
}

/// Seven nodes in a line, 3 relays: all of 1..=5 are candidates but at
/// most one of them may be 0's neighbour (1).
fn seven() -> Net {
    let mut net = Net::new(7, cfg(3));
    net.links = vec![
        (0, 1),
        (1, 2),
        (2, 3),
        (3, 4),
        (4, 5),
        (5, 6),
        (1, 3),
        (2, 4),
    ];
    net
}

#[test]
fn seven_nodes_three_relays_both_ways_and_ids_differ_per_link() {
    let mut net = seven();
    round_trip(&mut net, 0, 6, b"seven nodes");
    let c = &net.nodes[0].eng.circuits(net.now)[0];
    assert_eq!(c.hops.len(), 4);
    assert_eq!(c.hops[3], net.nodes[6].id);
    // The circuit's cells: one id per link, none repeated across links.
    let mut ids_per_link: std::collections::HashMap<(Mac, Mac), HashSet<[u8; 4]>> =
        Default::default();
    for (from, to, cell) in &net.wire {
        let (a, b) = if from < to {
            (*from, *to)
        } else {
            (*to, *from)
        };
        ids_per_link
            .entry((a, b))
            .or_default()
            .insert(cell[..4].try_into().unwrap());
    }
    assert_eq!(
        ids_per_link.len(),
        4,
        "four links: client, 2 relay-relay, to dest"
    );
    let all: Vec<_> = ids_per_link.values().flatten().collect();
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(
        ids_per_link.values().map(|s| s.len()).collect::<Vec<_>>(),
        vec![1; 4]
    );
    assert_eq!(distinct.len(), 4);
    // Relays in the path keep one circuit each, and only counts show.
    let relays: Vec<usize> = c.hops[..3]
        .iter()
        .map(|id| net.nodes.iter().position(|n| n.id == *id).unwrap())
        .collect();
    let neighbours = relays.iter().filter(|&&r| r == 1).count();
    assert!(neighbours <= 1);
    for r in relays {
        assert_eq!(net.nodes[r].eng.relay_counts().relaying, 1);
        assert!(net.nodes[r].delivered.is_empty());
    }
}

#[test]
fn a_payload_never_appears_on_the_wire_and_cells_have_no_constant_bytes() {
    let mut net = seven();
    let marker = [0xabu8; 64];
    round_trip(&mut net, 0, 6, &marker);
    for i in 0..40u8 {
        let mut m = marker.to_vec();
        m[0] = i;
        net.send(0, 6, &udp(addr(A_LAN), addr(B_LAN), &m)).unwrap();
    }
    net.advance(100);
    let a_lan = addr(A_LAN).octets();
    let b_lan = addr(B_LAN).octets();
    let needle = &marker[1..17];
    let mut by_link: std::collections::HashMap<(Mac, Mac), Vec<&Vec<u8>>> = Default::default();
    for (from, to, cell) in &net.wire {
        assert_eq!(cell.len(), CELL_LEN);
        for w in cell.windows(16) {
            assert!(
                w != needle && w != a_lan && w != b_lan,
                "plaintext on the wire"
            );
        }
        by_link.entry((*from, *to)).or_default().push(cell);
    }
    // On each link direction with many cells, no byte after the circuit
    // id is the same in every cell.
    for cells in by_link.values().filter(|c| c.len() >= 20) {
        for pos in 4..CELL_LEN {
            let first = cells[0][pos];
            assert!(
                cells.iter().any(|c| c[pos] != first),
                "byte {pos} constant over {} cells",
                cells.len()
            );
        }
    }
}

#[test]
fn cells_look_the_same_at_every_position() {
    // Byte statistics of the cells each hop receives forward: the slot
    // region and the payload region have the mean of uniform bytes at
    // every position of the circuit (client -> r1 -> r2 -> r3 -> dest).
    let mut net = seven();
    round_trip(&mut net, 0, 6, b"warm up");
    let start = net.wire.len();
    for i in 0..200u16 {
        let mut m = vec![0u8; 1000];
        m[..2].copy_from_slice(&i.to_be_bytes());
        net.send(0, 6, &udp(addr(A_LAN), addr(B_LAN), &m)).unwrap();
    }
    let mut hops: Vec<Mac> = vec![net.nodes[0].orig];
    hops.extend(
        net.nodes[0].eng.circuits(net.now)[0]
            .hops
            .iter()
            .map(|id| net.nodes.iter().find(|n| n.id == *id).unwrap().orig),
    );
    for w in hops.windows(2) {
        let cells: Vec<&Vec<u8>> = net.wire[start..]
            .iter()
            .filter(|f| f.0 == w[0] && f.1 == w[1])
            .map(|f| &f.2)
            .collect();
        assert_eq!(cells.len(), 200);
        for (lo, hi) in [(4, 4 + 168), (4 + 168, CELL_LEN)] {
            let n: u64 = cells.len() as u64 * (hi - lo) as u64;
            let sum: u64 = cells
                .iter()
                .map(|c| c[lo..hi].iter().map(|&b| u64::from(b)).sum::<u64>())
                .sum();
            let mean = sum as f64 / n as f64;
            assert!((125.0..130.0).contains(&mean), "mean {mean} at {lo}..{hi}");
        }
    }
}

#[test]
fn tampered_cells_are_dropped_at_the_next_hop_in_both_directions() {
    let mut net = seven();
    round_trip(&mut net, 0, 6, b"ok");
    for pos in [4usize, 11, 12 + 16, 100, 171, 172, 800, CELL_LEN - 1] {
        // Forward: flip a bit in the client's cell to its first hop.
        let client = net.nodes[0].orig;
        let delivered = net.nodes[6].delivered.len();
        let drops = |net: &Net| -> u64 {
            net.nodes
                .iter()
                .map(|n| n.eng.stats().drop_fwd_auth + n.eng.stats().drop_fwd_replay)
                .sum()
        };
        let auth0 = drops(&net);
        let mut flipped = false;
        net.filter = Some(Box::new(move |f: &Frame| {
            f.0 == client && !flipped && {
                flipped = true;
                true
            }
        }));
        net.send(0, 6, &udp(addr(A_LAN), addr(B_LAN), b"tamper me"))
            .unwrap();
        let (from, to, mut cell) = net.wire.last().unwrap().clone();
        net.filter = None;
        cell[pos] ^= 0x01;
        let i = net.index_of(to);
        let now = net.now;
        net.nodes[i].eng.handle_cell(now, &mut net.rng, from, &cell);
        net.pump();
        // A changed nonce may also look like a replay: dropped either way.
        let auth1 = drops(&net);
        assert_eq!(auth1, auth0 + 1, "byte {pos}");
        assert_eq!(net.nodes[6].delivered.len(), delivered);
    }
    // Backward: flip a bit in the cell the client receives.
    let seen = pseudo::source(&net.nodes[6].delivered[0].0).unwrap();
    let client = net.nodes[0].orig;
    net.filter = Some(Box::new(move |f: &Frame| f.1 == client));
    net.reply(6, &udp(addr(B_LAN), seen, b"back")).unwrap();
    net.filter = None;
    let (from, to, cell) = net.wire.last().unwrap().clone();
    assert_eq!(to, client);
    for pos in [4usize, 11, 30, 171, 172, 900, CELL_LEN - 1] {
        let mut bad = cell.clone();
        bad[pos] ^= 0x80;
        let before = net.nodes[0].eng.stats().drop_bwd_auth;
        let now = net.now;
        net.nodes[0].eng.handle_cell(now, &mut net.rng, from, &bad);
        assert_eq!(
            net.nodes[0].eng.stats().drop_bwd_auth,
            before + 1,
            "byte {pos}"
        );
    }
    let n = net.nodes[0].delivered.len();
    let now = net.now;
    net.nodes[0].eng.handle_cell(now, &mut net.rng, from, &cell);
    net.pump();
    assert_eq!(
        net.nodes[0].delivered.len(),
        n + 1,
        "the untouched cell still passes"
    );
}

#[test]
fn replayed_cells_are_dropped_reordered_ones_pass() {
    let mut net = seven();
    round_trip(&mut net, 0, 6, b"ok");
    let client = net.nodes[0].orig;
    // Hold back the client's next 5 cells, deliver them in reverse, then
    // replay them all.
    net.filter = Some(Box::new(move |f: &Frame| f.0 == client));
    let start = net.wire.len();
    for i in 0..5u8 {
        net.send(0, 6, &udp(addr(A_LAN), addr(B_LAN), &[i; 20]))
            .unwrap();
    }
    net.filter = None;
    let held: Vec<Frame> = net.wire[start..].to_vec();
    assert_eq!(held.len(), 5);
    let d0 = net.nodes[6].delivered.len();
    for f in held.iter().rev() {
        let i = net.index_of(f.1);
        let now = net.now;
        net.nodes[i].eng.handle_cell(now, &mut net.rng, f.0, &f.2);
        net.pump();
    }
    assert_eq!(net.nodes[6].delivered.len(), d0 + 5);
    let first: Vec<u8> = net.nodes[6].delivered[d0..]
        .iter()
        .map(|(p, _)| p[48])
        .collect();
    assert_eq!(first, vec![4, 3, 2, 1, 0]);
    let r0: u64 = net
        .nodes
        .iter()
        .map(|n| n.eng.stats().drop_fwd_replay)
        .sum();
    for f in &held {
        let i = net.index_of(f.1);
        let now = net.now;
        net.nodes[i].eng.handle_cell(now, &mut net.rng, f.0, &f.2);
        net.pump();
    }
    let r1: u64 = net
        .nodes
        .iter()
        .map(|n| n.eng.stats().drop_fwd_replay)
        .sum();
    assert_eq!(r1, r0 + 5);
    assert_eq!(net.nodes[6].delivered.len(), d0 + 5);
    // Backward replay: the client refuses a cell it already took.
    let seen = pseudo::source(&net.nodes[6].delivered[0].0).unwrap();
    net.reply(6, &udp(addr(B_LAN), seen, b"once")).unwrap();
    let f = net.wire.last().unwrap().clone();
    assert_eq!(f.1, client);
    let n = net.nodes[0].delivered.len();
    let now = net.now;
    net.nodes[0].eng.handle_cell(now, &mut net.rng, f.0, &f.2);
    assert_eq!(net.nodes[0].delivered.len(), n);
    assert_eq!(net.nodes[0].eng.stats().drop_bwd_replay, 1);
}

#[test]
fn truncated_and_unknown_cells_are_dropped_and_counted_without_state() {
    let mut net = Net::new(3, cfg(1));
    round_trip(&mut net, 0, 2, b"ok");
    let relay = 1;
    let from = net.nodes[0].orig;
    let good = net
        .wire
        .iter()
        .find(|f| f.0 == from)
        .map(|f| f.2.clone())
        .unwrap();
    let now = net.now;
    for len in [0, 1, 4, 100, CELL_LEN - 1, CELL_LEN + 1] {
        let cell = vec![0u8; len];
        net.nodes[relay]
            .eng
            .handle_cell(now, &mut net.rng, from, &cell);
    }
    assert_eq!(net.nodes[relay].eng.stats().drop_len, 6);
    let mut rng = Counter(77);
    let counts = net.nodes[relay].eng.relay_counts();
    for _ in 0..50 {
        let mut cell = good.clone();
        rng.fill_bytes(&mut cell);
        net.nodes[relay]
            .eng
            .handle_cell(now, &mut net.rng, from, &cell);
    }
    net.pump();
    let s = net.nodes[relay].eng.stats().clone();
    assert_eq!(s.drop_unknown_id + s.create_bad, 50, "{s:?}");
    assert!(s.drop_unknown_id > 10 && s.create_bad > 10);
    assert_eq!(
        net.nodes[relay].eng.relay_counts(),
        counts,
        "no state created"
    );
    // A cell from a node that is no neighbour of the circuit.
    let stranger = [2, 0, 0, 0, 0x99, 0x99];
    net.nodes[relay]
        .eng
        .handle_cell(now, &mut net.rng, stranger, &good);
    assert_eq!(net.nodes[relay].eng.relay_counts(), counts);
}

#[test]
fn a_dead_relay_is_routed_around_and_the_pseudonym_survives() {
    let mut net = seven();
    let before = round_trip(&mut net, 0, 6, b"first");
    let path = net.nodes[0].eng.circuits(net.now)[0].hops.clone();
    let victim = net.nodes.iter().position(|n| n.id == path[1]).unwrap();
    net.dead.insert(victim);
    // Traffic keeps flowing (as TCP would retransmit): the client notices
    // within DEAD_AFTER_MS and builds anew through others.
    let t0 = net.now;
    let mut got_through_at = None;
    for k in 0..100u8 {
        let n = net.nodes[6].delivered.len();
        net.send(0, 6, &udp(addr(A_LAN), addr(B_LAN), &[k; 8]))
            .unwrap();
        net.advance(100);
        if net.nodes[6].delivered.len() > n {
            got_through_at = Some(net.now - t0);
            break;
        }
    }
    let took = got_through_at.expect("never recovered");
    assert!(
        took <= client::DEAD_AFTER_MS + 1_000,
        "recovered after {took} ms"
    );
    assert!(net.nodes[0]
        .failed
        .iter()
        .any(|w| w.contains("nothing came back")));
    let now_path = net.nodes[0].eng.circuits(net.now);
    let ready: Vec<_> = now_path.iter().filter(|c| c.state == "ready").collect();
    assert_eq!(ready.len(), 1);
    assert!(!ready[0].hops.contains(&net.nodes[victim].id));
    let after = pseudo::source(&net.nodes[6].delivered.last().unwrap().0).unwrap();
    assert_eq!(before, after, "the group's ticket kept the pseudonym");
    assert_eq!(round_trip(&mut net, 0, 6, b"and back"), before);
}

#[test]
fn circuits_rotate_without_losing_a_packet_and_keep_the_pseudonym() {
    let mut net = seven();
    let p = round_trip(&mut net, 0, 6, b"before");
    let first = net.nodes[0].eng.circuits(net.now)[0].hops.clone();
    let mut sent = 0usize;
    let d0 = net.nodes[6].delivered.len();
    // 11 minutes of a packet every 500 ms.
    for k in 0..1320u32 {
        net.send(0, 6, &udp(addr(A_LAN), addr(B_LAN), &k.to_be_bytes()))
            .unwrap();
        sent += 1;
        net.advance(500);
    }
    assert_eq!(net.nodes[6].delivered.len() - d0, sent, "no packet lost");
    assert!(net.nodes[0].eng.stats().client_rotated >= 1);
    let ready: Vec<_> = net.nodes[0]
        .eng
        .circuits(net.now)
        .into_iter()
        .filter(|c| c.state == "ready")
        .collect();
    assert_eq!(ready.len(), 1);
    assert!(ready[0].age_ms < DEFAULT_ROTATE_MS);
    let _ = first;
    for (pkt, _) in &net.nodes[6].delivered[d0..] {
        assert_eq!(pseudo::source(pkt).unwrap(), p);
    }
}

#[test]
fn a_create_flood_from_one_neighbour_leaves_room_for_others() {
    let mut net = Net::new(4, cfg(1));
    // Node 3 floods node 1 with valid CREATEs; node 0 then builds 0-1-2.
    let relay = net.hop(1);
    let now = net.now;
    // One valid handshake, sent under ever new ids (x25519 in a debug
    // build is too slow to make thousands).
    let (_hs, create) = crate::ntor::client_start(&mut net.rng, &relay.id, &relay.onion);
    let flooder = net.nodes[3].orig;
    // The CREATE under a new id in the flooder's half, into node 1.
    let flood_one = |net: &mut Net, now: u64| {
        let id = (net.rng.next_u32() & 0x7fff_ffff) | id_half(flooder, relay.orig);
        let mut cell = vec![0u8; CELL_LEN];
        cell[..4].copy_from_slice(&id.to_be_bytes());
        cell[4..4 + create.len()].copy_from_slice(&create);
        net.nodes[1]
            .eng
            .handle_cell(now, &mut net.rng, flooder, &cell);
    };
    for _ in 0..5000 {
        flood_one(&mut net, now);
    }
    let s = net.nodes[1].eng.stats().clone();
    assert_eq!(s.create_ok, u64::from(DEFAULT_CREATE_BURST));
    assert_eq!(
        s.create_rate_limited,
        5000 - u64::from(DEFAULT_CREATE_BURST)
    );
    // Others still get through, at once.
    round_trip(&mut net, 0, 2, b"not starved");
    // Sustained flooding for 20 s: at most the per-prev cap holds.
    for _ in 0..200 {
        net.advance(100);
        let now = net.now;
        for _ in 0..50 {
            flood_one(&mut net, now);
        }
    }
    let c = net.nodes[1].eng.relay_counts();
    assert!(c.ending <= DEFAULT_MAX_PER_PREV, "{c:?}");
    assert!(net.nodes[1].eng.stats().create_prev_cap > 0);
    round_trip(&mut net, 0, 2, b"still not starved");
}

#[test]
fn relays_forget_idle_circuits_and_clients_rebuild_on_demand() {
    let mut net = Net::new(3, cfg(1));
    let p = round_trip(&mut net, 0, 2, b"ok");
    net.advance(relay::RELAY_IDLE_MS + 1_000);
    assert_eq!(net.nodes[1].eng.relay_counts(), RelayCounts::default());
    assert!(net.nodes[0].eng.circuits(net.now).is_empty());
    // The destination keeps the group: the next circuit gets the same pseudonym.
    assert_eq!(round_trip(&mut net, 0, 2, b"later"), p);
    assert_eq!(net.nodes[0].built.len(), 2);
}

#[test]
fn no_path_drops_the_queue_and_backs_off() {
    let mut net = Net::new(2, cfg(3));
    let err = net.send(0, 1, &udp(addr(A_LAN), addr(B_LAN), b"x"));
    assert_eq!(err, Ok(()));
    assert_eq!(net.nodes[0].eng.stats().client_drop_no_path, 1);
    assert!(net.nodes[1].delivered.is_empty());
}

#[test]
fn bad_packets_are_refused_with_an_error() {
    let mut net = Net::new(2, cfg(0));
    let big = udp(addr(A_LAN), addr(B_LAN), &vec![0; MAX_PACKET]);
    assert_eq!(net.send(0, 1, &big), Err(SendError::TooBig(big.len())));
    assert!(matches!(
        net.send(0, 1, &[0x45; 60]),
        Err(SendError::BadPacket(_))
    ));
    let me = net.nodes[0].id;
    let now = net.now;
    assert_eq!(
        net.nodes[0]
            .eng
            .send_packet(now, &mut net.rng, me, &udp(addr(A_LAN), addr(B_LAN), b"x")),
        Err(SendError::SelfDest)
    );
    assert_eq!(
        net.reply(1, &udp(addr(B_LAN), pseudo::pseudonym([9; 10]), b"x")),
        Err(SendError::UnknownPseudonym)
    );
    // DATA whose source is not :: is refused at the destination: a client
    // that leaks its address gets nothing delivered.
    let s = net.nodes[1].eng.stats().clone();
    assert_eq!((s.exit_drop_source, s.reply_drop), (0, 1));
}

#[test]
fn packets_waiting_for_circuits_are_bounded_in_total() {
    let mut net = Net::new(1, cfg(3));
    let now = net.now;
    let mut accepted = 0;
    let mut full = 0;
    // Nine destinations that never get a path (nobody answers NeedPath).
    for d in 0..9u8 {
        for k in 0..client::QUEUE_PER_DEST {
            let p = udp(addr(A_LAN), addr(B_LAN), &[k as u8; 8]);
            match net.nodes[0]
                .eng
                .send_packet(now, &mut net.rng, [d + 1; 32], &p)
            {
                Ok(()) => accepted += 1,
                Err(SendError::QueueFull) => full += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert_eq!(accepted, client::QUEUE_TOTAL);
    assert_eq!(full, 9 * client::QUEUE_PER_DEST - client::QUEUE_TOTAL);
    assert_eq!(net.nodes[0].eng.stats().client_drop_queue, full as u64);
    // No path for one of them: its queue is dropped and room is made.
    net.nodes[0].eng.no_path(now, [1; 32]);
    let p = udp(addr(A_LAN), addr(B_LAN), b"x");
    assert_eq!(
        net.nodes[0].eng.send_packet(now, &mut net.rng, [9; 32], &p),
        Ok(())
    );
}

//! Onion circuits under hostile input: three engines (client, relay,
//! destination) wired in memory, a real circuit client -> relay ->
//! destination built and used both ways, then the input is read as a
//! sequence of operations (first byte of each picks it): arbitrary bytes
//! from any MAC into any engine, cells of exactly `CELL_LEN` under a circuit
//! id seen on a link, mutated / replayed / reordered / lost copies of real
//! cells, `send_packet` / `reply_packet` with fuzzer packets (raw, or IPv6
//! that parses, to a real pseudonym), `build` / `no_path` with arbitrary
//! paths, key rotation, and the clock moving with `handle_timeout`.
//!
//! A fourth node, the rogue, has real keys but no engine: the target plays
//! it. As a client it opens its own circuits to the engines (real ntor,
//! real cell layers) and sends them fuzzer messages and raw payloads that
//! authenticate, so `Msg::parse` and the relay / destination code behind it
//! see hostile plaintext. As a hop it answers the engines' CREATEs, binds
//! (so a client's circuit to it becomes ready) and sends fuzzer messages
//! back that authenticate at the engine's client side.
//!
//! Nothing may panic; every cell out is `CELL_LEN` bytes; `handle_cell`
//! counts each cell once in `cells_in`; counters never go down.
#![no_main]

use std::collections::VecDeque;
use std::net::Ipv6Addr;
use std::sync::OnceLock;

use batman_fuzz::Lcg;
use libfuzzer_sys::fuzz_target;
use onion::cell::{self, BODY_LEN, CELL_LEN, CIRC_ID_LEN, MAX_HOPS, PAYLOAD_LEN};
use onion::circuit::msg::{Msg, TICKET_LEN};
use onion::circuit::{Config, Event, Mac, Onion, PathHop};
use onion::ntor::{self, ClientHandshake, HopKeys, CREATED_LEN, CREATE_LEN};
use onion::{Identity, NodeId, OnionKey};
use rand_core::RngCore;

/// Engines.
const N: usize = 3;
const CLIENT: usize = 0;
const RELAY: usize = 1;
const DEST: usize = 2;
/// The node the target plays (keys, no engine).
const ROGUE: usize = 3;
const HIGH_BIT: u32 = 0x8000_0000;
/// Circuits the engines opened to the rogue, kept at most.
const ROGUE_HOPS: usize = 16;
const T0: u64 = 1_000_000;
/// A MAC none of the engines has.
const STRANGER: Mac = [2, 0, 0, 0, 0x99, 0x99];
/// Cells moved per pump at most (a closed loop would otherwise hang).
const PUMP_CAP: usize = 4096;
/// Real cells kept for mutation and replay beyond the setup's.
const CAPTURE_RING: usize = 256;
const A_LAN: [u8; 16] = [
    0xfd, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0, 0, 0, 0, 0, 0, 1, 0,
];
const B_LAN: [u8; 16] = [
    0xfd, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0, 0, 0, 0, 0, 0, 2, 0,
];

/// Node identities and keys: made once (signing is the slow part).
struct Keys {
    id: NodeId,
    key: OnionKey,
    /// A second onion key, for rotations.
    alt: OnionKey,
}

fn keys() -> &'static [Keys; N + 1] {
    static K: OnceLock<[Keys; N + 1]> = OnceLock::new();
    K.get_or_init(|| {
        let mut rng = Lcg(0x5eed);
        std::array::from_fn(|_| {
            let ident = Identity::generate(&mut rng);
            let key = OnionKey::generate(&ident, &mut rng, 0, 1 << 40);
            let alt = OnionKey::generate(&ident, &mut rng, 0, 1 << 40);
            Keys {
                id: ident.id(),
                key,
                alt,
            }
        })
    })
}

fn mac(i: usize) -> Mac {
    [2, 0, 0, 0, 0x10, i as u8]
}

fn hop(i: usize) -> PathHop {
    PathHop {
        id: keys()[i].id,
        orig: mac(i),
        onion: keys()[i].key.public(),
    }
}

/// A UDP/IPv6 packet (checksum not computed: the engines only adjust it).
fn udp(src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut p = vec![0u8; 40 + len];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&src);
    p[24..40].copy_from_slice(&dst);
    p[40..42].copy_from_slice(&4000u16.to_be_bytes());
    p[42..44].copy_from_slice(&5000u16.to_be_bytes());
    p[44..46].copy_from_slice(&(len as u16).to_be_bytes());
    p[48..].copy_from_slice(payload);
    p
}

/// The top bit of the ids `opener` picks on its link with `other`.
fn id_half(opener: Mac, other: Mac) -> u32 {
    if opener > other {
        HIGH_BIT
    } else {
        0
    }
}

/// A body with `head` in front and random bytes after.
fn random_body(rng: &mut Lcg, head: &[u8]) -> [u8; BODY_LEN] {
    let mut body = [0u8; BODY_LEN];
    rng.fill_bytes(&mut body);
    body[..head.len()].copy_from_slice(head);
    body
}

/// The rogue's own circuit (one at a time).
struct RogueClient {
    first: Mac,
    id: u32,
    /// Keys of the hops so far, first hop first.
    hops: Vec<HopKeys>,
    pending: Option<ClientHandshake>,
    /// The nonce of every layer of the next cell.
    nonce: u64,
}

/// A circuit an engine opened to the rogue.
struct RogueHop {
    prev: Mac,
    id: u32,
    keys: HopKeys,
    counter: u64,
}

/// A cell seen on a link.
#[derive(Clone)]
struct Frame {
    from: Mac,
    to: Mac,
    cell: Box<[u8; CELL_LEN]>,
}

/// How a `NeedPath` is answered.
#[derive(Clone, Copy)]
enum PathMode {
    /// Through the third node.
    ViaThird,
    /// Straight to the destination.
    Direct,
    /// `no_path`.
    None,
    /// Through a node that does not exist (its cells vanish).
    Ghost,
}

struct World {
    eng: Vec<Onion>,
    rng: Lcg,
    now: u64,
    /// The setup's cells (kept), then a ring of later ones.
    setup: Vec<Frame>,
    ring: Vec<Frame>,
    ring_at: usize,
    /// Cells not yet delivered.
    in_flight: VecDeque<Frame>,
    /// While set, pumping holds cells instead of delivering them.
    hold: bool,
    held: Vec<Frame>,
    /// Engines whose incoming cells vanish (a dead or unreachable node).
    dead: [bool; N],
    path_mode: PathMode,
    /// Pseudonyms seen at the engines (engine, address).
    pseudonyms: Vec<(usize, [u8; 16])>,
    rogue_client: Option<RogueClient>,
    rogue_hops: Vec<RogueHop>,
}

impl World {
    fn new() -> World {
        let k = keys();
        let cfg = Config {
            relays: 1,
            ..Config::default()
        };
        let eng = (0..N)
            .map(|i| Onion::new(mac(i), k[i].id, vec![k[i].key.clone()], cfg.clone()))
            .collect();
        World {
            eng,
            rng: Lcg(7),
            now: T0,
            setup: Vec::new(),
            ring: Vec::new(),
            ring_at: 0,
            in_flight: VecDeque::new(),
            hold: false,
            held: Vec::new(),
            dead: [false; N],
            path_mode: PathMode::ViaThird,
            pseudonyms: Vec::new(),
            rogue_client: None,
            rogue_hops: Vec::new(),
        }
    }

    fn index_of(m: &Mac) -> Option<usize> {
        (0..N).find(|&i| mac(i) == *m)
    }

    fn captured_len(&self) -> usize {
        self.setup.len() + self.ring.len()
    }

    fn captured(&self, i: usize) -> Option<&Frame> {
        let n = self.captured_len();
        if n == 0 {
            return None;
        }
        let i = i % n;
        if i < self.setup.len() {
            Some(&self.setup[i])
        } else {
            Some(&self.ring[i - self.setup.len()])
        }
    }

    fn capture(&mut self, f: &Frame, in_setup: bool) {
        if in_setup {
            self.setup.push(f.clone());
        } else if self.ring.len() < CAPTURE_RING {
            self.ring.push(f.clone());
        } else {
            self.ring[self.ring_at] = f.clone();
            self.ring_at = (self.ring_at + 1) % CAPTURE_RING;
        }
    }

    /// One cell into engine `to`, checking it is counted once.
    fn deliver(&mut self, to: usize, from: Mac, cell: &[u8]) {
        let before = self.eng[to].stats().clone();
        let now = self.now;
        self.eng[to].handle_cell(now, &mut self.rng, from, cell);
        let after = self.eng[to].stats();
        assert_eq!(after.cells_in, before.cells_in + 1, "one cell, one count");
        monotonic(&before, after);
    }

    fn on_event(&mut self, i: usize, ev: Event) {
        match ev {
            Event::Deliver { packet, from } => {
                if from.is_none() && packet.len() >= 40 && self.pseudonyms.len() < 32 {
                    let src: [u8; 16] = packet[8..24].try_into().expect("16 bytes");
                    if onion::pseudo::is_pseudonym(&Ipv6Addr::from(src)) {
                        self.pseudonyms.push((i, src));
                    }
                }
            }
            Event::NeedPath { dest, .. } => {
                let now = self.now;
                let Some(d) = (0..=N).find(|&j| keys()[j].id == dest) else {
                    self.eng[i].no_path(now, dest);
                    return;
                };
                let third = (0..N).find(|&j| j != i && j != d);
                let relays = match (self.path_mode, third) {
                    (PathMode::None, _) | (PathMode::ViaThird, None) => {
                        self.eng[i].no_path(now, dest);
                        return;
                    }
                    (PathMode::ViaThird, Some(t)) => vec![hop(t)],
                    (PathMode::Direct, _) => Vec::new(),
                    (PathMode::Ghost, _) => vec![PathHop {
                        id: [0x42; 32],
                        orig: STRANGER,
                        onion: [9; 32],
                    }],
                };
                // An error is an answer too (a bad path): then no_path.
                if self.eng[i]
                    .build(now, &mut self.rng, hop(d), relays)
                    .is_err()
                {
                    self.eng[i].no_path(now, dest);
                }
            }
            Event::Built { relays, .. } => assert!(relays < MAX_HOPS),
            Event::Failed { .. } => {}
        }
    }

    /// Move cells and events until nothing moves (or the cap is hit).
    fn pump(&mut self, in_setup: bool) {
        let mut moved_cells = 0usize;
        loop {
            let mut moved = false;
            for i in 0..N {
                while let Some((to, cell)) = self.eng[i].poll_transmit() {
                    moved = true;
                    assert_eq!(cell.len(), CELL_LEN);
                    assert_ne!(to, mac(i), "a cell to ourselves");
                    let f = Frame {
                        from: mac(i),
                        to,
                        cell,
                    };
                    self.capture(&f, in_setup);
                    if self.hold {
                        if self.held.len() < 1024 {
                            self.held.push(f);
                        }
                    } else {
                        self.in_flight.push_back(f);
                    }
                }
                while let Some(ev) = self.eng[i].poll_event() {
                    moved = true;
                    self.on_event(i, ev);
                }
            }
            while let Some(f) = self.in_flight.pop_front() {
                moved = true;
                moved_cells += 1;
                if f.to == mac(ROGUE) {
                    self.rogue_receive(&f);
                    continue;
                }
                let Some(to) = World::index_of(&f.to) else {
                    continue;
                };
                if self.dead[to] {
                    continue;
                }
                self.deliver(to, f.from, &f.cell[..]);
                if moved_cells >= PUMP_CAP {
                    self.in_flight.clear();
                    return;
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn advance(&mut self, ms: u64, mask: u8) {
        self.now = self.now.saturating_add(ms);
        for i in 0..N {
            if mask & (1 << i) == 0 {
                let before = self.eng[i].stats().clone();
                let now = self.now;
                self.eng[i].handle_timeout(now, &mut self.rng);
                monotonic(&before, self.eng[i].stats());
                assert!(self.eng[i].poll_timeout() > now);
            }
        }
    }

    /// A cell from the rogue onto the air.
    fn rogue_emit(&mut self, to: Mac, id: u32, body: &[u8; BODY_LEN]) {
        let mut cell = Box::new([0u8; CELL_LEN]);
        cell[..CIRC_ID_LEN].copy_from_slice(&id.to_be_bytes());
        cell[CIRC_ID_LEN..].copy_from_slice(body);
        let f = Frame {
            from: mac(ROGUE),
            to,
            cell,
        };
        self.capture(&f, false);
        if self.hold {
            if self.held.len() < 1024 {
                self.held.push(f);
            }
        } else {
            self.in_flight.push_back(f);
        }
    }

    /// A cell an engine sent to the rogue: an answer on its own circuit,
    /// a forward cell on a circuit it ends (it binds and pongs), or a
    /// CREATE (it answers with real ntor).
    fn rogue_receive(&mut self, f: &Frame) {
        let id = u32::from_be_bytes([f.cell[0], f.cell[1], f.cell[2], f.cell[3]]);
        let mut body = [0u8; BODY_LEN];
        body.copy_from_slice(&f.cell[CIRC_ID_LEN..]);
        if let Some(c) = self
            .rogue_client
            .as_mut()
            .filter(|c| (c.first, c.id) == (f.from, id))
        {
            if c.hops.is_empty() {
                if let Some(hs) = c.pending.take() {
                    if let Ok(k) = hs.finish(&body[..CREATED_LEN]) {
                        c.hops.push(k);
                    }
                }
                return;
            }
            let refs: Vec<&HopKeys> = c.hops.iter().collect();
            if let Ok((payload, _)) = cell::client_backward(&refs, &body) {
                if let Ok(Msg::Extended { created }) = Msg::parse(&payload) {
                    if let Some(hs) = c.pending.take() {
                        if let Ok(k) = hs.finish(created) {
                            c.hops.push(k);
                        }
                    }
                }
            }
            return;
        }
        if let Some(i) = self
            .rogue_hops
            .iter()
            .position(|h| (h.prev, h.id) == (f.from, id))
        {
            if cell::hop_forward(&self.rogue_hops[i].keys, &mut body).is_err() {
                return;
            }
            let answer = match Msg::parse(cell::payload(&body)) {
                Ok(Msg::Bind { .. }) => Msg::Bound {
                    ticket: [0x77; TICKET_LEN],
                },
                Ok(Msg::Ping(b)) => Msg::Pong(b),
                _ => return,
            };
            let p = answer.emit().expect("fixed size");
            self.rogue_hop_send(i, &p, false);
            return;
        }
        let Ok((keys, created)) = ntor::server_respond(
            &mut self.rng,
            &keys()[ROGUE].id,
            std::slice::from_ref(&keys()[ROGUE].key),
            &body[..CREATE_LEN],
        ) else {
            return;
        };
        if self.rogue_hops.len() >= ROGUE_HOPS {
            self.rogue_hops.remove(0);
        }
        let counter = self.rng.next_u64() >> 2;
        self.rogue_hops.push(RogueHop {
            prev: f.from,
            id,
            keys,
            counter,
        });
        let body = random_body(&mut self.rng, &created);
        self.rogue_emit(f.from, id, &body);
    }

    /// A backward cell from the rogue as the end of circuit `i`.
    fn rogue_hop_send(&mut self, i: usize, payload: &[u8; PAYLOAD_LEN], replay: bool) {
        let h = &mut self.rogue_hops[i];
        if !replay {
            h.counter += 1;
        }
        let body = cell::dest_backward(&h.keys, h.counter, payload);
        let (prev, id) = (h.prev, h.id);
        self.rogue_emit(prev, id, &body);
    }

    /// A forward cell on the rogue's own circuit.
    fn rogue_client_send(&mut self, payload: &[u8; PAYLOAD_LEN], replay: bool) {
        let Some(c) = self.rogue_client.as_mut() else {
            return;
        };
        if c.hops.is_empty() {
            return;
        }
        if !replay {
            c.nonce += 1;
        }
        let layers: Vec<(&HopKeys, u64)> = c.hops.iter().map(|k| (k, c.nonce)).collect();
        let Ok(body) = cell::client_forward(&mut self.rng, &layers, payload) else {
            return;
        };
        let (first, id) = (c.first, c.id);
        self.rogue_emit(first, id, &body);
    }

    /// The honest circuit: client -> relay -> destination, a packet there
    /// and its reply back.
    fn setup(&mut self) {
        let dest = keys()[DEST].id;
        let now = self.now;
        let p = udp(A_LAN, B_LAN, b"hello");
        self.eng[CLIENT]
            .send_packet(now, &mut self.rng, dest, &p)
            .expect("queued");
        self.pump(true);
        self.advance(50, 0);
        self.pump(true);
        let &(at, pseudonym) = self.pseudonyms.first().expect("setup delivered");
        assert_eq!(at, DEST);
        let r = udp(B_LAN, pseudonym, b"olleh");
        let now = self.now;
        self.eng[DEST].reply_packet(now, &r).expect("reply taken");
        self.pump(true);
        assert_eq!(self.eng[CLIENT].stats().client_delivered, 1);
        assert_eq!(
            self.eng[RELAY].relay_counts().relaying,
            1,
            "through the relay"
        );
        assert!(self.setup.len() >= 8, "{} cells", self.setup.len());
    }
}

fn monotonic(before: &onion::circuit::Stats, after: &onion::circuit::Stats) {
    for ((name, a), (_, b)) in before.fields().iter().zip(after.fields().iter()) {
        assert!(b >= a, "counter {name} went down: {a} -> {b}");
    }
}

/// The fuzz input, read front to back; reads past the end give zeros.
struct Input<'a>(&'a [u8]);
impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn array<const L: usize>(&mut self) -> [u8; L] {
        let mut a = [0u8; L];
        let t = self.take(L);
        a[..t.len()].copy_from_slice(t);
        a
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A sender: one of the engines, a stranger, or six fuzzer bytes.
fn pick_mac(inp: &mut Input<'_>) -> Mac {
    match inp.u8() % 8 {
        s @ 0..=2 => mac(s as usize),
        3 => STRANGER,
        _ => inp.array::<6>(),
    }
}

/// A hop for a path: one of the engines (correct or stale key) or made up.
fn pick_hop(inp: &mut Input<'_>) -> PathHop {
    let s = inp.u8();
    match s % 5 {
        0..=3 => {
            let i = (s % 5) as usize;
            let mut h = hop(i);
            if s & 0x80 != 0 {
                h.onion = keys()[i].alt.public();
            }
            h
        }
        _ => PathHop {
            id: inp.array::<32>(),
            orig: inp.array::<6>(),
            onion: inp.array::<32>(),
        },
    }
}

fn pick_id(inp: &mut Input<'_>) -> NodeId {
    match inp.u8() % 5 {
        s @ 0..=3 => keys()[s as usize].id,
        _ => inp.array::<32>(),
    }
}

/// An IP packet: raw bytes, or UDP/IPv6 with a chosen source and payload.
fn pick_packet(inp: &mut Input<'_>, w: &World, reply: bool) -> Vec<u8> {
    let mode = inp.u8();
    let len = usize::from(inp.u16());
    match mode % 4 {
        0 => inp.take(len).to_vec(),
        _ => {
            // 70 sources overflow the 64 flow tags.
            let mut host = A_LAN;
            host[15] = mode % 70;
            let dst = if reply {
                match w
                    .pseudonyms
                    .get(usize::from(mode >> 2) % w.pseudonyms.len().max(1))
                {
                    Some(&(_, p)) if mode & 0x40 == 0 => p,
                    _ => inp.array::<16>(),
                }
            } else {
                B_LAN
            };
            let payload = inp.take(len % 1500);
            let (src, dst) = if reply { (B_LAN, dst) } else { (host, dst) };
            let mut p = udp(src, dst, payload);
            if mode % 4 == 3 {
                // Mangle the header (next header, length) a little.
                p[6] = inp.u8();
                p[4] = inp.u8();
            }
            p
        }
    }
}

/// A payload for the rogue to seal: a message (possibly one the reader
/// does not expect in this direction or state) or raw bytes.
fn pick_payload(inp: &mut Input<'_>, w: &World) -> Option<[u8; PAYLOAD_LEN]> {
    let m = match inp.u8() % 8 {
        0 => Msg::Bind {
            ticket: inp.array::<TICKET_LEN>(),
        },
        1 => Msg::Bind {
            ticket: [0; TICKET_LEN],
        },
        2 => Msg::Bound {
            ticket: inp.array::<TICKET_LEN>(),
        },
        3 => Msg::Ping(inp.array::<8>()),
        4 => Msg::Pong(inp.array::<8>()),
        5 => {
            let tag = inp.u16();
            let p = pick_packet(inp, w, false);
            return Msg::Data { tag, packet: &p }.emit().ok();
        }
        6 => {
            let created = inp.array::<CREATED_LEN>();
            return Msg::Extended { created: &created }.emit().ok();
        }
        _ => {
            let mut p = [0u8; PAYLOAD_LEN];
            let n = usize::from(inp.u16()) % (PAYLOAD_LEN + 1);
            let b = inp.take(n);
            p[..b.len()].copy_from_slice(b);
            return Some(p);
        }
    };
    m.emit().ok()
}

fuzz_target!(|data: &[u8]| {
    let mut w = World::new();
    w.setup();
    let mut inp = Input(data);
    let mut ops = 0;
    while !inp.is_empty() && ops < 256 {
        ops += 1;
        let op = inp.u8();
        match op % 16 {
            // Arbitrary bytes, any length, from any MAC, into any engine.
            0 => {
                let to = usize::from(inp.u8()) % N;
                let from = pick_mac(&mut inp);
                let len = inp.u16();
                let bytes = if len & 0x8000 != 0 {
                    let mut c = inp.take(CELL_LEN).to_vec();
                    c.resize(CELL_LEN, (len & 0xff) as u8);
                    c
                } else {
                    inp.take(usize::from(len)).to_vec()
                };
                w.deliver(to, from, &bytes);
            }
            // A full cell under a circuit id seen on a link: fuzzer bytes
            // over the start of the real cell's body; along the link, back
            // along it, or from somebody else.
            1 => {
                let sel = inp.u16();
                let Some(f) = w.captured(usize::from(sel)).cloned() else {
                    continue;
                };
                let n = usize::from(inp.u16()) % (BODY_LEN + 1);
                let mut cell = f.cell.clone();
                let b = inp.take(n);
                cell[CIRC_ID_LEN..CIRC_ID_LEN + b.len()].copy_from_slice(b);
                let (to, from) = match op >> 4 & 3 {
                    0 | 1 => (f.to, f.from),
                    2 => (f.from, f.to),
                    _ => (mac(usize::from(inp.u8()) % N), pick_mac(&mut inp)),
                };
                if let Some(to) = World::index_of(&to) {
                    w.deliver(to, from, &cell[..]);
                }
            }
            // A real cell with bytes flipped at chosen offsets.
            2 => {
                let sel = inp.u16();
                let Some(f) = w.captured(usize::from(sel)).cloned() else {
                    continue;
                };
                let mut cell = f.cell.clone();
                for _ in 0..=(inp.u8() % 8) {
                    let at = usize::from(inp.u16()) % CELL_LEN;
                    let x = inp.u8();
                    cell[at] ^= if x == 0 { 1 } else { x };
                }
                if let Some(to) = World::index_of(&f.to) {
                    w.deliver(to, f.from, &cell[..]);
                }
            }
            // A real cell again (replay), to its hop or to another engine.
            3 => {
                let sel = inp.u16();
                let Some(f) = w.captured(usize::from(sel)).cloned() else {
                    continue;
                };
                let to = if op & 0x10 == 0 {
                    World::index_of(&f.to)
                } else {
                    Some(usize::from(inp.u8()) % N)
                };
                if let Some(to) = to {
                    w.deliver(to, f.from, &f.cell[..]);
                }
            }
            // send_packet.
            4 => {
                let at = usize::from(inp.u8()) % N;
                let dest = pick_id(&mut inp);
                let p = pick_packet(&mut inp, &w, false);
                let now = w.now;
                let _ = w.eng[at].send_packet(now, &mut w.rng, dest, &p);
            }
            // reply_packet.
            5 => {
                let at = usize::from(inp.u8()) % N;
                let p = pick_packet(&mut inp, &w, true);
                let now = w.now;
                let _ = w.eng[at].reply_packet(now, &p);
            }
            // The clock moves; timers run (the mask's engines sleep).
            6 => {
                let scale = [1u64, 50, 1_000, 60_000][usize::from(op >> 4 & 3)];
                let ms = u64::from(inp.u16()) * scale;
                let mask = if op & 0x40 != 0 { inp.u8() } else { 0 };
                w.advance(ms, mask);
            }
            // build with a fuzzer path.
            7 => {
                let at = usize::from(inp.u8()) % N;
                let relays = (0..inp.u8() % 8).map(|_| pick_hop(&mut inp)).collect();
                let dest = pick_hop(&mut inp);
                let now = w.now;
                let _ = w.eng[at].build(now, &mut w.rng, dest, relays);
            }
            // no_path.
            8 => {
                let at = usize::from(inp.u8()) % N;
                let dest = pick_id(&mut inp);
                let now = w.now;
                w.eng[at].no_path(now, dest);
            }
            // How NeedPath is answered.
            9 => {
                w.path_mode = match inp.u8() % 4 {
                    0 => PathMode::ViaThird,
                    1 => PathMode::Direct,
                    2 => PathMode::None,
                    _ => PathMode::Ghost,
                };
            }
            // Onion key rotation (also to no key at all).
            10 => {
                let at = usize::from(inp.u8()) % N;
                let k = &keys()[at];
                let set = match inp.u8() % 4 {
                    0 => vec![k.alt.clone(), k.key.clone()],
                    1 => vec![k.alt.clone()],
                    2 => vec![k.key.clone()],
                    _ => Vec::new(),
                };
                w.eng[at].set_onion_keys(set);
            }
            // Hold cells (they still get captured), or let the held ones
            // go: in order, reversed, or lost.
            11 => match inp.u8() % 4 {
                0 => w.hold = true,
                1 => {
                    w.hold = false;
                    w.in_flight.extend(w.held.drain(..));
                }
                2 => {
                    w.hold = false;
                    w.in_flight.extend(w.held.drain(..).rev());
                }
                _ => {
                    w.hold = false;
                    w.held.clear();
                }
            },
            // A node goes away or comes back.
            12 => {
                let i = usize::from(inp.u8()) % N;
                w.dead[i] = !w.dead[i];
            }
            // The rogue opens a circuit to an engine (real CREATE; the id
            // in its half or any).
            14 if op & 0x30 == 0 => {
                let j = usize::from(inp.u8()) % N;
                let id = if op & 0x40 != 0 {
                    u32::from_be_bytes(inp.array::<4>())
                } else {
                    (w.rng.next_u32() & !HIGH_BIT) | id_half(mac(ROGUE), mac(j))
                };
                let onion = if op & 0x80 != 0 {
                    keys()[j].alt.public()
                } else {
                    keys()[j].key.public()
                };
                let (hs, create) = ntor::client_start(&mut w.rng, &keys()[j].id, &onion);
                let body = random_body(&mut w.rng, &create);
                let nonce = w.rng.next_u64() >> 2;
                w.rogue_client = Some(RogueClient {
                    first: mac(j),
                    id,
                    hops: Vec::new(),
                    pending: Some(hs),
                    nonce,
                });
                w.rogue_emit(mac(j), id, &body);
            }
            // The rogue extends its circuit: to an engine with a real
            // handshake, or anywhere with any CREATE.
            14 if op & 0x30 == 0x10 => {
                let sel = inp.u8();
                let (next, create, hs) = match sel % 6 {
                    s @ 0..=3 => {
                        let k = usize::from(s);
                        let (hs, c) =
                            ntor::client_start(&mut w.rng, &keys()[k].id, &keys()[k].key.public());
                        (mac(k), c, Some(hs))
                    }
                    4 => (STRANGER, inp.array::<CREATE_LEN>(), None),
                    _ => (inp.array::<6>(), inp.array::<CREATE_LEN>(), None),
                };
                let p = Msg::Extend {
                    next,
                    create: &create,
                }
                .emit()
                .expect("fixed size");
                if let Some(c) = w.rogue_client.as_mut() {
                    c.pending = hs;
                }
                w.rogue_client_send(&p, false);
            }
            // The rogue sends a message or raw payload on its circuit (or
            // the same nonce again).
            14 => {
                if let Some(p) = pick_payload(&mut inp, &w) {
                    w.rogue_client_send(&p, op & 0x40 != 0);
                }
            }
            // The rogue, as the end of an engine's circuit, sends back.
            15 => {
                let i = usize::from(inp.u8());
                if let Some(p) = pick_payload(&mut inp, &w) {
                    if !w.rogue_hops.is_empty() {
                        let i = i % w.rogue_hops.len();
                        w.rogue_hop_send(i, &p, op & 0x40 != 0);
                    }
                }
            }
            // The read-only views.
            _ => {
                for (i, e) in w.eng.iter().enumerate() {
                    for c in e.circuits(w.now) {
                        assert!(!c.hops.is_empty() && c.hops.len() <= MAX_HOPS);
                        assert_ne!(c.dest, keys()[i].id);
                    }
                    let _ = e.relay_counts();
                    for &(_, p) in &w.pseudonyms {
                        let _ = e.is_our_pseudonym(&Ipv6Addr::from(p));
                    }
                }
            }
        }
        w.pump(false);
    }
    // Whatever is left moves, time passes, everything drains.
    w.hold = false;
    w.in_flight.extend(w.held.drain(..));
    w.pump(false);
    w.advance(10_000, 0);
    w.pump(false);
});

//! Onion circuits: the sans-IO state machine of one node in all three of
//! its roles. The cell cryptography is [`crate::cell`], the extension
//! handshake [`crate::ntor`]; this module owns circuit ids, per-hop nonces,
//! counters and replay windows, the relay table with its limits, the
//! destination's pseudonyms, and the client's circuits per destination
//! (build, bind, rotate, detect death, rebuild). Design: docs/onion.md.
//!
//! ## Contract
//! Deterministic and I/O-free, like the batman core: time comes in as
//! monotonic milliseconds, randomness as an `RngCore + CryptoRng`, cells
//! as bytes from an originator MAC. Inputs are `handle_cell`,
//! `send_packet` (a packet the policy sends anonymously), `reply_packet`
//! (a packet to one of our pseudonyms), `build` / `no_path` (the answer
//! to [`Event::NeedPath`]) and `handle_timeout`; outputs are
//! `poll_transmit` (a cell for an originator) and `poll_event`. No input
//! panics; everything refused is counted in [`Stats`].
//!
//! ## Roles
//! - **client** (client.rs): one circuit per destination node, telescoped
//!   hop by hop with ntor, then bound to a pseudonym group at the
//!   destination (BIND/BOUND with a ticket), so that a new circuit
//!   (rotation, a dead relay) keeps the pseudonyms and the app's flows.
//!   The client zeroes its packets' source address before they leave.
//! - **relay** (relay.rs): per circuit only (previous hop, id) -> (next
//!   hop, id), the hop keys, a replay window and a backward counter; caps
//!   in total and per previous hop, a creation rate per previous hop, an
//!   idle timeout.
//! - **end** (relay.rs, exit.rs): the hop a circuit currently ends at reads
//!   the messages ([`msg`]); at the destination DATA gets the source
//!   rewritten to the circuit's pseudonym ([`crate::pseudo`]) and replies
//!   to a pseudonym go back along its circuit.
//!
//! ## Circuit ids
//! A cell is `circuit id (u32 BE) ‖ body` ([`crate::cell::CELL_LEN`]). Ids
//! are per link and random; the node that opens a circuit on a link picks
//! the id, with the top bit set when its originator MAC is the greater of
//! the two, so the two directions of a link never collide. What a cell is
//! follows from the id alone: a known inbound id is a forward cell, a
//! known outbound id a backward cell (or the CREATED a hop waits for), an
//! unknown id in the peer's half a CREATE. No other field is in the clear.

mod client;
mod exit;
pub mod msg;
mod relay;
pub mod select;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};

use rand_core::{CryptoRng, RngCore};

use crate::cell::{BODY_LEN, CELL_LEN, CIRC_ID_LEN};
use crate::identity::{NodeId, OnionKey};

pub use client::CircuitInfo;
pub use relay::RelayCounts;

/// An originator MAC (the batman address a hop is reached at).
pub type Mac = [u8; 6];

/// Relays per circuit by default (the destination is one more hop).
pub const DEFAULT_RELAYS: usize = 3;
/// A client replaces a circuit this long after it became ready.
pub const DEFAULT_ROTATE_MS: u64 = 600_000;
/// Circuits a relay holds at most, all previous hops together.
pub const DEFAULT_MAX_CIRCUITS: usize = 2048;
/// Circuits one previous hop may hold at a relay.
pub const DEFAULT_MAX_PER_PREV: usize = 128;
/// CREATEs a relay answers per previous hop per second (sustained).
pub const DEFAULT_CREATE_RATE: u32 = 16;
/// CREATEs a previous hop may send in a burst.
pub const DEFAULT_CREATE_BURST: u32 = 32;
/// Previous hops a relay keeps allowances for at most.
pub const MAX_PREVS: usize = 1024;
/// Cells waiting for the driver at most; more are dropped and counted.
pub const MAX_TRANSMIT_QUEUE: usize = 1024;
/// The driver calls `handle_timeout` at least this often.
pub const TICK_MS: u64 = 200;

/// A hop of a path, as the client knows it from the verified directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathHop {
    pub id: NodeId,
    pub orig: Mac,
    /// The hop's current onion key (x25519 public).
    pub onion: [u8; 32],
}

/// Limits and timings (the defaults are the named constants above).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Relays per circuit (`1 ..= MAX_HOPS - 1`).
    pub relays: usize,
    pub rotate_ms: u64,
    pub max_circuits: usize,
    pub max_per_prev: usize,
    pub create_rate: u32,
    pub create_burst: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            relays: DEFAULT_RELAYS,
            rotate_ms: DEFAULT_ROTATE_MS,
            max_circuits: DEFAULT_MAX_CIRCUITS,
            max_per_prev: DEFAULT_MAX_PER_PREV,
            create_rate: DEFAULT_CREATE_RATE,
            create_burst: DEFAULT_CREATE_BURST,
        }
    }
}

/// What the driver hears from the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A packet for our TUN. At the client `from` is the destination the
    /// circuit ends at (the driver checks the source belongs to it); at the
    /// destination it is `None`: the source is the circuit's pseudonym.
    Deliver {
        packet: Vec<u8>,
        from: Option<NodeId>,
    },
    /// A circuit to `dest` is needed: answer with [`Onion::build`] (relays
    /// picked by [`select::pick_relays`], preferring to avoid `avoid`) or
    /// [`Onion::no_path`].
    NeedPath { dest: NodeId, avoid: Vec<NodeId> },
    /// A circuit to `dest` is ready (built and bound) after `ms`.
    Built {
        dest: NodeId,
        ms: u64,
        relays: usize,
    },
    /// A circuit to `dest` failed or died.
    Failed { dest: NodeId, why: &'static str },
}

/// Counters, all monotonic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub cells_in: u64,
    pub cells_out: u64,
    pub drop_len: u64,
    pub drop_unknown_id: u64,
    pub drop_transmit_full: u64,
    pub drop_fwd_auth: u64,
    pub drop_fwd_replay: u64,
    pub drop_bwd_auth: u64,
    pub drop_bwd_replay: u64,
    pub drop_msg: u64,
    pub create_ok: u64,
    pub create_rate_limited: u64,
    pub create_prev_cap: u64,
    pub create_cap: u64,
    pub create_bad: u64,
    pub relayed_fwd: u64,
    pub relayed_bwd: u64,
    pub extend_ok: u64,
    pub extend_bad: u64,
    pub extend_timeout: u64,
    pub relay_idle_expired: u64,
    pub exit_delivered: u64,
    pub exit_drop_unbound: u64,
    pub exit_drop_source: u64,
    pub exit_drop_tags: u64,
    pub reply_ok: u64,
    pub reply_drop: u64,
    pub client_built: u64,
    pub client_failed: u64,
    pub client_dead: u64,
    pub client_rotated: u64,
    pub client_sent: u64,
    pub client_delivered: u64,
    pub client_drop_queue: u64,
    pub client_drop_no_path: u64,
    pub client_drop_too_big: u64,
    pub client_drop_bad_packet: u64,
    pub client_drop_tags: u64,
    pub client_drop_dests: u64,
}

impl Stats {
    /// (name, value) of every counter, for `meshctl s`.
    pub fn fields(&self) -> [(&'static str, u64); 39] {
        [
            ("cells_in", self.cells_in),
            ("cells_out", self.cells_out),
            ("drop_len", self.drop_len),
            ("drop_unknown_id", self.drop_unknown_id),
            ("drop_transmit_full", self.drop_transmit_full),
            ("drop_fwd_auth", self.drop_fwd_auth),
            ("drop_fwd_replay", self.drop_fwd_replay),
            ("drop_bwd_auth", self.drop_bwd_auth),
            ("drop_bwd_replay", self.drop_bwd_replay),
            ("drop_msg", self.drop_msg),
            ("create_ok", self.create_ok),
            ("create_rate_limited", self.create_rate_limited),
            ("create_prev_cap", self.create_prev_cap),
            ("create_cap", self.create_cap),
            ("create_bad", self.create_bad),
            ("relayed_fwd", self.relayed_fwd),
            ("relayed_bwd", self.relayed_bwd),
            ("extend_ok", self.extend_ok),
            ("extend_bad", self.extend_bad),
            ("extend_timeout", self.extend_timeout),
            ("relay_idle_expired", self.relay_idle_expired),
            ("exit_delivered", self.exit_delivered),
            ("exit_drop_unbound", self.exit_drop_unbound),
            ("exit_drop_source", self.exit_drop_source),
            ("exit_drop_tags", self.exit_drop_tags),
            ("reply_ok", self.reply_ok),
            ("reply_drop", self.reply_drop),
            ("client_built", self.client_built),
            ("client_failed", self.client_failed),
            ("client_dead", self.client_dead),
            ("client_rotated", self.client_rotated),
            ("client_sent", self.client_sent),
            ("client_delivered", self.client_delivered),
            ("client_drop_queue", self.client_drop_queue),
            ("client_drop_no_path", self.client_drop_no_path),
            ("client_drop_too_big", self.client_drop_too_big),
            ("client_drop_bad_packet", self.client_drop_bad_packet),
            ("client_drop_tags", self.client_drop_tags),
            ("client_drop_dests", self.client_drop_dests),
        ]
    }
}

/// Why a packet was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("packet of {0} bytes does not fit a cell (at most {max})", max = msg::MAX_PACKET)]
    TooBig(usize),
    #[error("not an IPv6 packet: {0}")]
    BadPacket(crate::pseudo::RewriteError),
    #[error("no circuit and the queue towards the destination is full")]
    QueueFull,
    #[error("too many sources towards one destination")]
    TooManyTags,
    #[error("too many destinations with circuits")]
    TooManyDests,
    #[error("the destination is this node")]
    SelfDest,
    #[error("no pseudonym of ours is the destination, or its circuit is gone")]
    UnknownPseudonym,
}

/// A circuit's key on a link: (the neighbouring hop's MAC, circuit id).
pub(crate) type LinkKey = (Mac, u32);

/// What an id this node picked on a link leads to.
pub(crate) enum Out {
    /// One of our own circuits (we are its client).
    Client(Box<client::ClientCirc>),
    /// The outgoing side of a circuit we relay: its inbound key.
    Relay(LinkKey),
}

/// One node's circuits in all roles.
pub struct Onion {
    me: Mac,
    my_id: NodeId,
    keys: Vec<OnionKey>,
    cfg: Config,
    /// Circuits others opened to us (relay and end roles).
    inbound: HashMap<LinkKey, relay::RelayCirc>,
    /// Ids we picked: our circuits, and relayed circuits' outgoing sides.
    outbound: HashMap<LinkKey, Out>,
    prevs: HashMap<Mac, relay::Allowance>,
    dests: HashMap<NodeId, client::Dest>,
    groups: HashMap<[u8; msg::TICKET_LEN], exit::Group>,
    pseudonyms: HashMap<std::net::Ipv6Addr, exit::PseudonymOf>,
    transmit: VecDeque<(Mac, Box<[u8; CELL_LEN]>)>,
    events: VecDeque<Event>,
    stats: Stats,
    last_tick_ms: u64,
    /// Packets in all destinations' queues.
    queued: usize,
}

impl std::fmt::Debug for Onion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Onion")
            .field("inbound", &self.inbound.len())
            .field("outbound", &self.outbound.len())
            .field("dests", &self.dests.len())
            .finish_non_exhaustive()
    }
}

impl Onion {
    /// The engine of the node with originator `me`, node ID `my_id` and
    /// onion keys `keys` (current first; see [`Onion::set_onion_keys`]).
    pub fn new(me: Mac, my_id: NodeId, keys: Vec<OnionKey>, cfg: Config) -> Self {
        Onion {
            me,
            my_id,
            keys,
            cfg,
            inbound: HashMap::new(),
            outbound: HashMap::new(),
            prevs: HashMap::new(),
            dests: HashMap::new(),
            groups: HashMap::new(),
            pseudonyms: HashMap::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            last_tick_ms: 0,
            queued: 0,
        }
    }

    /// After a rotation of our onion key (current first, then the one in
    /// its grace period): CREATEs are answered with these.
    pub fn set_onion_keys(&mut self, keys: Vec<OnionKey>) {
        self.keys = keys;
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The next cell to send: (originator to send it to, the cell).
    pub fn poll_transmit(&mut self) -> Option<(Mac, Box<[u8; CELL_LEN]>)> {
        self.transmit.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Onion::handle_timeout`] next (at most [`TICK_MS`]
    /// after the last call).
    pub fn poll_timeout(&self) -> u64 {
        self.last_tick_ms + TICK_MS
    }

    /// Timers of every role: build steps, dead and idle circuits,
    /// rotation, relay idle and extension timeouts, pseudonym groups.
    pub fn handle_timeout<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) {
        self.last_tick_ms = now_ms;
        self.client_timers(now_ms, rng);
        self.relay_timers(now_ms);
        self.exit_timers(now_ms);
    }

    /// A cell from the node with originator `from`.
    pub fn handle_cell<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        from: Mac,
        cell: &[u8],
    ) {
        self.stats.cells_in += 1;
        if cell.len() != CELL_LEN {
            self.stats.drop_len += 1;
            return;
        }
        if from == self.me {
            // Nobody opens a circuit to itself.
            self.stats.drop_unknown_id += 1;
            return;
        }
        let id = u32::from_be_bytes([cell[0], cell[1], cell[2], cell[3]]);
        let mut body = [0u8; BODY_LEN];
        body.copy_from_slice(&cell[CIRC_ID_LEN..]);
        let key = (from, id);
        match self.outbound.get(&key) {
            Some(Out::Client(_)) => return self.client_backward_cell(now_ms, rng, key, &body),
            Some(Out::Relay(inkey)) => {
                let inkey = *inkey;
                return self.relay_backward_cell(now_ms, key, inkey, &mut body);
            }
            None => {}
        }
        if self.inbound.contains_key(&key) {
            return self.relay_forward_cell(now_ms, rng, key, &mut body);
        }
        if id_half(from, self.me) == id & HIGH_BIT {
            self.on_create(now_ms, rng, key, &body);
        } else {
            self.stats.drop_unknown_id += 1;
        }
    }

    /// Queue a cell; over [`MAX_TRANSMIT_QUEUE`] it is dropped and counted.
    fn push_cell(&mut self, to: Mac, id: u32, body: &[u8; BODY_LEN]) {
        if self.transmit.len() >= MAX_TRANSMIT_QUEUE {
            self.stats.drop_transmit_full += 1;
            return;
        }
        let mut cell = Box::new([0u8; CELL_LEN]);
        cell[..CIRC_ID_LEN].copy_from_slice(&id.to_be_bytes());
        cell[CIRC_ID_LEN..].copy_from_slice(body);
        self.stats.cells_out += 1;
        self.transmit.push_back((to, cell));
    }

    /// A fresh id for a circuit we open towards `peer`: random, in our
    /// half of the link's id space, not in use.
    fn new_id<R: RngCore>(&self, rng: &mut R, peer: Mac) -> u32 {
        let half = id_half(self.me, peer);
        loop {
            let id = (rng.next_u32() & !HIGH_BIT) | half;
            if !self.outbound.contains_key(&(peer, id)) {
                return id;
            }
        }
    }
}

const HIGH_BIT: u32 = 0x8000_0000;

/// The top bit of the ids `opener` picks on its link with `other`: set
/// when the opener's MAC is the greater.
fn id_half(opener: Mac, other: Mac) -> u32 {
    if opener > other {
        HIGH_BIT
    } else {
        0
    }
}

/// A random body for a cell whose head carries a handshake message: the
/// rest is indistinguishable from ciphertext.
fn random_body<R: RngCore>(rng: &mut R, head: &[u8]) -> [u8; BODY_LEN] {
    let mut body = [0u8; BODY_LEN];
    rng.fill_bytes(&mut body);
    body[..head.len()].copy_from_slice(head);
    body
}

/// A random starting point for a per-hop nonce or counter: below 2^62, so
/// it never wraps in a circuit's life.
fn random_start<R: RngCore>(rng: &mut R) -> u64 {
    rng.next_u64() >> 2
}

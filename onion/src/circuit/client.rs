//! The client role: our own circuits, one per destination node in use.
//!
//! A circuit is built by telescoping: CREATE to the first hop, then EXTEND
//! to each next hop inside the circuit, each step an ntor handshake
//! against the hop's signed onion key; then BIND to the destination's
//! pseudonym group (a zero ticket the first time, the group's ticket after
//! that). Only then does it carry DATA; packets that arrive before wait in
//! a small queue ([`QUEUE_PER_DEST`]).
//!
//! Timers:
//! - a build step (CREATED, EXTENDED, BOUND) unanswered after
//!   [`BUILD_STEP_TIMEOUT_MS`] fails the circuit; the next path avoids its
//!   relays; retries back off from [`RETRY_MIN_MS`] to [`RETRY_MAX_MS`];
//! - a circuit that carried something out and got nothing back for
//!   [`PING_AFTER_MS`] sends a PING; nothing back for [`DEAD_AFTER_MS`]
//!   and it is dead: a new one is built at once, bound to the same group;
//! - a circuit [`Config::rotate_ms`] old is replaced while it still
//!   carries traffic: the new one takes over when bound, the old one stays
//!   [`OLD_GRACE_MS`] for cells in flight;
//! - a circuit idle for [`CLIENT_IDLE_MS`] (before the relays' own idle
//!   timeout) is dropped; the next packet builds a new one, with the same
//!   ticket, so even a long-idle flow keeps its pseudonym.

use std::collections::VecDeque;
use std::net::Ipv6Addr;

use rand_core::{CryptoRng, RngCore};

use super::msg::{Msg, TICKET_LEN};
use super::{random_body, random_start, Event, LinkKey, Onion, Out, PathHop, SendError};
use crate::cell::{self, BODY_LEN, MAX_HOPS};
use crate::identity::NodeId;
use crate::ntor::{self, HopKeys, CREATED_LEN};
use crate::pseudo;
use crate::replay::ReplayWindow;

/// A build step's answer must come within this.
pub const BUILD_STEP_TIMEOUT_MS: u64 = 2_000;
/// Nothing back for this long after sending: PING.
pub const PING_AFTER_MS: u64 = 1_000;
/// Nothing back for this long after sending: the circuit is dead.
pub const DEAD_AFTER_MS: u64 = 3_000;
/// A circuit with no cell either way for this long is dropped (less than
/// the relays' [`super::relay::RELAY_IDLE_MS`]).
pub const CLIENT_IDLE_MS: u64 = 45_000;
/// A replaced circuit still takes backward cells for this long.
pub const OLD_GRACE_MS: u64 = 5_000;
/// Packets waiting for a circuit, per destination.
pub const QUEUE_PER_DEST: usize = 64;
/// Packets waiting for circuits, all destinations together (at most
/// 1295 bytes each: under 700 KB).
pub const QUEUE_TOTAL: usize = 512;
/// Destinations we keep circuits and tickets for.
pub const MAX_DESTS: usize = 256;
/// Sources (flow tags) towards one destination.
pub const MAX_TAGS: usize = super::exit::MAX_TAGS;
/// Retry backoff after a failed build: first and largest wait.
pub const RETRY_MIN_MS: u64 = 250;
pub const RETRY_MAX_MS: u64 = 8_000;
/// A destination unused this long is forgotten, ticket and all (the
/// destination forgets the group after the same time).
pub const DEST_FORGET_MS: u64 = super::exit::GROUP_IDLE_MS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Building,
    Binding,
    Ready,
}

struct ClientHop {
    keys: HopKeys,
    fwd_nonce: u64,
    bwd_replay: ReplayWindow,
}

/// One of our circuits.
pub(crate) struct ClientCirc {
    dest: NodeId,
    /// Relays, then the destination.
    path: Vec<PathHop>,
    hops: Vec<ClientHop>,
    pending: Option<ntor::ClientHandshake>,
    state: State,
    started_ms: u64,
    step_ms: u64,
    ready_ms: u64,
    last_tx_ms: u64,
    last_rx_ms: u64,
    unanswered_since: Option<u64>,
    ping_ms: u64,
    tx_bytes: u64,
    rx_bytes: u64,
}

/// Our state towards one destination.
pub(crate) struct Dest {
    ticket: Option<[u8; TICKET_LEN]>,
    /// Tag i is the source address `tags[i]`.
    tags: Vec<Ipv6Addr>,
    current: Option<LinkKey>,
    building: Option<LinkKey>,
    old: Vec<(LinkKey, u64)>,
    queue: VecDeque<Vec<u8>>,
    last_use_ms: u64,
    waiting_path: bool,
    retry_at_ms: u64,
    fails: u32,
    avoid: Vec<NodeId>,
}

/// What `meshctl circuits` shows of one of our circuits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitInfo {
    pub dest: NodeId,
    /// Relays then the destination.
    pub hops: Vec<NodeId>,
    /// "building", "binding", "ready" or "old".
    pub state: &'static str,
    pub age_ms: u64,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
}

impl Onion {
    /// Our circuits, for `meshctl circuits`.
    pub fn circuits(&self, now_ms: u64) -> Vec<CircuitInfo> {
        let mut v = Vec::new();
        for (key, out) in &self.outbound {
            let Out::Client(c) = out else { continue };
            let old = self
                .dests
                .get(&c.dest)
                .is_some_and(|d| d.old.iter().any(|(k, _)| k == key));
            v.push(CircuitInfo {
                dest: c.dest,
                hops: c.path.iter().map(|h| h.id).collect(),
                state: match (old, c.state) {
                    (true, _) => "old",
                    (_, State::Building) => "building",
                    (_, State::Binding) => "binding",
                    (_, State::Ready) => "ready",
                },
                age_ms: now_ms.saturating_sub(c.started_ms),
                tx_bytes: c.tx_bytes,
                rx_bytes: c.rx_bytes,
            });
        }
        v.sort_by_key(|c| (c.dest, c.age_ms));
        v
    }

    /// Send an IPv6 packet to the node `dest` anonymously: it leaves with
    /// the unspecified source and arrives from a pseudonym. Queued while
    /// the circuit is built ([`Event::NeedPath`] asks for a path).
    pub fn send_packet<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        dest: NodeId,
        packet: &[u8],
    ) -> Result<(), SendError> {
        let r = self.send_inner(now_ms, rng, dest, packet);
        if let Err(e) = &r {
            let s = &mut self.stats;
            match e {
                SendError::TooBig(_) => s.client_drop_too_big += 1,
                SendError::BadPacket(_) | SendError::SelfDest => s.client_drop_bad_packet += 1,
                SendError::QueueFull => s.client_drop_queue += 1,
                SendError::TooManyTags => s.client_drop_tags += 1,
                SendError::TooManyDests => s.client_drop_dests += 1,
                SendError::UnknownPseudonym => {}
            }
        }
        r
    }

    fn send_inner<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        dest: NodeId,
        packet: &[u8],
    ) -> Result<(), SendError> {
        if dest == self.my_id {
            return Err(SendError::SelfDest);
        }
        if packet.len() > super::msg::MAX_PACKET {
            return Err(SendError::TooBig(packet.len()));
        }
        let src = pseudo::source(packet).map_err(SendError::BadPacket)?;
        if !self.dests.contains_key(&dest) {
            if self.dests.len() >= MAX_DESTS {
                self.forget_idle_dests(now_ms, 0);
            }
            if self.dests.len() >= MAX_DESTS {
                return Err(SendError::TooManyDests);
            }
            self.dests.insert(dest, Dest::new());
        }
        let d = self.dests.get_mut(&dest).expect("inserted");
        let tag = match d.tags.iter().position(|a| *a == src) {
            Some(i) => i,
            None if d.tags.len() >= MAX_TAGS => return Err(SendError::TooManyTags),
            None => {
                d.tags.push(src);
                d.tags.len() - 1
            }
        } as u16;
        let mut p = packet.to_vec();
        pseudo::set_source(&mut p, Ipv6Addr::UNSPECIFIED).map_err(SendError::BadPacket)?;
        d.last_use_ms = now_ms;
        match d.current {
            Some(key) => {
                self.client_send(now_ms, rng, key, &Msg::Data { tag, packet: &p });
                self.stats.client_sent += 1;
                Ok(())
            }
            None => {
                if d.queue.len() >= QUEUE_PER_DEST || self.queued >= QUEUE_TOTAL {
                    return Err(SendError::QueueFull);
                }
                self.queued += 1;
                // The tag is re-derived at flush time from the packet's
                // original source, so queue it as it came.
                d.queue.push_back(packet.to_vec());
                self.ensure_building(now_ms, dest);
                Ok(())
            }
        }
    }

    /// Ask the driver for a path to `dest` unless a circuit is being built
    /// or a retry is not due.
    fn ensure_building(&mut self, now_ms: u64, dest: NodeId) {
        let Some(d) = self.dests.get_mut(&dest) else {
            return;
        };
        if d.building.is_some() || d.waiting_path || now_ms < d.retry_at_ms {
            return;
        }
        d.waiting_path = true;
        self.events.push_back(Event::NeedPath {
            dest,
            avoid: d.avoid.clone(),
        });
    }

    /// Build a circuit to `dest` through `relays` (the answer to
    /// [`Event::NeedPath`]; also usable on its own).
    pub fn build<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        dest: PathHop,
        relays: Vec<PathHop>,
    ) -> Result<(), super::select::SelectError> {
        use super::select::SelectError;
        if relays.len() + 1 > MAX_HOPS {
            return Err(SelectError::TooManyHops(relays.len()));
        }
        let mut path = relays;
        path.push(dest.clone());
        for (i, h) in path.iter().enumerate() {
            if h.id == self.my_id || h.orig == self.me || path[..i].iter().any(|o| o.id == h.id) {
                return Err(SelectError::BadPath);
            }
        }
        if !self.dests.contains_key(&dest.id) {
            if self.dests.len() >= MAX_DESTS {
                return Err(SelectError::BadPath);
            }
            self.dests.insert(dest.id, Dest::new());
        }
        let first = path[0].clone();
        let id = self.new_id(rng, first.orig);
        let (hs, create) = ntor::client_start(rng, &first.id, &first.onion);
        let key = (first.orig, id);
        let c = ClientCirc {
            dest: dest.id,
            path,
            hops: Vec::new(),
            pending: Some(hs),
            state: State::Building,
            started_ms: now_ms,
            step_ms: now_ms,
            ready_ms: 0,
            last_tx_ms: now_ms,
            last_rx_ms: now_ms,
            unanswered_since: None,
            ping_ms: 0,
            tx_bytes: 0,
            rx_bytes: 0,
        };
        self.outbound.insert(key, Out::Client(Box::new(c)));
        let d = self.dests.get_mut(&dest.id).expect("inserted");
        d.waiting_path = false;
        if let Some(old) = d.building.replace(key) {
            self.outbound.remove(&old);
        }
        let body = random_body(rng, &create);
        self.push_cell(key.0, key.1, &body);
        Ok(())
    }

    /// The driver found no path to `dest`: drop what waits, retry later.
    pub fn no_path(&mut self, now_ms: u64, dest: NodeId) {
        if let Some(d) = self.dests.get_mut(&dest) {
            d.waiting_path = false;
            self.stats.client_drop_no_path += d.queue.len() as u64;
            self.queued -= d.queue.len();
            d.queue.clear();
            d.fails = d.fails.saturating_add(1);
            d.retry_at_ms = now_ms + backoff(d.fails);
        }
    }

    fn circ(&mut self, key: LinkKey) -> Option<&mut ClientCirc> {
        match self.outbound.get_mut(&key) {
            Some(Out::Client(c)) => Some(c),
            _ => None,
        }
    }

    /// Seal `m` for the current end of circuit `key` and queue the cell.
    fn client_send<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        key: LinkKey,
        m: &Msg<'_>,
    ) {
        let Ok(p) = m.emit() else {
            self.stats.drop_msg += 1;
            return;
        };
        let Some(c) = self.circ(key) else { return };
        let layers: Vec<(&HopKeys, u64)> = c.hops.iter().map(|h| (&h.keys, h.fwd_nonce)).collect();
        let Ok(body) = cell::client_forward(rng, &layers, &p) else {
            return;
        };
        for h in &mut c.hops {
            h.fwd_nonce += 1;
        }
        c.last_tx_ms = now_ms;
        if let Msg::Data { packet, .. } = m {
            c.tx_bytes += packet.len() as u64;
        }
        if c.unanswered_since.is_none() {
            c.unanswered_since = Some(now_ms);
        }
        self.push_cell(key.0, key.1, &body);
    }

    /// A cell on one of our circuits, from its first hop.
    pub(super) fn client_backward_cell<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        key: LinkKey,
        body: &[u8; BODY_LEN],
    ) {
        let Some(Out::Client(c)) = self.outbound.get_mut(&key) else {
            return;
        };
        if c.hops.is_empty() {
            // The first hop's CREATED.
            let Some(hs) = c.pending.take() else { return };
            match hs.finish(&body[..CREATED_LEN]) {
                Ok(keys) => {
                    c.hops.push(ClientHop::new(keys, rng));
                    c.last_rx_ms = now_ms;
                    self.next_step(now_ms, rng, key);
                }
                Err(_) => {
                    self.stats.drop_bwd_auth += 1;
                    self.fail(now_ms, key, "first hop's CREATED did not authenticate");
                }
            }
            return;
        }
        let keys: Vec<&HopKeys> = c.hops.iter().map(|h| &h.keys).collect();
        let Ok((payload, nonce)) = cell::client_backward(&keys, body) else {
            self.stats.drop_bwd_auth += 1;
            return;
        };
        let end = c.hops.last_mut().expect("not empty");
        if !end.bwd_replay.check(nonce) {
            self.stats.drop_bwd_replay += 1;
            return;
        }
        end.bwd_replay.update(nonce);
        c.last_rx_ms = now_ms;
        c.unanswered_since = None;
        let Ok(m) = Msg::parse(&payload) else {
            self.stats.drop_msg += 1;
            return;
        };
        match m {
            Msg::Extended { created } if c.pending.is_some() => {
                let hs = c.pending.take().expect("checked");
                match hs.finish(created) {
                    Ok(keys) => {
                        c.hops.push(ClientHop::new(keys, rng));
                        self.next_step(now_ms, rng, key);
                    }
                    Err(_) => {
                        self.stats.drop_bwd_auth += 1;
                        self.fail(now_ms, key, "a relay's EXTENDED did not authenticate");
                    }
                }
            }
            Msg::Bound { ticket } if c.state == State::Binding => {
                c.state = State::Ready;
                c.ready_ms = now_ms;
                let (dest, ms, relays) = (c.dest, now_ms - c.started_ms, c.path.len() - 1);
                self.stats.client_built += 1;
                self.events.push_back(Event::Built { dest, ms, relays });
                self.promote(now_ms, rng, key, ticket);
            }
            Msg::Data { tag, packet } if c.state == State::Ready => {
                c.rx_bytes += packet.len() as u64;
                let dest = c.dest;
                let Some(src) = self
                    .dests
                    .get(&dest)
                    .and_then(|d| d.tags.get(usize::from(tag)))
                    .copied()
                else {
                    self.stats.drop_msg += 1;
                    return;
                };
                let mut p = packet.to_vec();
                if pseudo::set_destination(&mut p, src).is_err() {
                    self.stats.drop_msg += 1;
                    return;
                }
                self.stats.client_delivered += 1;
                self.events.push_back(Event::Deliver {
                    packet: p,
                    from: Some(dest),
                });
            }
            Msg::Pong(_) => {}
            _ => self.stats.drop_msg += 1,
        }
    }

    /// After a hop joined: extend to the next one, or bind.
    fn next_step<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R, key: LinkKey) {
        let Some(c) = self.circ(key) else { return };
        c.step_ms = now_ms;
        if c.hops.len() < c.path.len() {
            let next = c.path[c.hops.len()].clone();
            let (hs, create) = ntor::client_start(rng, &next.id, &next.onion);
            c.pending = Some(hs);
            self.client_send(
                now_ms,
                rng,
                key,
                &Msg::Extend {
                    next: next.orig,
                    create: &create,
                },
            );
        } else {
            c.state = State::Binding;
            let dest = c.dest;
            let ticket = self
                .dests
                .get(&dest)
                .and_then(|d| d.ticket)
                .unwrap_or([0; TICKET_LEN]);
            self.client_send(now_ms, rng, key, &Msg::Bind { ticket });
        }
    }

    /// A circuit is bound: it becomes the destination's current one, the
    /// previous one gets its grace, the queue flushes.
    fn promote<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        key: LinkKey,
        ticket: [u8; TICKET_LEN],
    ) {
        let Some(dest) = self.circ(key).map(|c| c.dest) else {
            return;
        };
        let Some(d) = self.dests.get_mut(&dest) else {
            return;
        };
        d.ticket = Some(ticket);
        if d.building == Some(key) {
            d.building = None;
        }
        if let Some(prev) = d.current.replace(key) {
            if prev != key {
                d.old.push((prev, now_ms + OLD_GRACE_MS));
                self.stats.client_rotated += 1;
            }
        }
        d.fails = 0;
        d.avoid.clear();
        let queued: Vec<Vec<u8>> = d.queue.drain(..).collect();
        self.queued -= queued.len();
        for p in queued {
            // Cannot fail for a different reason than at queue time.
            let _ = self.send_packet(now_ms, rng, dest, &p);
        }
    }

    /// Give up circuit `key` (a build step failed, or it died).
    fn fail(&mut self, now_ms: u64, key: LinkKey, why: &'static str) {
        let Some(Out::Client(c)) = self.outbound.remove(&key) else {
            return;
        };
        let dest = c.dest;
        self.events.push_back(Event::Failed { dest, why });
        let Some(d) = self.dests.get_mut(&dest) else {
            return;
        };
        if d.building == Some(key) {
            d.building = None;
            d.fails = d.fails.saturating_add(1);
            d.retry_at_ms = now_ms + backoff(d.fails);
            self.stats.client_failed += 1;
        }
        if d.current == Some(key) {
            d.current = None;
            self.stats.client_dead += 1;
        }
        d.avoid = c.path[..c.path.len() - 1].iter().map(|h| h.id).collect();
    }

    pub(super) fn client_timers<R: RngCore + CryptoRng>(&mut self, now_ms: u64, rng: &mut R) {
        let mut fails = Vec::new();
        let mut pings = Vec::new();
        let mut idle = Vec::new();
        for (key, out) in &self.outbound {
            let Out::Client(c) = out else { continue };
            match c.state {
                State::Building | State::Binding => {
                    if now_ms.saturating_sub(c.step_ms) >= BUILD_STEP_TIMEOUT_MS {
                        fails.push((*key, "a build step timed out"));
                    }
                }
                State::Ready => {
                    if let Some(t) = c.unanswered_since {
                        let waited = now_ms.saturating_sub(t);
                        if waited >= DEAD_AFTER_MS {
                            fails.push((*key, "nothing came back: a hop is gone"));
                        } else if waited >= PING_AFTER_MS
                            && now_ms.saturating_sub(c.ping_ms) >= PING_AFTER_MS
                        {
                            pings.push(*key);
                        }
                    } else if now_ms.saturating_sub(c.last_tx_ms.max(c.last_rx_ms))
                        >= CLIENT_IDLE_MS
                    {
                        idle.push(*key);
                    }
                }
            }
        }
        for (key, why) in fails {
            self.fail(now_ms, key, why);
        }
        for key in pings {
            if let Some(c) = self.circ(key) {
                c.ping_ms = now_ms;
            }
            let mut b = [0u8; 8];
            rng.fill_bytes(&mut b);
            self.client_send(now_ms, rng, key, &Msg::Ping(b));
        }
        for key in idle {
            if let Some(Out::Client(c)) = self.outbound.remove(&key) {
                if let Some(d) = self.dests.get_mut(&c.dest) {
                    if d.current == Some(key) {
                        d.current = None;
                    }
                    d.old.retain(|(k, _)| *k != key);
                }
            }
        }
        // Old circuits past their grace; rotation; rebuilds for
        // destinations in use.
        let mut gone = Vec::new();
        let mut want = Vec::new();
        for (dest, d) in self.dests.iter_mut() {
            d.old.retain(|(k, until)| {
                let keep = now_ms < *until;
                if !keep {
                    gone.push(*k);
                }
                keep
            });
            let in_use = now_ms.saturating_sub(d.last_use_ms) < CLIENT_IDLE_MS;
            let rotate = d.current.is_some_and(|k| match self.outbound.get(&k) {
                Some(Out::Client(c)) => now_ms.saturating_sub(c.ready_ms) >= self.cfg.rotate_ms,
                _ => false,
            });
            if (d.current.is_none() && (in_use || !d.queue.is_empty())) || (rotate && in_use) {
                want.push(*dest);
            }
        }
        for k in gone {
            self.outbound.remove(&k);
        }
        for dest in want {
            self.ensure_building(now_ms, dest);
        }
        self.forget_idle_dests(now_ms, DEST_FORGET_MS);
    }

    /// Forget destinations with no circuit, nothing queued and no use for
    /// `idle_ms`.
    fn forget_idle_dests(&mut self, now_ms: u64, idle_ms: u64) {
        self.dests.retain(|_, d| {
            d.current.is_some()
                || d.building.is_some()
                || !d.queue.is_empty()
                || now_ms.saturating_sub(d.last_use_ms) < idle_ms.max(1)
        });
    }
}

impl ClientHop {
    fn new<R: RngCore>(keys: HopKeys, rng: &mut R) -> Self {
        ClientHop {
            keys,
            fwd_nonce: random_start(rng),
            bwd_replay: ReplayWindow::new(),
        }
    }
}

impl Dest {
    fn new() -> Self {
        Dest {
            ticket: None,
            tags: Vec::new(),
            current: None,
            building: None,
            old: Vec::new(),
            queue: VecDeque::new(),
            last_use_ms: 0,
            waiting_path: false,
            retry_at_ms: 0,
            fails: 0,
            avoid: Vec::new(),
        }
    }
}

fn backoff(fails: u32) -> u64 {
    (RETRY_MIN_MS << fails.saturating_sub(1).min(5)).min(RETRY_MAX_MS)
}

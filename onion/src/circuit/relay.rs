//! The relay and end roles: circuits others opened to us.
//!
//! Per circuit a relay keeps the inbound key (previous hop, id), the hop
//! keys, a forward replay window, its backward counter (from a random
//! start) and where the circuit goes next: nowhere yet (we are its end),
//! a pending extension, or (next hop, id). Nothing else: no path, no
//! client, no destination.
//!
//! Limits: [`Config::max_circuits`] in total, [`Config::max_per_prev`]
//! per previous hop, and a token bucket of [`Config::create_rate`] per
//! second (burst [`Config::create_burst`]) per previous hop, charged
//! before any public-key work, so a neighbour flooding CREATEs spends only
//! its own allowance. A circuit idle for [`RELAY_IDLE_MS`] is forgotten;
//! an extension unanswered for [`EXTEND_TIMEOUT_MS`] is abandoned.

use rand_core::{CryptoRng, RngCore};

use super::msg::Msg;
use super::{random_body, random_start, Config, LinkKey, Mac, Onion, Out};
use crate::cell::{self, BODY_LEN, PAYLOAD_LEN};
use crate::ntor::{self, HopKeys, CREATED_LEN, CREATE_LEN};
use crate::replay::ReplayWindow;

/// A relayed circuit with no cell either way for this long is forgotten.
pub const RELAY_IDLE_MS: u64 = 60_000;
/// An EXTEND whose CREATED has not come back after this long is abandoned.
pub const EXTEND_TIMEOUT_MS: u64 = 5_000;

/// Where a circuit goes after us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// We are its end: we read its messages.
    End,
    /// We sent a CREATE to the next hop and wait for its CREATED.
    Extending { to: LinkKey, since_ms: u64 },
    /// We relay to (next hop, id).
    Relay(LinkKey),
}

/// One circuit we relay or end.
pub(crate) struct RelayCirc {
    pub(crate) keys: HopKeys,
    fwd_replay: ReplayWindow,
    bwd_counter: u64,
    pub(crate) next: Next,
    last_ms: u64,
    /// The pseudonym group bound to it (at the destination).
    pub(crate) group: Option<[u8; super::msg::TICKET_LEN]>,
}

/// A previous hop's CREATE allowance.
pub(crate) struct Allowance {
    /// Thousandths of a CREATE.
    milli_tokens: u64,
    last_ms: u64,
    circuits: usize,
}

/// What a relay may show about its circuits: counts only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayCounts {
    /// Circuits we relay to a next hop.
    pub relaying: usize,
    /// Circuits that end here (being extended or at their destination).
    pub ending: usize,
    /// Extensions waiting for the next hop's CREATED.
    pub extending: usize,
    /// Previous hops holding circuits.
    pub prev_hops: usize,
    /// Pseudonym groups (clients' flows) at this destination.
    pub groups: usize,
    /// Pseudonym addresses in use here.
    pub pseudonyms: usize,
}

impl Onion {
    /// Counts of the circuits others opened through or to us.
    pub fn relay_counts(&self) -> RelayCounts {
        let mut c = RelayCounts {
            prev_hops: self.prevs.values().filter(|a| a.circuits > 0).count(),
            groups: self.groups.len(),
            pseudonyms: self.pseudonyms.len(),
            ..RelayCounts::default()
        };
        for r in self.inbound.values() {
            match r.next {
                Next::End => c.ending += 1,
                Next::Extending { .. } => {
                    c.ending += 1;
                    c.extending += 1
                }
                Next::Relay(_) => c.relaying += 1,
            }
        }
        c
    }

    /// An unknown id in the peer's half: a CREATE.
    pub(super) fn on_create<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        key: LinkKey,
        body: &[u8; BODY_LEN],
    ) {
        let (prev, id) = key;
        let Config {
            max_circuits,
            max_per_prev,
            create_rate,
            create_burst,
            ..
        } = self.cfg;
        if !self.prevs.contains_key(&prev) && self.prevs.len() >= super::MAX_PREVS {
            self.stats.create_cap += 1;
            return;
        }
        let a = self.prevs.entry(prev).or_insert(Allowance {
            milli_tokens: u64::from(create_burst) * 1000,
            last_ms: now_ms,
            circuits: 0,
        });
        let refill = now_ms.saturating_sub(a.last_ms) * u64::from(create_rate);
        a.milli_tokens = (a.milli_tokens + refill).min(u64::from(create_burst) * 1000);
        a.last_ms = now_ms;
        if a.milli_tokens < 1000 {
            self.stats.create_rate_limited += 1;
            return;
        }
        a.milli_tokens -= 1000;
        if a.circuits >= max_per_prev {
            self.stats.create_prev_cap += 1;
            return;
        }
        if self.inbound.len() >= max_circuits {
            self.stats.create_cap += 1;
            return;
        }
        let Ok((keys, created)) =
            ntor::server_respond(rng, &self.my_id, &self.keys, &body[..CREATE_LEN])
        else {
            self.stats.create_bad += 1;
            return;
        };
        a.circuits += 1;
        self.inbound.insert(
            key,
            RelayCirc {
                keys,
                fwd_replay: ReplayWindow::new(),
                bwd_counter: random_start(rng),
                next: Next::End,
                last_ms: now_ms,
                group: None,
            },
        );
        self.stats.create_ok += 1;
        let reply = random_body(rng, &created);
        self.push_cell(prev, id, &reply);
    }

    /// A cell on a circuit others opened to us: peel our layer, then relay
    /// it or read it.
    pub(super) fn relay_forward_cell<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        key: LinkKey,
        body: &mut [u8; BODY_LEN],
    ) {
        let Some(c) = self.inbound.get_mut(&key) else {
            return;
        };
        let nonce = cell::forward_nonce(&c.keys, body);
        if !c.fwd_replay.check(nonce) {
            self.stats.drop_fwd_replay += 1;
            return;
        }
        if cell::hop_forward(&c.keys, body).is_err() {
            self.stats.drop_fwd_auth += 1;
            return;
        }
        c.fwd_replay.update(nonce);
        c.last_ms = now_ms;
        match c.next {
            Next::Relay((next, id)) => {
                self.stats.relayed_fwd += 1;
                self.push_cell(next, id, body);
            }
            Next::End | Next::Extending { .. } => {
                let p = *cell::payload(body);
                self.end_message(now_ms, rng, key, &p);
            }
        }
    }

    /// A cell from the next hop of a circuit we relay: the CREATED we wait
    /// for, or a backward cell to add our layer to.
    pub(super) fn relay_backward_cell(
        &mut self,
        now_ms: u64,
        outkey: LinkKey,
        inkey: LinkKey,
        body: &mut [u8; BODY_LEN],
    ) {
        let Some(c) = self.inbound.get_mut(&inkey) else {
            self.outbound.remove(&outkey);
            self.stats.drop_unknown_id += 1;
            return;
        };
        match c.next {
            Next::Extending { to, .. } if to == outkey => {
                c.next = Next::Relay(outkey);
                c.last_ms = now_ms;
                self.stats.extend_ok += 1;
                let created: [u8; CREATED_LEN] =
                    body[..CREATED_LEN].try_into().expect("CREATED_LEN");
                self.end_send(inkey, &Msg::Extended { created: &created });
            }
            Next::Relay(to) if to == outkey => {
                cell::relay_backward(&c.keys, c.bwd_counter, body);
                c.bwd_counter += 1;
                c.last_ms = now_ms;
                self.stats.relayed_bwd += 1;
                self.push_cell(inkey.0, inkey.1, body);
            }
            _ => self.stats.drop_unknown_id += 1,
        }
    }

    /// A message for the end of the circuit `key` (us).
    fn end_message<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        key: LinkKey,
        payload: &[u8; PAYLOAD_LEN],
    ) {
        let Ok(m) = Msg::parse(payload) else {
            self.stats.drop_msg += 1;
            return;
        };
        match m {
            Msg::Extend { next, create } => self.on_extend(now_ms, rng, key, next, create),
            Msg::Data { tag, packet } => self.exit_data(now_ms, rng, key, tag, packet),
            Msg::Bind { ticket } => self.exit_bind(now_ms, rng, key, ticket),
            Msg::Ping(b) => self.end_send(key, &Msg::Pong(b)),
            _ => self.stats.drop_msg += 1,
        }
    }

    fn on_extend<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        key: LinkKey,
        next: Mac,
        create: &[u8; CREATE_LEN],
    ) {
        let ok =
            matches!(self.inbound.get(&key), Some(c) if c.next == Next::End && c.group.is_none());
        if !ok || next == self.me || next == key.0 || next == [0; 6] {
            self.stats.extend_bad += 1;
            return;
        }
        let id = self.new_id(rng, next);
        self.outbound.insert((next, id), Out::Relay(key));
        if let Some(c) = self.inbound.get_mut(&key) {
            c.next = Next::Extending {
                to: (next, id),
                since_ms: now_ms,
            };
        }
        let body = random_body(rng, create);
        self.push_cell(next, id, &body);
    }

    /// Send `m` back to the client of circuit `key`, sealed as its end.
    pub(super) fn end_send(&mut self, key: LinkKey, m: &Msg<'_>) {
        let Some(c) = self.inbound.get_mut(&key) else {
            return;
        };
        let Ok(p) = m.emit() else {
            self.stats.drop_msg += 1;
            return;
        };
        let body = cell::dest_backward(&c.keys, c.bwd_counter, &p);
        c.bwd_counter += 1;
        self.push_cell(key.0, key.1, &body);
    }

    /// Forget idle circuits and abandoned extensions.
    pub(super) fn relay_timers(&mut self, now_ms: u64) {
        let mut gone = Vec::new();
        for (key, c) in self.inbound.iter_mut() {
            if now_ms.saturating_sub(c.last_ms) >= RELAY_IDLE_MS {
                gone.push(*key);
            } else if let Next::Extending { to, since_ms } = c.next {
                if now_ms.saturating_sub(since_ms) >= EXTEND_TIMEOUT_MS {
                    c.next = Next::End;
                    self.outbound.remove(&to);
                    self.stats.extend_timeout += 1;
                }
            }
        }
        for key in gone {
            self.stats.relay_idle_expired += 1;
            self.remove_inbound(key);
        }
        let (rate, burst) = (self.cfg.create_rate, self.cfg.create_burst);
        self.prevs.retain(|_, a| {
            let full = a.milli_tokens + now_ms.saturating_sub(a.last_ms) * u64::from(rate)
                >= u64::from(burst) * 1000;
            a.circuits > 0 || !full
        });
    }

    pub(super) fn remove_inbound(&mut self, key: LinkKey) {
        let Some(c) = self.inbound.remove(&key) else {
            return;
        };
        match c.next {
            Next::Relay(to) | Next::Extending { to, .. } => {
                self.outbound.remove(&to);
            }
            Next::End => {}
        }
        if let Some(a) = self.prevs.get_mut(&key.0) {
            a.circuits = a.circuits.saturating_sub(1);
        }
        if let Some(t) = c.group {
            if let Some(g) = self.groups.get_mut(&t) {
                if g.circuit == Some(key) {
                    g.circuit = None;
                }
            }
        }
    }
}

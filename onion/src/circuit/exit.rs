//! The destination's side: pseudonym groups.
//!
//! A client binds each circuit it builds to us to a *group* (BIND with a
//! ticket; a zero ticket asks for a new group, whose random ticket BOUND
//! returns). A group maps the client's flow tags to pseudonym addresses
//! ([`crate::pseudo`], fd6d:6573:6864::/48, 80 random bits each) and
//! points at the circuit bound last, so a new circuit (rotation, a dead
//! relay) that presents the ticket keeps the pseudonyms, and the flows of
//! the apps on both sides survive. The ticket is the only link between a
//! group's circuits, and only the destination and the client see it.
//!
//! DATA from the client must carry the unspecified source (::); we write
//! the pseudonym of its tag there. A packet to a pseudonym goes back along
//! the group's circuit with its destination zeroed. A group idle for
//! [`GROUP_IDLE_MS`] is forgotten with its pseudonyms; at [`MAX_GROUPS`]
//! the longest idle one makes room.

use std::net::Ipv6Addr;

use rand_core::{CryptoRng, RngCore};

use super::msg::{Msg, TICKET_LEN};
use super::{LinkKey, Onion, SendError};
use crate::pseudo;

/// A group with no traffic for this long is forgotten (15 min).
pub const GROUP_IDLE_MS: u64 = 900_000;
/// Groups a destination keeps at most.
pub const MAX_GROUPS: usize = 4096;
/// Flow tags (client sources) per group at most.
pub const MAX_TAGS: usize = 64;
/// Pseudonyms a destination hands out at most, all groups together; a new
/// one beyond makes room by forgetting the longest idle group.
pub const MAX_PSEUDONYMS: usize = 16_384;

pub(crate) struct Group {
    pub(crate) circuit: Option<LinkKey>,
    tags: Vec<(u16, Ipv6Addr)>,
    last_ms: u64,
}

/// Which group and tag a pseudonym stands for.
pub(crate) struct PseudonymOf {
    ticket: [u8; TICKET_LEN],
    tag: u16,
}

impl Onion {
    pub(super) fn exit_bind<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        key: LinkKey,
        ticket: [u8; TICKET_LEN],
    ) {
        let ticket = if ticket != [0; TICKET_LEN] && self.groups.contains_key(&ticket) {
            ticket
        } else {
            if self.groups.len() >= MAX_GROUPS {
                self.evict_group();
            }
            let mut t = [0u8; TICKET_LEN];
            while t == [0; TICKET_LEN] || self.groups.contains_key(&t) {
                rng.fill_bytes(&mut t);
            }
            self.groups.insert(
                t,
                Group {
                    circuit: None,
                    tags: Vec::new(),
                    last_ms: now_ms,
                },
            );
            t
        };
        let g = self.groups.get_mut(&ticket).expect("inserted or present");
        let old = g.circuit.replace(key);
        g.last_ms = now_ms;
        if let Some(old) = old.filter(|o| *o != key) {
            if let Some(c) = self.inbound.get_mut(&old) {
                c.group = None;
            }
        }
        if let Some(c) = self.inbound.get_mut(&key) {
            if let Some(prev) = c.group.replace(ticket).filter(|p| *p != ticket) {
                if let Some(g) = self.groups.get_mut(&prev) {
                    g.circuit = None;
                }
            }
        }
        self.end_send(key, &Msg::Bound { ticket });
    }

    pub(super) fn exit_data<R: RngCore + CryptoRng>(
        &mut self,
        now_ms: u64,
        rng: &mut R,
        key: LinkKey,
        tag: u16,
        packet: &[u8],
    ) {
        let Some(ticket) = self.inbound.get(&key).and_then(|c| c.group) else {
            self.stats.exit_drop_unbound += 1;
            return;
        };
        if pseudo::source(packet) != Ok(Ipv6Addr::UNSPECIFIED) {
            self.stats.exit_drop_source += 1;
            return;
        }
        let Some(g) = self.groups.get_mut(&ticket) else {
            self.stats.exit_drop_unbound += 1;
            return;
        };
        g.last_ms = now_ms;
        let addr = match g.tags.iter().find(|(t, _)| *t == tag) {
            Some((_, a)) => *a,
            None if g.tags.len() >= MAX_TAGS => {
                self.stats.exit_drop_tags += 1;
                return;
            }
            None => {
                if self.pseudonyms.len() >= MAX_PSEUDONYMS {
                    self.evict_group_except(ticket);
                }
                let Some(g) = self.groups.get_mut(&ticket) else {
                    return;
                };
                let a = loop {
                    let mut host = [0u8; 10];
                    rng.fill_bytes(&mut host);
                    let a = pseudo::pseudonym(host);
                    if !self.pseudonyms.contains_key(&a) {
                        break a;
                    }
                };
                g.tags.push((tag, a));
                self.pseudonyms.insert(a, PseudonymOf { ticket, tag });
                a
            }
        };
        let mut p = packet.to_vec();
        if pseudo::set_source(&mut p, addr).is_err() {
            self.stats.exit_drop_source += 1;
            return;
        }
        self.stats.exit_delivered += 1;
        self.events.push_back(super::Event::Deliver {
            packet: p,
            from: None,
        });
    }

    /// A packet from our side to one of our pseudonyms: back along the
    /// circuit its group is bound to, destination zeroed.
    pub fn reply_packet(&mut self, now_ms: u64, packet: &[u8]) -> Result<(), SendError> {
        let r = self.reply_inner(now_ms, packet);
        match r {
            Ok(()) => self.stats.reply_ok += 1,
            Err(_) => self.stats.reply_drop += 1,
        }
        r
    }

    fn reply_inner(&mut self, now_ms: u64, packet: &[u8]) -> Result<(), SendError> {
        if packet.len() > super::msg::MAX_PACKET {
            return Err(SendError::TooBig(packet.len()));
        }
        let dst = pseudo::destination(packet).map_err(SendError::BadPacket)?;
        let of = self
            .pseudonyms
            .get(&dst)
            .ok_or(SendError::UnknownPseudonym)?;
        let tag = of.tag;
        let g = self
            .groups
            .get_mut(&of.ticket)
            .ok_or(SendError::UnknownPseudonym)?;
        let key = g.circuit.ok_or(SendError::UnknownPseudonym)?;
        if !self.inbound.contains_key(&key) {
            return Err(SendError::UnknownPseudonym);
        }
        g.last_ms = now_ms;
        let mut p = packet.to_vec();
        pseudo::set_destination(&mut p, Ipv6Addr::UNSPECIFIED).map_err(SendError::BadPacket)?;
        self.end_send(key, &Msg::Data { tag, packet: &p });
        Ok(())
    }

    fn evict_group(&mut self) {
        self.evict_group_except([0; TICKET_LEN]);
    }

    /// Forget the longest idle group other than `keep`.
    fn evict_group_except(&mut self, keep: [u8; TICKET_LEN]) {
        let Some(t) = self
            .groups
            .iter()
            .filter(|(t, _)| **t != keep)
            .min_by_key(|(_, g)| g.last_ms)
            .map(|(t, _)| *t)
        else {
            return;
        };
        self.remove_group(t);
    }

    fn remove_group(&mut self, t: [u8; TICKET_LEN]) {
        if let Some(g) = self.groups.remove(&t) {
            for (_, a) in g.tags {
                self.pseudonyms.remove(&a);
            }
            if let Some(key) = g.circuit {
                if let Some(c) = self.inbound.get_mut(&key) {
                    c.group = None;
                }
            }
        }
    }

    pub(super) fn exit_timers(&mut self, now_ms: u64) {
        let old: Vec<_> = self
            .groups
            .iter()
            .filter(|(_, g)| now_ms.saturating_sub(g.last_ms) >= GROUP_IDLE_MS)
            .map(|(t, _)| *t)
            .collect();
        for t in old {
            self.remove_group(t);
        }
    }

    /// Is `a` one of our pseudonyms (a reply goes through [`Onion::reply_packet`])?
    pub fn is_our_pseudonym(&self, a: &Ipv6Addr) -> bool {
        self.pseudonyms.contains_key(a)
    }
}

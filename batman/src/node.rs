//! [`Node`]: one BATMAN IV router, as a deterministic state machine.
//!
//! This file holds the node's state, its public API, the tables' bounded
//! insertion and eviction, route selection and the timers. OGM processing
//! lives in `ogm.rs`, the data path (unicast, broadcast, ICMP, unicast TVLV)
//! in `data.rs`.

use std::collections::VecDeque;

use rand_core::RngCore;

use crate::api::*;
use crate::config::{
    Config, ConfigError, PROBATION_SEQNOS, PURGE_PERIOD, ROUTE_HYSTERESIS, TRAFFIC_PROTECTION,
};
use crate::iface::Iface;
use crate::neigh::Link;
use crate::orig::{Orig, Via};
use crate::stats::Stats;
use crate::table::{LinkKey, Slab};
use crate::time::Instant;
use crate::txq::TxQueue;
use crate::wire::{self, Mac};
use core::time::Duration;

/// One BATMAN IV node. See the crate docs for the contract.
pub struct Node<R: RngCore> {
    pub(crate) config: Config,
    pub(crate) rng: R,
    pub(crate) now: Instant,
    pub(crate) stats: Stats,
    pub(crate) ifaces: Vec<Option<Iface>>,
    pub(crate) primary: Option<IfaceId>,
    pub(crate) links: Slab<LinkKey, Link>,
    pub(crate) origs: Slab<Mac, Orig>,
    pub(crate) txq: TxQueue,
    events: VecDeque<Event>,
    /// Route re-evaluations due when a round's grace period ends:
    /// (when, originator slot, its MAC to detect slot reuse).
    regrade: VecDeque<(Instant, u32, Mac)>,
    next_purge: Instant,
    pub(crate) ogm_tvlvs: Vec<u8>,
    pub(crate) bcast_seqno: u32,
    /// Originators whose route went away during the current input (see
    /// `withdraw.rs`); at most `max_originators`.
    pub(crate) withdrawn: Vec<Mac>,
    /// Fragments of packets addressed to us, being reassembled.
    pub(crate) frags: crate::frag::Reassembly,
    pub(crate) frag_seqno: u16,
    /// Translation tables (local and global clients).
    pub(crate) tt: crate::tt::Tt,
    /// Our own gateway announcement, if any (see `gw.rs`).
    pub(crate) gateway: Option<wire::tvlv_data::GwData>,
}

impl<R: RngCore> Node<R> {
    /// A node with no interfaces yet. `rng` supplies every random choice
    /// (jitter, initial seqnos): seed it for a reproducible run.
    pub fn new(config: Config, mut rng: R, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        let l = config.limits;
        let bcast_seqno = rng.next_u32();
        Ok(Node {
            rng,
            now,
            stats: Stats::default(),
            ifaces: Vec::new(),
            primary: None,
            links: Slab::new(l.max_neighbours),
            origs: Slab::new(l.max_originators),
            txq: TxQueue::new(l.max_tx_queue),
            events: VecDeque::new(),
            regrade: VecDeque::new(),
            next_purge: now + PURGE_PERIOD,
            ogm_tvlvs: Vec::new(),
            bcast_seqno,
            withdrawn: Vec::new(),
            frags: crate::frag::Reassembly::default(),
            frag_seqno: 0,
            tt: crate::tt::Tt::new(),
            gateway: None,
            config,
        })
    }

    /// Move the node's clock forward to `now` (never back).
    pub(crate) fn advance(&mut self, now: Instant) {
        if now > self.now {
            self.now = now;
        }
    }

    // ----- interfaces ---------------------------------------------------

    /// Add a hard interface; the first one added is the primary. Its first
    /// own OGM goes out within 100 ms, so a fresh node is heard at once.
    pub fn add_iface(&mut self, now: Instant, cfg: IfaceConfig) -> Result<IfaceId, IfaceError> {
        self.advance(now);
        let live = self.ifaces.iter().flatten().count();
        if live >= self.config.limits.max_interfaces {
            return Err(IfaceError::TooMany(self.config.limits.max_interfaces));
        }
        if !cfg.mac.is_unicast() {
            return Err(IfaceError::BadMac(cfg.mac));
        }
        if self.is_own_mac(cfg.mac) {
            return Err(IfaceError::Duplicate(cfg.mac));
        }
        if cfg.mtu < 64 {
            return Err(IfaceError::Mtu(cfg.mtu));
        }
        let seqno = self.rng.next_u32();
        let first = self.now + Duration::from_micros(self.rng.next_u64() % 100_000);
        let ifc = Iface {
            cfg,
            up: true,
            seqno,
            last_sent: seqno.wrapping_sub(1),
            next_ogm: first,
        };
        let slot = match self.ifaces.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.ifaces.push(None);
                self.ifaces.len() - 1
            }
        };
        self.ifaces[slot] = Some(ifc);
        let id = IfaceId(slot as u8);
        if self.primary.is_none() {
            self.primary = Some(id);
        }
        Ok(id)
    }

    /// Remove a hard interface and everything learned through it. If it was
    /// the primary, the lowest remaining interface becomes primary.
    pub fn remove_iface(&mut self, now: Instant, iface: IfaceId) -> Result<(), IfaceError> {
        self.advance(now);
        if self.iface(iface).is_none() {
            return Err(IfaceError::Unknown);
        }
        self.drop_links_on(iface, NeighbourDownReason::Carrier);
        self.txq.flush_iface(iface);
        self.ifaces[iface.0 as usize] = None;
        if self.primary == Some(iface) {
            self.primary = self
                .ifaces
                .iter()
                .position(Option::is_some)
                .map(|i| IfaceId(i as u8));
        }
        self.flush_withdrawals();
        Ok(())
    }

    /// Carrier (link state) of an interface changed. Down drops its
    /// neighbours at once (routes move to other links without waiting for
    /// OGMs to time out); up sends an own OGM within 100 ms.
    pub fn set_carrier(&mut self, now: Instant, iface: IfaceId, up: bool) {
        self.advance(now);
        let first = self.now + Duration::from_micros(self.rng.next_u64() % 100_000);
        let Some(ifc) = self.iface_mut(iface) else {
            return;
        };
        if ifc.up == up {
            return;
        }
        ifc.up = up;
        if up {
            ifc.next_ogm = first;
        } else {
            self.drop_links_on(iface, NeighbourDownReason::Carrier);
            self.txq.flush_iface(iface);
            self.flush_withdrawals();
        }
    }

    /// The driver knows a neighbour is gone (e.g. netlink): drop it at once.
    pub fn neighbour_lost(&mut self, now: Instant, iface: IfaceId, mac: Mac) {
        self.advance(now);
        if let Some(id) = self.links.find(&(iface.0, mac)) {
            self.drop_link(id, NeighbourDownReason::Lost);
        }
        self.flush_withdrawals();
    }

    // ----- inputs ---------------------------------------------------------

    /// A batman-adv frame arrived on `iface` from `src` to `dst`; `payload`
    /// follows the Ethernet header. Malformed or hostile frames are dropped
    /// and counted in [`Stats`]; nothing here panics on any input.
    pub fn handle_frame(
        &mut self,
        now: Instant,
        iface: IfaceId,
        src: Mac,
        dst: Mac,
        payload: &[u8],
    ) {
        self.advance(now);
        self.stats.rx_frames += 1;
        self.stats.rx_bytes += (payload.len() + wire::ETH_HLEN) as u64;
        match self.iface(iface) {
            Some(i) if i.up => {
                // Nothing larger than the interface's MTU is ever kept, so
                // queued frames and events are bounded by it.
                if payload.len() > i.cfg.mtu as usize {
                    self.stats.drop_oversize += 1;
                    return;
                }
            }
            _ => {
                self.stats.drop_unknown_type += 1;
                return;
            }
        }
        if !src.is_unicast() {
            self.stats.drop_malformed += 1;
            return;
        }
        if self.is_own_mac(src) {
            self.stats.drop_own += 1;
            return;
        }
        let ty = match wire::peek_type(payload) {
            Ok(t) => t,
            Err(e) => return self.count_parse_error(e),
        };
        match ty {
            wire::PacketType::IvOgm => self.recv_ogm_frame(iface, src, payload),
            _ => self.recv_data(iface, src, dst, ty, payload),
        }
        self.flush_withdrawals();
    }

    /// Run timers due at `now`: own OGMs, route re-evaluation, purges.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        let now = self.now;
        let interval = self.config.orig_interval;
        let jitter = self.config.orig_jitter.as_micros() as u64;
        for i in 0..self.ifaces.len() {
            let id = IfaceId(i as u8);
            // The primary's OGM carries the node's identity: it keeps going
            // out of the other interfaces while the primary has no carrier.
            let alive = Some(id) == self.primary || self.iface(id).is_some_and(|f| f.up);
            let due = alive && self.iface(id).is_some_and(|f| f.next_ogm <= now);
            if due {
                self.emit_own_ogm(id);
                let j = if jitter > 0 {
                    self.rng.next_u64() % (2 * jitter)
                } else {
                    0
                };
                let next =
                    now + interval - Duration::from_micros(jitter) + Duration::from_micros(j);
                if let Some(f) = self.iface_mut(id) {
                    f.next_ogm = next;
                }
            }
        }
        while let Some(&(t, oid, mac)) = self.regrade.front() {
            if t > now {
                break;
            }
            self.regrade.pop_front();
            if self.origs.key(oid as usize) == Some(mac) {
                self.select_route(oid as usize);
            }
        }
        if now >= self.next_purge {
            self.next_purge = now + PURGE_PERIOD;
            self.purge();
            self.tt.purge(now);
        }
        self.flush_withdrawals();
    }

    /// TVLV area appended to every own primary OGM from now on (must be a
    /// valid TVLV area; meshd puts TT, GW and its own announcements here).
    pub fn set_ogm_tvlvs(&mut self, tvlvs: Vec<u8>) -> Result<(), wire::Error> {
        wire::tvlv::check_area(&tvlvs)?;
        if tvlvs.len() > usize::from(u16::MAX) || tvlvs.len() % 2 == 1 {
            return Err(wire::Error::Malformed(
                "OGM TVLV area must be even and < 64 KiB",
            ));
        }
        self.ogm_tvlvs = tvlvs;
        Ok(())
    }

    // ----- outputs --------------------------------------------------------

    /// Next frame to send now, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let p = self.txq.pop_due(self.now)?;
        let src = self.iface(p.iface).map(|i| i.cfg.mac)?;
        let len = (p.payload.len() + wire::ETH_HLEN) as u64;
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += len;
        if p.ogms > 0 {
            self.stats.tx_ogm_frames += 1;
            self.stats.tx_ogm_bytes += len;
        }
        Some(Transmit {
            iface: p.iface,
            src,
            dst: p.dst,
            payload: p.payload,
        })
    }

    /// Next event for the upper layers, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When `handle_timeout` must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let ogm = self
            .ifaces
            .iter()
            .enumerate()
            .filter(|(n, i)| {
                i.as_ref()
                    .is_some_and(|i| i.up || self.primary == Some(IfaceId(*n as u8)))
            })
            .filter_map(|(_, i)| i.as_ref().map(|i| i.next_ogm))
            .min();
        [
            ogm,
            self.txq.next_due(),
            self.regrade.front().map(|r| r.0),
            Some(self.next_purge),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ----- queries --------------------------------------------------------

    /// MAC of the primary interface (the node's originator address).
    pub fn primary_mac(&self) -> Option<Mac> {
        self.primary.and_then(|p| self.iface(p)).map(|i| i.cfg.mac)
    }

    /// Is `mac` one of our interface MACs?
    pub fn is_own_mac(&self, mac: Mac) -> bool {
        self.ifaces.iter().flatten().any(|i| i.cfg.mac == mac)
    }

    /// Next hop towards originator `dest`.
    pub fn next_hop(&self, dest: Mac) -> Option<NextHop> {
        let oid = self.origs.find(&dest)?;
        self.router_of(oid)
    }

    /// Is `orig` one batman hop away: does its own OGM reach us over the
    /// link we route to it by, undecremented (TTL as we originate ours:
    /// meshd and batman-adv both default to 50)? Its next hop's MAC alone
    /// does not say: a neighbour reached on its secondary interface has
    /// another MAC than its originator.
    pub fn is_one_hop(&self, orig: Mac) -> bool {
        let Some(o) = self.origs.find(&orig).and_then(|i| self.origs.get(i)) else {
            return false;
        };
        o.router
            .and_then(|r| o.via(r))
            .is_some_and(|v| v.last_ttl >= self.config.ttl)
    }

    /// The originator table (`batctl o`), in table order.
    pub fn originators(&self) -> Vec<OriginatorInfo> {
        self.origs
            .iter()
            .map(|(oid, mac, o)| OriginatorInfo {
                orig: *mac,
                last_seen: o.last_seen,
                router: self.router_of(oid),
                candidates: o.vias.iter().filter_map(|v| self.hop_of(o, v)).collect(),
            })
            .collect()
    }

    /// The neighbour table (`batctl n`), in table order.
    pub fn neighbours(&self) -> Vec<NeighbourInfo> {
        self.links
            .iter()
            .map(|(id, _, l)| NeighbourInfo {
                iface: l.iface,
                mac: l.mac,
                last_seen: l.last_seen,
                tq_own: self.link_factors(id as u32).0 as u8,
            })
            .collect()
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The time of the last input.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Heap held by the tables and queues, from their capacities.
    pub fn memory_usage(&self) -> MemoryUsage {
        let vias: usize = self.origs.iter().map(|(_, _, o)| o.vias.len()).sum();
        let events: usize = self.events.iter().map(event_heap).sum::<usize>()
            + self.events.capacity() * core::mem::size_of::<Event>();
        let bytes = self.origs.heap_bytes()
            + self.links.heap_bytes()
            + self.txq.heap_bytes()
            + events
            + self.regrade.capacity() * core::mem::size_of::<(Instant, u32, Mac)>()
            + self.ifaces.capacity() * core::mem::size_of::<Option<Iface>>()
            + self.withdrawn.capacity() * core::mem::size_of::<Mac>()
            + self.frags.heap_bytes()
            + self.tt.heap_bytes()
            + self.ogm_tvlvs.capacity();
        MemoryUsage {
            originators: self.origs.len(),
            neighbours: self.links.len(),
            vias,
            tx_queue: self.txq.len(),
            events: self.events.len(),
            bytes,
        }
    }

    /// Worst case of [`memory_usage`](Self::memory_usage)`().bytes` under
    /// the configured limits and the current interfaces, whatever arrives:
    /// every table full, every queued frame and every event as large as the
    /// largest interface MTU (larger frames are refused at the door), queues
    /// at twice their cap (a growing `Vec` may double).
    pub fn memory_bound(&self) -> usize {
        let l = &self.config.limits;
        let max_frame = self
            .ifaces
            .iter()
            .flatten()
            .map(|i| i.cfg.mtu as usize)
            .max()
            .unwrap_or(0)
            .max(crate::config::MAX_AGGREGATION_BYTES);
        Slab::<Mac, Orig>::heap_bound(l.max_originators)
            + Slab::<LinkKey, Link>::heap_bound(l.max_neighbours)
            + l.max_tx_queue.max(8) * 2 * core::mem::size_of::<crate::txq::Pending>()
            + l.max_tx_queue.max(8) * max_frame
            + l.max_event_queue.max(8) * 2 * core::mem::size_of::<Event>()
            + l.max_event_queue.max(8) * max_frame
            + l.max_originators.max(8) * 2 * core::mem::size_of::<(Instant, u32, Mac)>()
            + l.max_originators.max(8) * 2 * core::mem::size_of::<Mac>()
            + l.max_interfaces * core::mem::size_of::<Option<Iface>>()
            + crate::frag::Reassembly::heap_bound()
            + crate::tt::Tt::heap_bound(l.max_originators)
            + self.ogm_tvlvs.capacity()
    }

    /// Local translation table (`batctl tl`): (client, vid, announced yet).
    pub fn tt_local(&self) -> Vec<(Mac, u16, bool)> {
        self.tt.local()
    }

    /// Global translation table (`batctl tg`): (client, vid, originator).
    pub fn tt_global(&self) -> Vec<(Mac, u16, Mac)> {
        self.tt.global()
    }

    /// The translation-table version of originator `orig` we hold, for
    /// the `ttvn` of a UNICAST we address to it ourselves.
    pub fn ttvn_of(&self, orig: Mac) -> u8 {
        self.tt.ttvn_of(orig)
    }

    /// Translation-table counters.
    pub fn tt_stats(&self) -> crate::tt::TtStats {
        self.tt.stats
    }

    // ----- internals shared with ogm.rs / data.rs -------------------------

    pub(crate) fn iface(&self, id: IfaceId) -> Option<&Iface> {
        self.ifaces.get(id.0 as usize).and_then(Option::as_ref)
    }

    pub(crate) fn iface_mut(&mut self, id: IfaceId) -> Option<&mut Iface> {
        self.ifaces.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    pub(crate) fn up_ifaces(&self) -> impl Iterator<Item = IfaceId> + '_ {
        self.ifaces
            .iter()
            .enumerate()
            .filter(|(_, i)| i.as_ref().is_some_and(|i| i.up))
            .map(|(n, _)| IfaceId(n as u8))
    }

    pub(crate) fn push_event(&mut self, e: Event) {
        if self.events.len() >= self.config.limits.max_event_queue {
            self.stats.drop_events += 1;
            return;
        }
        self.events.push_back(e);
    }

    pub(crate) fn count_parse_error(&mut self, e: wire::Error) {
        match e {
            wire::Error::Version(_) => self.stats.drop_version += 1,
            wire::Error::PacketType(_) => self.stats.drop_unknown_type += 1,
            _ => self.stats.drop_malformed += 1,
        }
    }

    fn hop_of(&self, o: &Orig, v: &Via) -> Option<NextHop> {
        let l = self.links.get(v.link as usize)?;
        Some(NextHop {
            iface: l.iface,
            mac: l.mac,
            tq: o.score(v, self.now, self.config.route_grace),
        })
    }

    pub(crate) fn router_of(&self, oid: usize) -> Option<NextHop> {
        let o = self.origs.get(oid)?;
        let v = o.via(o.router?)?;
        self.hop_of(o, v)
    }

    fn link_usable(&self, link: u32) -> bool {
        self.links
            .get(link as usize)
            .and_then(|l| self.iface(l.iface))
            .is_some_and(|i| i.up)
    }

    /// Choose the next hop for `oid` among feasible, usable vias with a
    /// non-zero score; the current one stays unless another scores more
    /// than `ROUTE_HYSTERESIS` higher (or higher at all, if the current one
    /// missed the latest round).
    pub(crate) fn select_route(&mut self, oid: usize) {
        let now = self.now;
        let grace = self.config.route_grace;
        let Some(o) = self.origs.get(oid) else { return };
        let mut cur: Option<(u32, u8)> = None;
        let mut best: Option<(u32, u8)> = None;
        // Hysteresis keeps a next hop that is keeping up; one that missed
        // the round just closed gives way to any better one.
        let mut margin = ROUTE_HYSTERESIS;
        for v in o.vias.iter() {
            if !self.link_usable(v.link) || !o.feasible(v) {
                continue;
            }
            let s = o.score(v, now, grace);
            if s == 0 {
                continue;
            }
            if Some(v.link) == o.router {
                cur = Some((v.link, s));
                if o.missed_round(v, now, grace) {
                    margin = 0;
                }
            }
            if best.is_none_or(|(_, b)| s > b) {
                best = Some((v.link, s));
            }
        }
        let new = match (cur, best) {
            (Some((c, cs)), Some((b, bs))) => {
                Some(if bs > cs.saturating_add(margin) { b } else { c })
            }
            (None, b) => b.map(|(l, _)| l),
            (Some((c, _)), None) => Some(c),
        };
        if new != o.router {
            self.set_router(oid, new);
        }
    }

    /// `link`'s via of `oid` just recorded a delivery, so its score can
    /// only have risen: compare it with the current next hop instead of
    /// scanning every via (the full [`select_route`](Self::select_route)
    /// runs on link loss, purges and at the end of each round's grace).
    pub(crate) fn ranked(&mut self, oid: usize, link: u32) {
        let (now, grace) = (self.now, self.config.route_grace);
        let Some(o) = self.origs.get(oid) else { return };
        let Some(router) = o.router else {
            return self.select_route(oid);
        };
        if router == link {
            return;
        }
        let rs = o.via(router).map_or(0, |v| o.score(v, now, grace));
        if rs == 0 {
            return self.select_route(oid);
        }
        let Some(v) = o.via(link) else { return };
        if o.score(v, now, grace) > rs.saturating_add(ROUTE_HYSTERESIS)
            && o.feasible(v)
            && self.link_usable(link)
        {
            self.set_router(oid, Some(link));
        }
    }

    fn set_router(&mut self, oid: usize, new: Option<u32>) {
        let Some(o) = self.origs.get_mut(oid) else {
            return;
        };
        let old = core::mem::replace(&mut o.router, new);
        let mac = o.mac;
        if let Some(l) = old.and_then(|l| self.links.get_mut(l as usize)) {
            l.router_refs = l.router_refs.saturating_sub(1);
        }
        if let Some(l) = new.and_then(|l| self.links.get_mut(l as usize)) {
            l.router_refs += 1;
        }
        self.stats.route_changes += 1;
        if new.is_none()
            && old.is_some()
            && self.withdrawn.len() < self.config.limits.max_originators
        {
            self.withdrawn.push(mac);
        }
        let next_hop = self.router_of(oid);
        self.push_event(Event::RouteChanged {
            orig: mac,
            next_hop,
        });
    }

    pub(crate) fn schedule_regrade(&mut self, oid: usize) {
        let Some(mac) = self.origs.key(oid) else {
            return;
        };
        if self.regrade.len() >= self.config.limits.max_originators {
            self.regrade.pop_front();
        }
        let t = self.now + self.config.route_grace;
        self.regrade.push_back((t, oid as u32, mac));
    }

    /// Find the link (iface, mac), creating it if there is room. When the
    /// table is full, the least recently heard link that no route uses is
    /// evicted; if every link carries a route, the new one is refused.
    pub(crate) fn link_get_or_create(&mut self, iface: IfaceId, mac: Mac) -> Option<u32> {
        let key = (iface.0, mac);
        if let Some(id) = self.links.find(&key) {
            return Some(id as u32);
        }
        if self.links.is_full() {
            let victim = self
                .links
                .iter()
                .filter(|(_, _, l)| l.router_refs == 0)
                .min_by_key(|(_, _, l)| l.last_seen)
                .map(|(id, _, _)| id);
            match victim {
                Some(id) => {
                    self.stats.evicted_neighbours += 1;
                    self.drop_link(id, NeighbourDownReason::Evicted);
                }
                None => {
                    self.stats.refused_neighbours += 1;
                    return None;
                }
            }
        }
        let id = self.links.insert(key, Link::new(iface, mac, self.now))?;
        self.push_event(Event::NeighbourUp { iface, mac });
        Some(id as u32)
    }

    /// Find the originator, creating it if there is room. When the table is
    /// full the victim is, in order: the least recently heard originator
    /// still in probation (fewer than `PROBATION_SEQNOS` seqnos seen), else
    /// the least recently heard one with no route and no traffic within
    /// `TRAFFIC_PROTECTION`. Originators with a route are never evicted for
    /// a newcomer, so a flood of forged originators cannot push out working
    /// routes; the newcomer is refused instead.
    pub(crate) fn orig_get_or_create(&mut self, mac: Mac) -> Option<usize> {
        if let Some(id) = self.origs.find(&mac) {
            return Some(id);
        }
        if self.origs.is_full() {
            let now = self.now;
            let busy = |o: &Orig| o.last_traffic.is_some_and(|t| now < t + TRAFFIC_PROTECTION);
            let victim = self
                .origs
                .iter()
                .filter(|(_, _, o)| o.rounds < PROBATION_SEQNOS && !busy(o) && o.router.is_none())
                .min_by_key(|(_, _, o)| o.last_seen)
                .or_else(|| {
                    self.origs
                        .iter()
                        .filter(|(_, _, o)| o.router.is_none() && !busy(o))
                        .min_by_key(|(_, _, o)| o.last_seen)
                })
                .map(|(id, _, _)| id);
            match victim {
                Some(id) => {
                    self.stats.evicted_originators += 1;
                    self.remove_orig(id);
                }
                None => {
                    self.stats.refused_originators += 1;
                    return None;
                }
            }
        }
        self.origs.insert(mac, Orig::new(mac, self.now))
    }

    fn remove_orig(&mut self, oid: usize) {
        let had_route = self.origs.get(oid).is_some_and(|o| o.router.is_some());
        if had_route {
            self.set_router(oid, None);
        }
        if let Some(o) = self.origs.remove(oid) {
            self.tt.remove(o.mac);
            // The receive counts of its links came from this entry.
            for v in o.vias.iter() {
                if let Some(l) = self.links.get_mut(v.link as usize) {
                    if l.mac == o.mac {
                        l.rq = 0;
                        l.span = 0;
                    }
                }
            }
        }
    }

    fn drop_links_on(&mut self, iface: IfaceId, reason: NeighbourDownReason) {
        let ids: Vec<usize> = self
            .links
            .iter()
            .filter(|(_, _, l)| l.iface == iface)
            .map(|(id, _, _)| id)
            .collect();
        for id in ids {
            self.drop_link(id, reason);
        }
    }

    /// Drop a link: every via through it goes, routes move at once.
    pub(crate) fn drop_link(&mut self, id: usize, reason: NeighbourDownReason) {
        let Some(link) = self.links.get(id) else {
            return;
        };
        let (iface, mac) = (link.iface, link.mac);
        let link = id as u32;
        let affected: Vec<usize> = self
            .origs
            .iter()
            .filter(|(_, _, o)| o.via(link).is_some())
            .map(|(oid, _, _)| oid)
            .collect();
        for oid in affected {
            let o = self.origs.get_mut(oid).expect("live id");
            o.vias.retain(|v| v.link != link);
            if o.router == Some(link) {
                self.set_router(oid, None);
                self.select_route(oid);
            }
        }
        self.links.remove(id);
        self.push_event(Event::NeighbourDown { iface, mac, reason });
    }

    /// Drop what has not been heard for the purge timeouts.
    fn purge(&mut self) {
        let now = self.now;
        let pn = self.config.purge_neighbour;
        let po = self.config.purge_originator;
        let stale_links: Vec<usize> = self
            .links
            .iter()
            .filter(|(_, _, l)| now >= l.last_seen + pn)
            .map(|(id, _, _)| id)
            .collect();
        for id in stale_links {
            self.stats.purged_neighbours += 1;
            self.drop_link(id, NeighbourDownReason::Timeout);
        }
        let ids: Vec<usize> = self.origs.ids().collect();
        for oid in ids {
            let o = self.origs.get_mut(oid).expect("live id");
            if now >= o.last_seen + po {
                self.stats.purged_originators += 1;
                self.remove_orig(oid);
                continue;
            }
            let before = o.vias.len();
            let router = o.router;
            o.vias.retain(|v| now < v.last_seen + pn);
            if o.vias.len() != before {
                if router.is_some_and(|r| o.via(r).is_none()) {
                    self.set_router(oid, None);
                }
                self.select_route(oid);
            }
        }
    }

    /// Mark unicast traffic to or through `oid` (protects it from eviction).
    pub(crate) fn touch_traffic(&mut self, oid: usize) {
        let now = self.now;
        if let Some(o) = self.origs.get_mut(oid) {
            o.last_traffic = Some(now);
        }
    }
}

fn event_heap(e: &Event) -> usize {
    match e {
        Event::Deliver { frame, .. } => frame.capacity(),
        Event::Tvlv { data, .. } => data.capacity(),
        Event::Icmp(r) => r.route.capacity() * 6,
        _ => 0,
    }
}

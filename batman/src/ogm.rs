//! OGM processing: own OGMs, echo counting, seqno windows, link quality,
//! route ranking and the rebroadcast rule (batman-adv's `bat_iv_ogm.c`
//! semantics, with the loss-aware score and the feasibility condition of
//! [`crate::orig`]).

use rand_core::RngCore;

use crate::api::{Event, IfaceId};
use crate::config::{SECONDARY_TTL, TQ_LOCAL_WINDOW};
use crate::neigh::{combine, forward_tq, hop_penalty};
use crate::node::Node;
use crate::orig::Via;
use crate::seqno::{self, Protection};
use crate::wire::{Mac, OgmFlags, OgmIter, OgmPacket, OgmRepr, TQ_MAX};

/// Per-frame lookups shared by the OGMs of one aggregate.
struct FrameCache {
    link: Option<u32>,
    src_routed: Option<bool>,
}

/// batman-adv's duplicate status of an OGM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dup {
    /// First copy of this seqno.
    No,
    /// Seen before, through another neighbour.
    Orig,
    /// Seen before through this very neighbour.
    Neigh,
    /// Refused by seqno-reset protection.
    Protected,
}

impl<R: RngCore> Node<R> {
    /// Build and queue the own OGM of `iface` (primary: on every interface
    /// with TTL and TVLVs; secondary: TTL 2, on itself only), then slide the
    /// echo windows of that interface's links.
    pub(crate) fn emit_own_ogm(&mut self, iface: IfaceId) {
        let Some(ifc) = self.iface(iface) else { return };
        let primary = self.primary == Some(iface);
        let repr = OgmRepr {
            ttl: if primary {
                self.config.ttl
            } else {
                SECONDARY_TTL
            },
            flags: OgmFlags(0),
            seqno: ifc.seqno,
            orig: ifc.cfg.mac,
            prev_sender: ifc.cfg.mac,
            tq: TQ_MAX,
            tvlv_len: 0,
        };
        let bytes = if primary {
            let mut area = self.tt.ogm_tvlv();
            area.extend_from_slice(&self.gw_tvlv());
            area.extend_from_slice(&self.ogm_tvlvs);
            repr.to_vec(&area)
        } else {
            repr.to_vec(&[])
        };
        let now = self.now;
        let outs: Vec<IfaceId> = if primary {
            self.up_ifaces().collect()
        } else {
            vec![iface]
        };
        for out in outs {
            self.queue_ogm(out, &bytes, now);
        }
        let ifc = self.iface_mut(iface).expect("checked above");
        ifc.last_sent = ifc.seqno;
        ifc.seqno = ifc.seqno.wrapping_add(1);
        for id in self.links.ids().collect::<Vec<_>>() {
            let l = self.links.get_mut(id).expect("live id");
            if l.iface == iface {
                l.echo_bits <<= 1;
            }
        }
        self.stats.own_ogm += 1;
    }

    fn queue_ogm(&mut self, out: IfaceId, bytes: &[u8], due: crate::Instant) {
        let Some(ifc) = self.iface(out) else { return };
        let limit = ifc.aggregate_limit();
        let window = self
            .config
            .aggregation
            .then_some(self.config.max_aggregation_delay);
        if !self
            .txq
            .queue_ogm(out, limit, bytes, (self.now, due), window)
        {
            self.stats.drop_queue_full += 1;
        }
    }

    /// Process a frame of (possibly aggregated) OGMs.
    /// The sender's link and whether we route to it are looked up once per
    /// frame, not once per aggregated OGM.
    pub(crate) fn recv_ogm_frame(&mut self, iface: IfaceId, src: Mac, payload: &[u8]) {
        let mut cache = FrameCache {
            link: None,
            src_routed: None,
        };
        for ogm in OgmIter::new(payload) {
            match ogm {
                Ok(p) => self.recv_ogm(iface, src, &p, &mut cache),
                Err(e) => self.count_parse_error(e),
            }
        }
    }

    fn cached_link(&mut self, iface: IfaceId, src: Mac, cache: &mut FrameCache) -> Option<u32> {
        if let Some(l) = cache.link {
            if self.links.key(l as usize) == Some((iface.0, src)) {
                return Some(l);
            }
        }
        cache.link = self.link_get_or_create(iface, src);
        cache.link
    }

    fn recv_ogm(&mut self, iface: IfaceId, src: Mac, p: &OgmPacket<&[u8]>, cache: &mut FrameCache) {
        self.stats.rx_ogm += 1;
        let o = match OgmRepr::parse(p) {
            Ok(o) => o,
            Err(e) => return self.count_parse_error(e),
        };
        if !o.orig.is_unicast() {
            self.stats.drop_malformed += 1;
            return;
        }
        if self.is_own_mac(src) {
            self.stats.drop_own += 1;
            return;
        }
        if self.is_own_mac(o.orig) {
            self.process_echo(iface, src, &o);
            return;
        }
        if self.is_own_mac(o.prev_sender) {
            // Our own rebroadcast coming back: never a route.
            self.stats.drop_own += 1;
            return;
        }
        if o.flags.contains(OgmFlags::NOT_BEST_NEXT_HOP) {
            self.stats.drop_ogm_rules += 1;
            return;
        }
        let single_hop = src == o.orig;
        if single_hop {
            // The sender's own OGM may change whether we route to it.
            cache.src_routed = None;
        }
        let Some(link) = self.cached_link(iface, src, cache) else {
            return;
        };
        let Some(oid) = self.orig_get_or_create(o.orig) else {
            return;
        };
        if !self.via_ensure(oid, link) {
            return;
        }
        let dup = self.update_seqnos(oid, link, o.seqno);
        if dup == Dup::Protected {
            self.stats.drop_protected += 1;
            return;
        }
        if o.tq == 0 {
            self.stats.drop_ogm_rules += 1;
            return;
        }
        let now = self.now;
        if let Some(l) = self.links.get_mut(link as usize) {
            l.last_seen = now;
        }
        // A multi-hop OGM must come from a neighbour we route to.
        if !single_hop {
            let routed = *cache.src_routed.get_or_insert_with(|| {
                self.origs
                    .find(&src)
                    .and_then(|i| self.origs.get(i))
                    .is_some_and(|n| n.router.is_some())
            });
            if !routed {
                self.stats.drop_ogm_rules += 1;
                return;
            }
        }
        if dup == Dup::No {
            // A new OGM says whether its originator is a gateway (no GW
            // TVLV: not any more); its other TVLVs go to their owners.
            self.recv_gw(oid, p.tvlv());
            if o.tvlv_len > 0 {
                self.recv_ogm_tvlvs(o.orig, p.tvlv());
            }
        }
        let (tq_own, asym) = self.link_factors(link);
        let in_pen = (TQ_MAX - self.iface(iface).map_or(0, |i| i.cfg.hop_penalty)) as u32;
        let tq = combine(o.tq, tq_own, asym, in_pen);
        let bidirect = tq >= 1;

        let orig = self.origs.get_mut(oid).expect("live id");
        orig.last_seen = now;
        let sameseq = orig.last_real_seqno == Some(o.seqno);
        let similar_ttl = (orig.last_ttl as i32 - 3) <= o.ttl as i32;
        if bidirect && (dup == Dup::No || (sameseq && similar_ttl)) {
            let via = orig.via_mut(link).expect("ensured");
            via.record(o.seqno, tq);
            via.advertise(o.seqno, o.tq);
            via.last_ttl = o.ttl;
            via.last_seen = now;
            if dup == Dup::No {
                orig.last_ttl = o.ttl;
            }
            self.ranked(oid, link);
        }

        let orig = self.origs.get(oid).expect("live id");
        let from_best = orig.router == Some(link);
        if single_hop {
            if dup == Dup::Neigh {
                self.stats.drop_duplicate += 1;
                return;
            }
            self.forward_ogm(oid, p, iface, src, true, from_best, (tq_own, asym));
            return;
        }
        if !bidirect {
            self.stats.drop_ogm_rules += 1;
            return;
        }
        if dup == Dup::Neigh {
            self.stats.drop_duplicate += 1;
            return;
        }
        if !from_best {
            return;
        }
        self.forward_ogm(oid, p, iface, src, false, true, (tq_own, asym));
    }

    /// The TVLVs of an originator's OGM: translation tables and gateways
    /// are ours; any other TVLV goes to the upper layers as an event.
    fn recv_ogm_tvlvs(&mut self, orig: Mac, area: &[u8]) {
        let mut other = false;
        for t in crate::wire::TvlvIter::new(area) {
            let Ok(t) = t else {
                self.stats.drop_malformed += 1;
                return;
            };
            if t.tvlv_type == crate::wire::TvlvType::Tt && t.version == 1 {
                match crate::wire::tvlv_data::TtData::parse(t.value) {
                    Ok(tt) => {
                        let act = self.tt.on_ogm(self.now, orig, &tt);
                        self.tt_act(act);
                    }
                    Err(_) => self.stats.drop_malformed += 1,
                }
            } else if t.tvlv_type != crate::wire::TvlvType::Gw {
                other = true;
            }
        }
        if other {
            self.push_event(Event::Tvlv {
                orig,
                unicast: false,
                data: area.to_vec(),
            });
        }
    }

    /// One of our own OGMs rebroadcast by a neighbour: count the echo.
    fn process_echo(&mut self, iface: IfaceId, src: Mac, o: &OgmRepr) {
        self.stats.drop_own += 1;
        if !o.flags.contains(OgmFlags::DIRECTLINK) {
            return;
        }
        let Some(ifc) = self.iface(iface) else { return };
        if ifc.cfg.mac != o.orig {
            return;
        }
        let bit = seqno::diff(ifc.last_sent, o.seqno);
        let Some(link) = self.link_get_or_create(iface, src) else {
            return;
        };
        let now = self.now;
        let l = self.links.get_mut(link as usize).expect("live id");
        l.last_seen = now;
        if (0..TQ_LOCAL_WINDOW as i32).contains(&bit) {
            l.echo_bits |= 1u64 << bit;
        }
    }

    /// Our own link quality towards the neighbour of `link`:
    /// `(tq_own, asymmetry penalty)`.
    pub(crate) fn link_factors(&self, link: u32) -> (u32, u32) {
        self.links
            .get(link as usize)
            .map_or((0, 0), |l| l.quality())
    }

    /// batman-adv's `update_seqnos`: move every via's window, mark the one
    /// this copy came through, and classify the copy.
    fn update_seqnos(&mut self, oid: usize, link: u32, seqno: u32) -> Dup {
        let now = self.now;
        let protect_for = crate::config::RESET_PROTECTION;
        let orig = self.origs.get_mut(oid).expect("live id");
        let Some(last) = orig.last_real_seqno else {
            for v in orig.vias.iter_mut() {
                v.real_bits = u64::from(v.link == link);
                v.span = u8::from(v.link == link);
                if let Some(l) = self.links.get_mut(v.link as usize) {
                    if l.mac == orig.mac {
                        l.rq = v.real_bits.count_ones() as u8;
                        l.span = v.span;
                    }
                }
            }
            orig.last_real_seqno = Some(seqno);
            orig.round_start = now;
            orig.rounds = 1;
            return Dup::No;
        };
        let d = seqno::diff(seqno, last);
        match seqno::protect(d, TQ_LOCAL_WINDOW, &mut orig.seqno_reset, protect_for, now) {
            Protection::Drop => return Dup::Protected,
            Protection::Accept { restarted: true } => {
                // A new seqno space: what we advertised before means nothing.
                orig.fd = None;
                for v in orig.vias.iter_mut() {
                    v.reset();
                }
            }
            Protection::Accept { restarted: false } => {}
        }
        let mut ret = Dup::No;
        let mut moved = false;
        let orig_mac = orig.mac;
        for v in orig.vias.iter_mut() {
            let is_dup = seqno::test_bit(v.real_bits, last, seqno);
            let mark = v.link == link;
            if mark && is_dup {
                ret = Dup::Neigh;
            } else if is_dup && ret != Dup::Neigh {
                ret = Dup::Orig;
            }
            let v_moved = seqno::advance(&mut v.real_bits, d, TQ_LOCAL_WINDOW, mark);
            moved |= v_moved;
            if v_moved && !(0..TQ_LOCAL_WINDOW as i32).contains(&d) {
                v.span = u8::from(mark); // window cleared
            } else if v_moved && v.span > 0 {
                v.span = (v.span as i32 + d).min(TQ_LOCAL_WINDOW as i32) as u8;
            } else if mark && v.span == 0 {
                v.span = 1;
            }
            // The neighbour's own originator: keep its link's rq current.
            if let Some(l) = self.links.get_mut(v.link as usize) {
                if l.mac == orig_mac {
                    l.rq = v.real_count() as u8;
                    l.span = v.span;
                }
            }
        }
        if moved {
            orig.last_real_seqno = Some(seqno);
            orig.round_start = now;
            orig.rounds = orig.rounds.saturating_add(1);
            self.schedule_regrade(oid);
        }
        ret
    }

    /// Rebroadcast an OGM on every interface it may go out of.
    #[allow(clippy::too_many_arguments)]
    fn forward_ogm(
        &mut self,
        oid: usize,
        p: &OgmPacket<&[u8]>,
        iface_in: IfaceId,
        src: Mac,
        single_hop: bool,
        from_best: bool,
        (tq_own, asym): (u32, u32),
    ) {
        if p.ttl() <= 1 {
            self.stats.drop_ttl += 1;
            return;
        }
        let Some(ifc_in) = self.iface(iface_in) else {
            return;
        };
        let in_pen = (TQ_MAX - ifc_in.cfg.hop_penalty) as u32;
        let in_wireless = ifc_in.is_wireless();
        let hp = self.config.hop_penalty;
        let outs: Vec<IfaceId> = self
            .up_ifaces()
            .filter(|out| !(single_hop && p.ttl() <= 2 && *out != iface_in))
            .collect();
        // Per outgoing interface TQ: going back out of the same wireless
        // interface costs the hop penalty once more.
        let fwd_tq = |out: IfaceId| {
            let pen = if out == iface_in && in_wireless {
                hop_penalty(in_pen as u8, hp) as u32
            } else {
                in_pen
            };
            forward_tq(p.tq(), tq_own, asym, pen, hp)
        };
        let best_fwd = outs.iter().map(|o| fwd_tq(*o)).max().unwrap_or(0);
        let seqno = p.seqno();
        if from_best {
            let orig = self.origs.get_mut(oid).expect("live id");
            if !single_hop && orig.already_advertised(seqno, best_fwd) {
                return;
            }
            orig.advertised(seqno, best_fwd);
        }
        let mut flags = p.flags();
        if !from_best {
            flags = flags.with(OgmFlags::NOT_BEST_NEXT_HOP);
        }
        let jitter = self.config.fwd_jitter.as_micros() as u64;
        let delay = if jitter > 0 {
            self.rng.next_u64() % jitter
        } else {
            0
        };
        let due = self.now + core::time::Duration::from_micros(delay);
        let mut buf = p.clone().into_inner().to_vec();
        for out in outs {
            let mut q = OgmPacket::new_unchecked(&mut buf[..]);
            q.set_ttl(p.ttl() - 1);
            q.set_prev_sender(src);
            q.set_tq(fwd_tq(out));
            q.set_flags(if single_hop && out == iface_in {
                flags.with(OgmFlags::DIRECTLINK)
            } else {
                flags.without(OgmFlags::DIRECTLINK)
            });
            self.queue_ogm(out, &buf, due);
            self.stats.fwd_ogm += 1;
        }
    }

    /// Make sure `oid` has a via for `link` (evicting its worst non-router
    /// via when at the per-originator cap). False if impossible.
    fn via_ensure(&mut self, oid: usize, link: u32) -> bool {
        let cap = self.config.limits.max_vias_per_originator;
        let now = self.now;
        let grace = self.config.route_grace;
        let orig = self.origs.get_mut(oid).expect("live id");
        if orig.via(link).is_some() {
            return true;
        }
        if orig.vias.len() >= cap {
            let victim = orig
                .vias
                .iter()
                .enumerate()
                .filter(|(_, v)| Some(v.link) != orig.router)
                .min_by_key(|(_, v)| (orig.score(v, now, grace), v.last_seen))
                .map(|(i, _)| i);
            match victim {
                Some(i) => orig.vias.swap_remove(i),
                None => return false,
            }
        }
        orig.vias.push(Via::new(link, now))
    }
}

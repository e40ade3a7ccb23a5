//! Originators and the candidate next hops ("vias") towards each, with the
//! route score and the feasibility condition that keeps routes loop-free.
//!
//! ## Score (loss-aware TQ average)
//! batman-adv averages the last 5 non-zero TQ values a neighbour delivered,
//! so a neighbour that silently stopped delivering keeps its full average
//! until five rounds have gone by. Here each via keeps the TQ it delivered
//! for each of the last 5 seqnos it delivered, and its score is the sum over
//! the 5 newest seqnos of the originator, divided by 5: a seqno the via did
//! not deliver counts as 0 once [`ROUTE_GRACE`](crate::config::ROUTE_GRACE)
//! has passed since the first copy arrived through anyone. A silent cut thus
//! costs the cut via a fifth of its score about one OGM interval after the
//! cut, which is what moves the route within about a second when an
//! alternative of similar quality exists. Nothing on the wire changes.
//!
//! ## Feasibility (loop freedom)
//! Each originator keeps a feasibility distance `fd = (seqno, tq)`: the best
//! pair we ever advertised for it (what we wrote into a forwarded OGM). A via
//! may become our next hop only if the pair it last advertised (the OGM's
//! seqno and its TQ field as received) is newer, or the same seqno with a
//! strictly higher TQ. Because every hop lowers the TQ (hop penalty) and
//! `fd` never decreases, a node's `fd` is always strictly below that of its
//! next hop, so next hops can never form a cycle (Babel's argument, RFC 8966
//! section 2.4, with (seqno, tq) in place of (seqno, metric)). The price: a
//! node whose only remaining neighbours learned the route through it waits
//! for the next seqno (one OGM interval) instead of looping.

use crate::config::{MAX_VIAS_PER_ORIGINATOR, TQ_GLOBAL_WINDOW};
use crate::seqno::{diff, newer_or_better};
use crate::time::Instant;
use crate::wire::Mac;

/// A neighbour link through which an originator's OGMs arrive.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Via {
    /// Index of the link in the node's link table.
    pub link: u32,
    /// Bit i: seqno `orig.last_real_seqno - i` arrived through this link.
    pub real_bits: u64,
    /// Seqno slots of the window this via has existed for (first delivery
    /// to newest seqno), capped at the window size: the denominator of the
    /// receive ratio while the window is still filling.
    pub span: u8,
    /// The last distinct seqnos delivered (their low 8 bits: a via is
    /// purged after `PURGE_NEIGHBOUR`, 200 rounds, before they could alias)
    /// and the best TQ for each.
    ring_seq: [u8; TQ_GLOBAL_WINDOW],
    ring_tq: [u8; TQ_GLOBAL_WINDOW],
    ring_len: u8,
    /// Newest (seqno, TQ field as received) this neighbour advertised.
    adv_seq: u32,
    adv_tq: u8,
    has_adv: bool,
    pub last_ttl: u8,
    pub last_seen: Instant,
}

impl Via {
    pub fn new(link: u32, now: Instant) -> Self {
        Via {
            link,
            last_seen: now,
            ..Via::default()
        }
    }

    /// Own OGMs of the neighbour received through it, out of the window.
    pub fn real_count(&self) -> u32 {
        self.real_bits.count_ones()
    }

    /// (seqno diff from `end`, tq) of each entry.
    fn entries(&self, end: u32) -> impl Iterator<Item = (i8, u8)> + '_ {
        let n = self.ring_len as usize;
        let lo = end as u8;
        self.ring_seq[..n]
            .iter()
            .map(move |s| lo.wrapping_sub(*s) as i8)
            .zip(self.ring_tq[..n].iter().copied())
    }

    /// Remember the TQ delivered for `seqno` (keeping the best per seqno and
    /// the newest `TQ_GLOBAL_WINDOW` seqnos).
    pub fn record(&mut self, seqno: u32, tq: u8) {
        let n = self.ring_len as usize;
        let lo = seqno as u8;
        if let Some(i) = self.ring_seq[..n].iter().position(|s| *s == lo) {
            self.ring_tq[i] = self.ring_tq[i].max(tq);
            return;
        }
        if n < TQ_GLOBAL_WINDOW {
            self.ring_seq[n] = lo;
            self.ring_tq[n] = tq;
            self.ring_len += 1;
            return;
        }
        // Replace the oldest entry, if the new seqno is newer than it.
        let age = |s: u8| lo.wrapping_sub(s) as i8;
        let oldest = (0..TQ_GLOBAL_WINDOW)
            .max_by_key(|i| age(self.ring_seq[*i]))
            .unwrap_or(0);
        if age(self.ring_seq[oldest]) > 0 {
            self.ring_seq[oldest] = lo;
            self.ring_tq[oldest] = tq;
        }
    }

    /// Note what the neighbour advertised (newest seqno, best TQ for it).
    pub fn advertise(&mut self, seqno: u32, tq: u8) {
        if !self.has_adv || diff(seqno, self.adv_seq) > 0 {
            (self.adv_seq, self.adv_tq, self.has_adv) = (seqno, tq, true);
        } else if seqno == self.adv_seq {
            self.adv_tq = self.adv_tq.max(tq);
        }
    }

    /// Newest (seqno, TQ) advertised, if any.
    pub fn adv(&self) -> Option<(u32, u8)> {
        self.has_adv.then_some((self.adv_seq, self.adv_tq))
    }

    /// The loss-aware score (see module docs): `end` is the newest seqno
    /// that counts.
    pub fn score(&self, end: u32) -> u8 {
        let sum: u32 = self
            .entries(end)
            .filter(|(d, _)| (0..TQ_GLOBAL_WINDOW as i8).contains(d))
            .map(|(_, q)| q as u32)
            .sum();
        // Rounded up: a via that delivered anything in the window keeps a
        // non-zero score however low its TQ (as batman-adv's average of
        // non-zero values does); only five silent rounds take it to 0.
        sum.div_ceil(TQ_GLOBAL_WINDOW as u32) as u8
    }

    /// Did this via deliver `seqno`?
    pub fn delivered(&self, seqno: u32) -> bool {
        self.ring_seq[..self.ring_len as usize].contains(&(seqno as u8))
    }

    /// Forget what this neighbour said about routes (it withdrew them); the
    /// receive window, which measures the link, stays.
    pub fn forget_routes(&mut self) {
        self.ring_len = 0;
        self.has_adv = false;
    }

    /// Forget everything learned under the old seqno space (restart).
    pub fn reset(&mut self) {
        self.real_bits = 0;
        self.span = 0;
        self.ring_len = 0;
        self.has_adv = false;
    }
}

/// The vias of one originator, stored inline (no heap): at most
/// [`MAX_VIAS_PER_ORIGINATOR`] of them, so an originator's worst-case size
/// is known at compile time and one OGM touches one contiguous block.
#[derive(Debug, Clone)]
pub(crate) struct ViaSet {
    items: [Via; MAX_VIAS_PER_ORIGINATOR],
    len: u8,
}

impl ViaSet {
    pub fn new() -> Self {
        ViaSet {
            items: [Via::default(); MAX_VIAS_PER_ORIGINATOR],
            len: 0,
        }
    }
    pub fn len(&self) -> usize {
        self.len as usize
    }
    pub fn iter(&self) -> core::slice::Iter<'_, Via> {
        self.items[..self.len as usize].iter()
    }
    pub fn iter_mut(&mut self) -> core::slice::IterMut<'_, Via> {
        self.items[..self.len as usize].iter_mut()
    }
    /// False when full.
    pub fn push(&mut self, v: Via) -> bool {
        if self.len() >= MAX_VIAS_PER_ORIGINATOR {
            return false;
        }
        self.items[self.len as usize] = v;
        self.len += 1;
        true
    }
    pub fn swap_remove(&mut self, i: usize) {
        let last = self.len as usize - 1;
        self.items.swap(i, last);
        self.len -= 1;
    }
    pub fn retain(&mut self, mut keep: impl FnMut(&Via) -> bool) {
        let mut i = 0;
        while i < self.len() {
            if keep(&self.items[i]) {
                i += 1;
            } else {
                self.swap_remove(i);
            }
        }
    }
}

/// What we know about one originator.
#[derive(Debug, Clone)]
pub(crate) struct Orig {
    pub mac: Mac,
    pub last_seen: Instant,
    /// Newest seqno seen (the windows are relative to it); None before any.
    pub last_real_seqno: Option<u32>,
    /// When the first copy of `last_real_seqno` arrived.
    pub round_start: Instant,
    /// Last seqno-reset protection start.
    pub seqno_reset: Option<Instant>,
    pub last_ttl: u8,
    /// Feasibility distance: best (seqno, tq) we advertised.
    pub fd: Option<(u32, u8)>,
    /// Link index of the current next hop.
    pub router: Option<u32>,
    pub vias: ViaSet,
    /// Broadcast duplicate window.
    pub bcast_bits: u64,
    pub bcast_last: Option<u32>,
    pub bcast_reset: Option<Instant>,
    /// Last time unicast traffic went to or through it.
    pub last_traffic: Option<Instant>,
    /// Distinct new seqnos seen, saturating (probation ends at
    /// `PROBATION_SEQNOS`).
    pub rounds: u8,
    /// Its gateway announcement (GW TVLV of its newest OGM), if any.
    pub gw: Option<crate::wire::tvlv_data::GwData>,
}

impl Orig {
    pub fn new(mac: Mac, now: Instant) -> Self {
        Orig {
            mac,
            last_seen: now,
            last_real_seqno: None,
            round_start: now,
            seqno_reset: None,
            last_ttl: 0,
            fd: None,
            router: None,
            vias: ViaSet::new(),
            bcast_bits: 0,
            bcast_last: None,
            bcast_reset: None,
            last_traffic: None,
            rounds: 0,
            gw: None,
        }
    }

    pub fn via(&self, link: u32) -> Option<&Via> {
        self.vias.iter().find(|v| v.link == link)
    }

    pub fn via_mut(&mut self, link: u32) -> Option<&mut Via> {
        self.vias.iter_mut().find(|v| v.link == link)
    }

    /// The newest seqno that counts for scores at `now`, for a via that may
    /// not have delivered the current one yet.
    /// Did `via` miss the newest seqno although its round is over?
    pub fn missed_round(&self, via: &Via, now: Instant, grace: core::time::Duration) -> bool {
        self.last_real_seqno
            .is_some_and(|cur| !via.delivered(cur) && now >= self.round_start + grace)
    }

    pub fn score_end(&self, via: &Via, now: Instant, grace: core::time::Duration) -> Option<u32> {
        let cur = self.last_real_seqno?;
        if via.delivered(cur) || now >= self.round_start + grace {
            Some(cur)
        } else {
            Some(cur.wrapping_sub(1))
        }
    }

    /// Score of `via` at `now` (0 if nothing known).
    pub fn score(&self, via: &Via, now: Instant, grace: core::time::Duration) -> u8 {
        self.score_end(via, now, grace)
            .map(|end| via.score(end))
            .unwrap_or(0)
    }

    /// May `via` be our next hop without risking a loop?
    pub fn feasible(&self, via: &Via) -> bool {
        match (via.adv(), self.fd) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some((s, q)), Some((fs, fq))) => newer_or_better(s, q, fs, fq),
        }
    }

    /// Raise the feasibility distance after advertising `(seqno, tq)`.
    pub fn advertised(&mut self, seqno: u32, tq: u8) {
        self.fd = match self.fd {
            Some((s, q)) if !newer_or_better(seqno, tq, s, q) => Some((s, q)),
            _ => Some((seqno, tq)),
        };
    }

    /// Did we already advertise something at least as good for `seqno`?
    pub fn already_advertised(&self, seqno: u32, tq: u8) -> bool {
        match self.fd {
            Some((s, q)) => !newer_or_better(seqno, tq, s, q),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    const G: Duration = Duration::from_millis(150);

    #[test]
    fn ring_keeps_newest_five_and_best_per_seqno() {
        let mut v = Via::new(0, Instant::ZERO);
        for s in 10..17 {
            v.record(s, 100);
        }
        v.record(16, 200);
        v.record(9, 250); // older than everything: ignored
        assert_eq!(v.entries(16).count(), 5);
        assert_eq!(v.score(16), 120); // (4 * 100 + 200) / 5
        assert!(!v.delivered(11));
        assert!(v.delivered(12));
    }

    #[test]
    fn missed_seqnos_lower_the_score_after_grace() {
        let now = Instant::from_millis(10_000);
        let mut o = Orig::new(Mac([2, 0, 0, 0, 0, 1]), now);
        let mut v = Via::new(0, now);
        for s in 1..=5 {
            v.record(s, 250);
        }
        o.last_real_seqno = Some(6); // seqno 6 arrived through someone else
        o.round_start = now;
        assert_eq!(o.score(&v, now, G), 250); // within grace: window ends at 5
        assert_eq!(o.score(&v, now + G, G), 200); // 6 missed
        o.last_real_seqno = Some(8);
        assert_eq!(o.score(&v, now + G, G), 100);
    }

    #[test]
    fn feasibility_follows_fd() {
        let now = Instant::ZERO;
        let mut o = Orig::new(Mac([2, 0, 0, 0, 0, 1]), now);
        let mut v = Via::new(0, now);
        assert!(!o.feasible(&v)); // never advertised
        v.advertise(10, 200);
        assert!(o.feasible(&v)); // no fd yet
        o.advertised(10, 180);
        assert!(o.feasible(&v)); // 200 > 180 at same seqno
        let mut w = Via::new(1, now);
        w.advertise(10, 150); // learned through us: worse than what we sent
        assert!(!o.feasible(&w));
        w.advertise(11, 10); // a newer seqno is always feasible
        assert!(o.feasible(&w));
        o.advertised(10, 100); // fd never decreases
        assert_eq!(o.fd, Some((10, 180)));
        assert!(o.already_advertised(10, 180));
        assert!(!o.already_advertised(10, 181));
    }
}

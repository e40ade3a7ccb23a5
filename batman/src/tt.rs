//! Translation tables: which client MACs (LAN hosts, the soft interface
//! itself) sit behind which originator, kept in sync the way batman-adv
//! does it (`translation-table.c`, TT TVLV version 1), so that kernel nodes
//! deliver unicast to our clients and we to theirs.
//!
//! - **Local table**: clients learned from frames leaving our soft
//!   interface. Changes (add, or delete with `TT_CLIENT_DEL` after
//!   [`LOCAL_TIMEOUT`]) are committed when the next own OGM is built: the
//!   table version `ttvn` goes up by one and the diff rides in that OGM's TT
//!   TVLV (and in the next two, `TT_OGM_APPEND_MAX`), together with a CRC32C
//!   of the committed table per VLAN.
//! - **Global table**: per originator, the clients it announced. A diff is
//!   applied when its `ttvn` is exactly one more than the last one seen;
//!   after applying, or when nothing changed, the CRC must match the one the
//!   originator announced. Otherwise we send a TT request (UNICAST_TVLV)
//!   and the originator answers with its full table (a TT response).
//! - The CRC is batman-adv's: per entry `crc32c(crc32c(crc32c(0, vid be16),
//!   flags & 0xf0), mac)` (Castagnoli, no pre/post inversion), XORed over
//!   the VLAN's entries.
//!
//! Bounded: [`MAX_LOCAL`] local clients, [`MAX_GLOBAL`] global entries in
//! all; past a cap new clients are refused (counted), never old ones
//! evicted. Roaming, isolation and multiple VLANs beyond what peers
//! announce are not implemented.

use std::collections::{BTreeMap, BTreeSet};

use crate::time::Instant;
use crate::wire::tvlv_data::{
    TtChange, TtData, TtRepr, TtVlan, TvlvData, TT_CLIENT_DEL, TT_FULL_TABLE, TT_OGM_DIFF,
    TT_REQUEST, TT_RESPONSE,
};
use crate::wire::Mac;
use core::time::Duration;

/// A local client not heard for this long is announced as deleted
/// (`BATADV_TT_LOCAL_TIMEOUT`).
pub const LOCAL_TIMEOUT: Duration = Duration::from_secs(600);
/// A diff rides in this many consecutive own OGMs (`BATADV_TT_OGM_APPEND_MAX`).
pub const OGM_APPEND_MAX: u8 = 3;
/// At most one TT request per originator in this time
/// (`BATADV_TT_REQUEST_TIMEOUT`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Cap: local clients.
pub const MAX_LOCAL: usize = 1024;
/// Cap: global entries over all originators.
pub const MAX_GLOBAL: usize = 8192;
/// Flags kept in sync across the mesh (`BATADV_TT_SYNC_MASK`).
pub const SYNC_MASK: u8 = 0xf0;
/// Most change entries put in one OGM; larger diffs are left to TT
/// requests, as batman-adv does when they do not fit.
pub const MAX_OGM_CHANGES: usize = 32;

/// CRC32C (Castagnoli) update without pre/post inversion, as the kernel's
/// `crc32c(crc, data, len)`.
pub fn crc32c(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0x82f6_3b78 & (crc & 1).wrapping_neg());
        }
    }
    crc
}

/// batman-adv's CRC of one client entry.
pub fn entry_crc(mac: Mac, vid: u16, flags: u8) -> u32 {
    let c = crc32c(0, &vid.to_be_bytes());
    let c = crc32c(c, &[flags & SYNC_MASK]);
    crc32c(c, &mac.0)
}

/// The per-VLAN CRCs of a set of (mac, vid, flags), sorted by VID.
fn vlan_crcs<'a>(
    entries: impl Iterator<Item = (&'a Mac, &'a u16, &'a u8)>,
    always: &[u16],
) -> Vec<TtVlan> {
    let mut by_vid: BTreeMap<u16, u32> = always.iter().map(|v| (*v, 0)).collect();
    for (m, v, f) in entries {
        *by_vid.entry(*v).or_insert(0) ^= entry_crc(*m, *v, *f);
    }
    by_vid
        .into_iter()
        .map(|(vid, crc)| TtVlan { crc, vid })
        .collect()
}

#[derive(Debug, Clone)]
struct Local {
    last_seen: Instant,
    /// Part of the announced (committed) table.
    committed: bool,
    /// Never times out (the soft interface's own MAC).
    nopurge: bool,
}

#[derive(Debug, Clone, Default)]
struct Remote {
    /// Last table version applied; `None` before the first full table.
    ttvn: Option<u8>,
    /// (mac, vid) -> flags
    entries: BTreeMap<(Mac, u16), u8>,
    requested: Option<Instant>,
}

impl Remote {
    fn crcs(&self) -> Vec<TtVlan> {
        vlan_crcs(self.entries.iter().map(|((m, v), f)| (m, v, f)), &[])
    }
    /// Does our copy match the VLAN CRCs the originator announced?
    fn matches(&self, vlans: &[TtVlan]) -> bool {
        let ours = self.crcs();
        vlans.iter().all(|v| {
            let mine = ours.iter().find(|o| o.vid == v.vid).map_or(0, |o| o.crc);
            mine == v.crc
        }) && ours
            .iter()
            .all(|o| o.crc == 0 || vlans.iter().any(|v| v.vid == o.vid))
    }
}

/// What the node must do after TT input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TtAction {
    Nothing,
    /// Send this TVLV area as UNICAST_TVLV to the originator.
    Send(Mac, Vec<u8>),
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TtStats {
    pub requests_sent: u64,
    pub responses_sent: u64,
    pub diffs_applied: u64,
    pub full_tables: u64,
    pub refused_local: u64,
    pub refused_global: u64,
}

/// Both tables of one node.
#[derive(Debug, Default)]
pub struct Tt {
    local: BTreeMap<(Mac, u16), Local>,
    pending: Vec<TtChange>,
    ttvn: u8,
    last_changes: Vec<TtChange>,
    append_left: u8,
    remote: BTreeMap<Mac, Remote>,
    /// client (mac, vid) -> originator
    index: BTreeMap<(Mac, u16), Mac>,
    global_len: usize,
    pub stats: TtStats,
}

impl Tt {
    pub fn new() -> Self {
        Tt::default()
    }

    /// Our current table version.
    pub fn ttvn(&self) -> u8 {
        self.ttvn
    }

    /// A frame from our soft interface had source `mac` (VLAN `vid`, 0 for
    /// untagged): remember the client. `nopurge` for the soft interface's
    /// own address.
    pub fn learn(&mut self, now: Instant, mac: Mac, vid: u16, nopurge: bool) {
        if !mac.is_unicast() {
            return;
        }
        if let Some(e) = self.local.get_mut(&(mac, vid)) {
            e.last_seen = now;
            e.nopurge |= nopurge;
            return;
        }
        if self.local.len() >= MAX_LOCAL {
            self.stats.refused_local += 1;
            return;
        }
        self.local.insert(
            (mac, vid),
            Local {
                last_seen: now,
                committed: false,
                nopurge,
            },
        );
        self.pending.retain(|c| (c.addr, c.vid) != (mac, vid));
        self.pending.push(TtChange {
            flags: 0,
            addr: mac,
            vid,
        });
    }

    /// Is `mac` one of our own clients?
    pub fn is_local(&self, mac: Mac, vid: u16) -> bool {
        self.local.contains_key(&(mac, vid))
    }

    /// Announce as deleted the local clients not heard for `LOCAL_TIMEOUT`.
    pub fn purge(&mut self, now: Instant) {
        let stale: Vec<(Mac, u16)> = self
            .local
            .iter()
            .filter(|(_, e)| !e.nopurge && now >= e.last_seen + LOCAL_TIMEOUT)
            .map(|(k, _)| *k)
            .collect();
        for (mac, vid) in stale {
            let e = self.local.remove(&(mac, vid)).expect("listed");
            self.pending.retain(|c| (c.addr, c.vid) != (mac, vid));
            if e.committed {
                // Keep it in the committed set until the next commit.
                self.local.insert(
                    (mac, vid),
                    Local {
                        committed: true,
                        nopurge: false,
                        last_seen: e.last_seen,
                    },
                );
                self.pending.push(TtChange {
                    flags: TT_CLIENT_DEL,
                    addr: mac,
                    vid,
                });
            }
        }
    }

    /// The committed table's VLAN CRCs (a VLAN is listed when it has a
    /// client; an empty table lists none, which batman-adv accepts).
    fn local_crcs(&self) -> Vec<TtVlan> {
        let flags = 0u8;
        vlan_crcs(
            self.local
                .iter()
                .filter(|(_, e)| e.committed)
                .map(|((m, v), _)| (m, v, &flags)),
            &[],
        )
    }

    /// Build the TT TVLV for our next own OGM, committing pending changes
    /// first (ttvn + 1 when there were any). A node that never had a
    /// client (a pure relay without a soft interface) sends none: peers,
    /// kernel ones included, then simply hold no table for it.
    pub fn ogm_tvlv(&mut self) -> Vec<u8> {
        if self.ttvn == 0 && self.pending.is_empty() && self.local.is_empty() {
            return Vec::new();
        }
        if !self.pending.is_empty() {
            let changes = core::mem::take(&mut self.pending);
            for c in &changes {
                if c.flags & TT_CLIENT_DEL != 0 {
                    self.local.remove(&(c.addr, c.vid));
                } else if let Some(e) = self.local.get_mut(&(c.addr, c.vid)) {
                    e.committed = true;
                }
            }
            self.ttvn = self.ttvn.wrapping_add(1);
            self.last_changes = changes;
            self.append_left = OGM_APPEND_MAX;
        }
        let changes = if self.append_left > 0 && self.last_changes.len() <= MAX_OGM_CHANGES {
            self.append_left -= 1;
            self.last_changes.clone()
        } else {
            Vec::new()
        };
        let repr = TtRepr {
            flags: TT_OGM_DIFF,
            ttvn: self.ttvn,
            vlans: self.local_crcs(),
            changes,
        };
        repr.to_tvlv().unwrap_or_default()
    }

    /// The full committed table as a TT response TVLV.
    fn response(&self) -> Vec<u8> {
        let repr = TtRepr {
            flags: TT_RESPONSE | TT_FULL_TABLE,
            ttvn: self.ttvn,
            vlans: self.local_crcs(),
            changes: self
                .local
                .iter()
                .filter(|(_, e)| e.committed)
                .map(|((m, v), _)| TtChange {
                    flags: 0,
                    addr: *m,
                    vid: *v,
                })
                .collect(),
        };
        repr.to_tvlv().unwrap_or_default()
    }

    /// The TT TVLV of `orig`'s OGM (its first copy of a new seqno).
    pub fn on_ogm(&mut self, now: Instant, orig: Mac, tt: &TtData<'_>) -> TtAction {
        let vlans: Vec<TtVlan> = tt.vlans().collect();
        let r = self.remote.entry(orig).or_default();
        let (ttvn, last) = (tt.ttvn, r.ttvn);
        let next = last.map(|l| l.wrapping_add(1));
        let in_sync = match last {
            Some(l) if ttvn == l => r.matches(&vlans),
            _ => false,
        };
        if in_sync {
            return TtAction::Nothing;
        }
        // batman-adv applies a diff that is exactly the next version, or the
        // very first one (ttvn 1) of an originator we know nothing of.
        let applies = next == Some(ttvn) || (last.is_none() && ttvn == 1);
        if applies && tt.num_changes() > 0 {
            let changes: Vec<TtChange> = tt.changes().collect();
            self.apply(orig, &changes, ttvn);
            self.stats.diffs_applied += 1;
            if self.remote.get(&orig).is_some_and(|r| r.matches(&vlans)) {
                return TtAction::Nothing;
            }
        }
        self.request(now, orig, ttvn, vlans)
    }

    fn request(&mut self, now: Instant, orig: Mac, ttvn: u8, vlans: Vec<TtVlan>) -> TtAction {
        let r = self.remote.entry(orig).or_default();
        if r.requested.is_some_and(|t| now < t + REQUEST_TIMEOUT) {
            return TtAction::Nothing;
        }
        r.requested = Some(now);
        self.stats.requests_sent += 1;
        let repr = TtRepr {
            flags: TT_REQUEST | TT_FULL_TABLE,
            ttvn,
            vlans,
            changes: Vec::new(),
        };
        TtAction::Send(orig, repr.to_tvlv().unwrap_or_default())
    }

    fn apply(&mut self, orig: Mac, changes: &[TtChange], ttvn: u8) {
        for c in changes {
            let key = (c.addr, c.vid);
            let r = self.remote.entry(orig).or_default();
            if c.flags & TT_CLIENT_DEL != 0 {
                if r.entries.remove(&key).is_some() {
                    self.global_len -= 1;
                    if self.index.get(&key) == Some(&orig) {
                        self.index.remove(&key);
                    }
                }
            } else {
                if !r.entries.contains_key(&key) {
                    if self.global_len >= MAX_GLOBAL {
                        self.stats.refused_global += 1;
                        continue;
                    }
                    self.global_len += 1;
                }
                r.entries.insert(key, c.flags & SYNC_MASK);
                self.index.insert(key, orig);
            }
        }
        if let Some(r) = self.remote.get_mut(&orig) {
            r.ttvn = Some(ttvn);
        }
    }

    /// A TT TVLV that came to us in a UNICAST_TVLV from `src`.
    pub fn on_unicast(&mut self, src: Mac, tt: &TtData<'_>) -> TtAction {
        if tt.flags & TT_REQUEST != 0 {
            self.stats.responses_sent += 1;
            return TtAction::Send(src, self.response());
        }
        if tt.flags & TT_RESPONSE != 0 {
            let changes: Vec<TtChange> = tt.changes().collect();
            if tt.is_full_table() {
                self.forget(src);
                self.stats.full_tables += 1;
            }
            self.apply(src, &changes, tt.ttvn);
            if let Some(r) = self.remote.get_mut(&src) {
                r.requested = None;
            }
        }
        TtAction::Nothing
    }

    /// Which originator announced client `mac` (VLAN `vid`), and the table
    /// version we know it at (for the UNICAST header's `ttvn`).
    pub fn lookup(&self, mac: Mac, vid: u16) -> Option<(Mac, u8)> {
        let orig = *self.index.get(&(mac, vid))?;
        let ttvn = self.remote.get(&orig)?.ttvn?;
        Some((orig, ttvn))
    }

    /// A TT request could not be sent (no route yet): allow the next OGM
    /// of `orig` to try again instead of waiting for the timeout.
    pub fn request_failed(&mut self, orig: Mac) {
        if let Some(r) = self.remote.get_mut(&orig) {
            r.requested = None;
        }
        self.stats.requests_sent = self.stats.requests_sent.saturating_sub(1);
    }

    /// Drop everything `orig` announced (it was purged or evicted).
    pub fn forget(&mut self, orig: Mac) {
        if let Some(r) = self.remote.get_mut(&orig) {
            for key in core::mem::take(&mut r.entries).into_keys() {
                self.global_len -= 1;
                if self.index.get(&key) == Some(&orig) {
                    self.index.remove(&key);
                }
            }
            r.ttvn = None;
        }
    }

    /// The table version of `orig` we hold (0 before its first table).
    pub fn ttvn_of(&self, orig: Mac) -> u8 {
        self.remote.get(&orig).and_then(|r| r.ttvn).unwrap_or(0)
    }

    /// Remove an originator's state entirely.
    pub fn remove(&mut self, orig: Mac) {
        self.forget(orig);
        self.remote.remove(&orig);
    }

    /// Local clients (`batctl tl`): (mac, vid, committed).
    pub fn local(&self) -> Vec<(Mac, u16, bool)> {
        self.local
            .iter()
            .map(|((m, v), e)| (*m, *v, e.committed))
            .collect()
    }

    /// Global entries (`batctl tg`): (mac, vid, originator).
    pub fn global(&self) -> Vec<(Mac, u16, Mac)> {
        self.index.iter().map(|((m, v), o)| (*m, *v, *o)).collect()
    }

    /// Originators with known tables and their entry counts.
    pub fn originators(&self) -> BTreeSet<Mac> {
        self.remote.keys().copied().collect()
    }

    /// Heap estimate (BTree nodes counted at entry size times two).
    pub fn heap_bytes(&self) -> usize {
        let e = core::mem::size_of::<((Mac, u16), Local)>() * self.local.len()
            + core::mem::size_of::<((Mac, u16), u8)>() * self.global_len
            + core::mem::size_of::<((Mac, u16), Mac)>() * self.index.len()
            + core::mem::size_of::<(Mac, Remote)>() * self.remote.len();
        2 * e
            + (self.pending.capacity() + self.last_changes.capacity())
                * core::mem::size_of::<TtChange>()
    }

    /// Worst case of `heap_bytes` for `max_originators`.
    pub fn heap_bound(max_originators: usize) -> usize {
        2 * (core::mem::size_of::<((Mac, u16), Local)>() * MAX_LOCAL
            + core::mem::size_of::<((Mac, u16), u8)>() * MAX_GLOBAL
            + core::mem::size_of::<((Mac, u16), Mac)>() * MAX_GLOBAL
            + core::mem::size_of::<(Mac, Remote)>() * max_originators)
            + 4 * MAX_LOCAL * core::mem::size_of::<TtChange>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tvlv::TvlvIter;

    fn tt_of(tvlv: &[u8]) -> TtData<'_> {
        let t = TvlvIter::new(tvlv).next().unwrap().unwrap();
        TtData::parse(t.value).unwrap()
    }

    const A: Mac = Mac([2, 0, 0, 0, 0, 0xa]);
    const C1: Mac = Mac([2, 0xc, 0, 0, 0, 1]);
    const C2: Mac = Mac([2, 0xc, 0, 0, 0, 2]);

    #[test]
    fn crc32c_matches_the_reference_check_value() {
        // CRC-32C of "123456789" is 0xe3069283 with the usual ~0 pre and
        // post inversion; the kernel's raw form is that without them.
        let raw = crc32c(!0, b"123456789");
        assert_eq!(!raw, 0xe306_9283);
        assert_eq!(crc32c(0, &[]), 0);
    }

    #[test]
    fn diffs_keep_two_tables_in_sync_and_gaps_trigger_requests() {
        let t = Instant::ZERO;
        let (mut a, mut b) = (Tt::new(), Tt::new());
        a.learn(t, C1, 0, true);
        let o1 = a.ogm_tvlv();
        assert_eq!(a.ttvn(), 1);
        // b has never seen a: the first OGM (ttvn 1, diff included) applies
        assert_eq!(b.on_ogm(t, A, &tt_of(&o1)), TtAction::Nothing);
        assert_eq!(b.lookup(C1, 0), Some((A, 1)));
        // no change: same ttvn, CRC matches, nothing to do
        let o2 = a.ogm_tvlv();
        assert_eq!(b.on_ogm(t, A, &tt_of(&o2)), TtAction::Nothing);
        // two commits, b misses the first
        a.learn(t, C2, 0, false);
        let _lost = a.ogm_tvlv();
        a.purge(t + LOCAL_TIMEOUT); // C2 goes again (C1 is nopurge)
        let o4 = a.ogm_tvlv();
        assert_eq!(a.ttvn(), 3);
        let req = match b.on_ogm(t, A, &tt_of(&o4)) {
            TtAction::Send(to, tvlv) => {
                assert_eq!(to, A);
                tvlv
            }
            other => panic!("expected a request, got {other:?}"),
        };
        // a answers with its full table, b installs it
        let bm = Mac([2, 0, 0, 0, 0, 0xb]);
        let resp = match a.on_unicast(bm, &tt_of(&req)) {
            TtAction::Send(to, tvlv) => {
                assert_eq!(to, bm);
                tvlv
            }
            other => panic!("expected a response, got {other:?}"),
        };
        assert_eq!(b.on_unicast(A, &tt_of(&resp)), TtAction::Nothing);
        assert_eq!(b.lookup(C1, 0), Some((A, 3)));
        assert_eq!(b.lookup(C2, 0), None);
        // and now in sync: the next OGM needs nothing
        let o5 = a.ogm_tvlv();
        assert_eq!(
            b.on_ogm(t + Duration::from_secs(1), A, &tt_of(&o5)),
            TtAction::Nothing
        );
        // a second request within the timeout is not sent
        let mut c = Tt::new();
        let _ = c.on_ogm(t, A, &tt_of(&o5));
        assert_eq!(c.on_ogm(t, A, &tt_of(&o5)), TtAction::Nothing);
    }

    #[test]
    fn caps_hold() {
        let mut a = Tt::new();
        for i in 0..(MAX_LOCAL + 10) as u32 {
            let b = i.to_be_bytes();
            a.learn(Instant::ZERO, Mac([2, 1, b[0], b[1], b[2], b[3]]), 0, false);
        }
        assert_eq!(a.local().len(), MAX_LOCAL);
        assert_eq!(a.stats.refused_local, 10);
        assert!(a.heap_bytes() <= Tt::heap_bound(1));
    }
}

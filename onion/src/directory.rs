//! The verified directory: every other node's latest signed announcement.
//!
//! Fed by the daemon from batman TVLVs ([`crate::announce`]): a hash from
//! an OGM either refreshes the entry it names or asks for the record
//! (rate-limited per originator); a record is admitted only when
//!
//! 1. it parses and its signature verifies against its own node ID,
//! 2. it names the originator that sent it (a node cannot announce someone
//!    else's key: the signature binds the key to the originator MAC),
//! 3. it is not our own node ID,
//! 4. at least one of its onion keys is unexpired (else it is stale),
//! 5. its sequence number is above the one held for that node (else it
//!    is a replay; the same number with other bytes is one too).
//!
//! Each refusal is counted in [`DirStats`]. An IPv4 claim that does not
//! follow from the node ID ([`crate::addr::ipv4_claim`] with the announced
//! attempt, in our pool) is ignored, the rest of the record kept.
//!
//! Bounds: at most [`DirConfig::max_entries`] entries. An entry not
//! refreshed for [`DirConfig::entry_timeout_ms`] is purged. When full, a new
//! node takes the place of the least recently refreshed entry only if that
//! one has been silent for [`EVICT_SILENT_MS`]; entries of nodes that keep
//! announcing are never pushed out by newcomers. At most
//! [`MAX_PENDING_REQUESTS`] record requests are outstanding.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::addr::{self, Pool};
use crate::announce::{self, AnnounceError, Announcement};
use crate::identity::NodeId;

/// Default cap on directory entries.
pub const DEFAULT_MAX_ENTRIES: usize = 1024;
/// Default time after which an entry not refreshed by its hash is purged.
pub const DEFAULT_ENTRY_TIMEOUT_MS: u64 = 300_000;
/// At most one record request per originator in this time.
pub const REQUEST_INTERVAL_MS: u64 = 3_000;
/// Outstanding record requests at most.
pub const MAX_PENDING_REQUESTS: usize = 64;
/// A full directory evicts only entries silent for this long.
pub const EVICT_SILENT_MS: u64 = 30_000;
/// Highest IPv4 claim attempt accepted from others.
pub const MAX_IPV4_ATTEMPTS: u8 = 32;

/// Limits of a [`Directory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirConfig {
    pub max_entries: usize,
    pub entry_timeout_ms: u64,
    /// The IPv4 pool claims are checked against.
    pub pool: Pool,
}

impl Default for DirConfig {
    fn default() -> Self {
        DirConfig {
            max_entries: DEFAULT_MAX_ENTRIES,
            entry_timeout_ms: DEFAULT_ENTRY_TIMEOUT_MS,
            pool: Pool::DEFAULT,
        }
    }
}

/// Counters for `meshctl s`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    pub accepted: u64,
    pub refreshed: u64,
    pub requests: u64,
    pub drop_malformed: u64,
    pub drop_bad_signature: u64,
    pub drop_orig_mismatch: u64,
    pub drop_own_id: u64,
    pub drop_stale: u64,
    pub drop_replayed: u64,
    pub drop_full: u64,
    pub claims_ignored: u64,
    pub expired: u64,
}

/// Why a record was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DirError {
    #[error("malformed or unsigned record: {0}")]
    Malformed(AnnounceError),
    #[error("bad signature")]
    Signature,
    #[error("record names originator {0:02x?}, sent by another")]
    OrigMismatch([u8; 6]),
    #[error("record announces our own node ID")]
    OwnId,
    #[error("every onion key of the record has expired")]
    Stale,
    #[error("sequence number {got} is not above {held}")]
    Replayed { got: u64, held: u64 },
    #[error("directory full")]
    Full,
}

/// What a record did to the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// A node we did not know.
    New,
    /// A newer record of a known node.
    Updated,
}

/// One verified node.
#[derive(Debug, Clone)]
pub struct Entry {
    pub ann: Announcement,
    /// The record's bytes as signed (served on request by nobody but its
    /// owner; kept for `meshctl` and tests).
    pub raw: Vec<u8>,
    pub digest: [u8; announce::DIGEST_LEN],
    pub last_seen_ms: u64,
    pub node_addr: Ipv6Addr,
    pub lan_prefix: Ipv6Addr,
    /// The IPv4 /24 claimed, if it follows from the node ID in our pool.
    pub ipv4: Option<Ipv4Addr>,
    /// `<hash>.mesh`.
    pub key_name: String,
}

/// The directory of verified announcements.
#[derive(Debug)]
pub struct Directory {
    cfg: DirConfig,
    me: NodeId,
    entries: BTreeMap<NodeId, Entry>,
    by_orig: BTreeMap<[u8; 6], NodeId>,
    /// Node addresses and LAN prefixes.
    by_v6: BTreeMap<Ipv6Addr, NodeId>,
    /// Claimants of each /24.
    by_v4: BTreeMap<Ipv4Addr, Vec<NodeId>>,
    by_name: BTreeMap<String, Vec<NodeId>>,
    pending: BTreeMap<[u8; 6], u64>,
    stats: DirStats,
}

/// The network of the /64 holding `a`.
fn net64(a: Ipv6Addr) -> Ipv6Addr {
    let mut o = a.octets();
    o[8..].fill(0);
    Ipv6Addr::from(o)
}

/// The network of the /24 holding `a`.
pub fn net24(a: Ipv4Addr) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(a) & 0xffff_ff00)
}

impl Directory {
    pub fn new(me: NodeId, cfg: DirConfig) -> Self {
        Directory {
            cfg,
            me,
            entries: BTreeMap::new(),
            by_orig: BTreeMap::new(),
            by_v6: BTreeMap::new(),
            by_v4: BTreeMap::new(),
            by_name: BTreeMap::new(),
            pending: BTreeMap::new(),
            stats: DirStats::default(),
        }
    }

    pub fn config(&self) -> &DirConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &DirStats {
        &self.stats
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All entries, by node ID.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    pub fn get(&self, id: &NodeId) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// The node speaking from batman originator `orig`.
    pub fn by_orig(&self, orig: &[u8; 6]) -> Option<&Entry> {
        self.entries.get(self.by_orig.get(orig)?)
    }

    /// A [`announce::TVLV_HASH`] value from `orig`'s OGM. Returns the digest
    /// to request from `orig` when the record it names is not held (the
    /// caller sends a [`announce::TVLV_REQUEST`]); None when it is fresh,
    /// older than the held one, malformed, or a request is already out.
    pub fn on_hash(
        &mut self,
        now_ms: u64,
        orig: [u8; 6],
        value: &[u8],
    ) -> Option<[u8; announce::DIGEST_LEN]> {
        let Some((seqno, digest)) = announce::parse_hash(value) else {
            self.stats.drop_malformed += 1;
            return None;
        };
        if let Some(e) = self
            .by_orig
            .get(&orig)
            .and_then(|id| self.entries.get_mut(id))
        {
            if e.digest == digest {
                e.last_seen_ms = now_ms;
                self.stats.refreshed += 1;
                return None;
            }
            // The low 32 bits of the seqno, compared with wrap-around: a
            // late OGM from before the node's last change names an older
            // or the same record.
            if (seqno.wrapping_sub(e.ann.seqno as u32) as i32) <= 0 {
                return None;
            }
        }
        if self
            .pending
            .get(&orig)
            .is_some_and(|t| now_ms < t + REQUEST_INTERVAL_MS)
        {
            return None;
        }
        if !self.pending.contains_key(&orig) && self.pending.len() >= MAX_PENDING_REQUESTS {
            return None;
        }
        self.pending.insert(orig, now_ms);
        self.stats.requests += 1;
        Some(digest)
    }

    /// Should we ask `orig` for its record now (we hold none from it, no
    /// request is out within [`REQUEST_INTERVAL_MS`], the request table has
    /// room)? Marks the request as sent when it says yes.
    pub fn want(&mut self, now_ms: u64, orig: [u8; 6]) -> bool {
        if self.by_orig.contains_key(&orig)
            || self
                .pending
                .get(&orig)
                .is_some_and(|t| now_ms < t + REQUEST_INTERVAL_MS)
            || (!self.pending.contains_key(&orig) && self.pending.len() >= MAX_PENDING_REQUESTS)
        {
            return false;
        }
        self.pending.insert(orig, now_ms);
        self.stats.requests += 1;
        true
    }

    /// A record that arrived from originator `from`. `now_unix` decides
    /// key expiry.
    pub fn on_record(
        &mut self,
        now_ms: u64,
        now_unix: u64,
        from: [u8; 6],
        raw: &[u8],
    ) -> Result<Admitted, DirError> {
        let r = self.admit(now_ms, now_unix, from, raw);
        match r {
            Ok(_) => self.stats.accepted += 1,
            Err(DirError::Malformed(_)) => self.stats.drop_malformed += 1,
            Err(DirError::Signature) => self.stats.drop_bad_signature += 1,
            Err(DirError::OrigMismatch(_)) => self.stats.drop_orig_mismatch += 1,
            Err(DirError::OwnId) => self.stats.drop_own_id += 1,
            Err(DirError::Stale) => self.stats.drop_stale += 1,
            Err(DirError::Replayed { .. }) => self.stats.drop_replayed += 1,
            Err(DirError::Full) => self.stats.drop_full += 1,
        }
        r
    }

    fn admit(
        &mut self,
        now_ms: u64,
        now_unix: u64,
        from: [u8; 6],
        raw: &[u8],
    ) -> Result<Admitted, DirError> {
        let ann = match Announcement::parse_verified(raw) {
            Ok(a) => a,
            Err(AnnounceError::Signature) => return Err(DirError::Signature),
            Err(e) => return Err(DirError::Malformed(e)),
        };
        if ann.orig != from {
            return Err(DirError::OrigMismatch(ann.orig));
        }
        self.pending.remove(&from);
        if ann.node == self.me {
            return Err(DirError::OwnId);
        }
        if ann.onion_keys.iter().all(|(_, until)| *until <= now_unix) {
            return Err(DirError::Stale);
        }
        let digest = announce::digest(raw);
        let known = self.entries.get(&ann.node);
        if let Some(e) = known {
            if ann.seqno < e.ann.seqno || (ann.seqno == e.ann.seqno && e.digest != digest) {
                return Err(DirError::Replayed {
                    got: ann.seqno,
                    held: e.ann.seqno,
                });
            }
            if e.digest == digest {
                let e = self.entries.get_mut(&ann.node).expect("just found");
                e.last_seen_ms = now_ms;
                return Ok(Admitted::Updated);
            }
        }
        let admitted = if known.is_some() {
            Admitted::Updated
        } else {
            if self.entries.len() >= self.cfg.max_entries && !self.evict_one(now_ms) {
                return Err(DirError::Full);
            }
            Admitted::New
        };
        let ipv4 = match ann.ipv4 {
            Some((net, attempt))
                if attempt < MAX_IPV4_ATTEMPTS
                    && addr::ipv4_claim(&ann.node, self.cfg.pool, u32::from(attempt)) == net =>
            {
                Some(net)
            }
            Some(_) => {
                self.stats.claims_ignored += 1;
                None
            }
            None => None,
        };
        // The same device under a new key, or a node that moved MACs:
        // one originator speaks for one node.
        if let Some(old) = self.by_orig.get(&from).copied() {
            if old != ann.node {
                self.remove(&old);
            }
        }
        self.remove(&ann.node);
        let e = Entry {
            node_addr: addr::node_address(&ann.node),
            lan_prefix: addr::lan_prefix(&ann.node),
            key_name: addr::name(&ann.node),
            ipv4,
            digest,
            last_seen_ms: now_ms,
            raw: raw.to_vec(),
            ann,
        };
        self.index(&e);
        self.entries.insert(e.ann.node, e);
        Ok(admitted)
    }

    fn index(&mut self, e: &Entry) {
        let id = e.ann.node;
        self.by_orig.insert(e.ann.orig, id);
        self.by_v6.insert(e.node_addr, id);
        self.by_v6.insert(e.lan_prefix, id);
        if let Some(net) = e.ipv4 {
            self.by_v4.entry(net).or_default().push(id);
        }
        self.by_name.entry(e.key_name.clone()).or_default().push(id);
        if !e.ann.name.is_empty() {
            self.by_name
                .entry(format!("{}.mesh", e.ann.name))
                .or_default()
                .push(id);
        }
    }

    fn remove(&mut self, id: &NodeId) -> Option<Entry> {
        let e = self.entries.remove(id)?;
        if self.by_orig.get(&e.ann.orig) == Some(id) {
            self.by_orig.remove(&e.ann.orig);
        }
        for k in [e.node_addr, e.lan_prefix] {
            if self.by_v6.get(&k) == Some(id) {
                self.by_v6.remove(&k);
            }
        }
        let unlist = |m: &mut Vec<NodeId>| m.retain(|x| x != id);
        if let Some(net) = e.ipv4 {
            if let Some(v) = self.by_v4.get_mut(&net) {
                unlist(v);
                if v.is_empty() {
                    self.by_v4.remove(&net);
                }
            }
        }
        let mut names = vec![e.key_name.clone()];
        if !e.ann.name.is_empty() {
            names.push(format!("{}.mesh", e.ann.name));
        }
        for n in names {
            if let Some(v) = self.by_name.get_mut(&n) {
                unlist(v);
                if v.is_empty() {
                    self.by_name.remove(&n);
                }
            }
        }
        Some(e)
    }

    /// Make room: drop the least recently refreshed entry if it has been
    /// silent for [`EVICT_SILENT_MS`].
    fn evict_one(&mut self, now_ms: u64) -> bool {
        let Some((id, seen)) = self
            .entries
            .values()
            .map(|e| (e.ann.node, e.last_seen_ms))
            .min_by_key(|(_, t)| *t)
        else {
            return false;
        };
        if now_ms.saturating_sub(seen) < EVICT_SILENT_MS {
            return false;
        }
        self.remove(&id);
        true
    }

    /// Purge entries not refreshed for the entry timeout and expired
    /// request marks. Returns the purged node IDs.
    pub fn expire(&mut self, now_ms: u64) -> Vec<NodeId> {
        let timeout = self.cfg.entry_timeout_ms;
        let old: Vec<NodeId> = self
            .entries
            .values()
            .filter(|e| now_ms.saturating_sub(e.last_seen_ms) >= timeout)
            .map(|e| e.ann.node)
            .collect();
        for id in &old {
            self.remove(id);
            self.stats.expired += 1;
        }
        self.pending
            .retain(|_, t| now_ms < t.saturating_add(REQUEST_INTERVAL_MS));
        old
    }

    /// The node owning IPv6 address `a`: its node address, or an address
    /// in its LAN /64.
    pub fn owner_v6(&self, a: Ipv6Addr) -> Option<&Entry> {
        let id = self.by_v6.get(&a).or_else(|| self.by_v6.get(&net64(a)))?;
        self.entries.get(id)
    }

    /// The node owning IPv4 address `a`: among the claimants of its /24 the
    /// one the collision rule keeps ([`addr::ipv4_collision_loser`]).
    pub fn owner_v4(&self, a: Ipv4Addr) -> Option<&Entry> {
        let ids = self.by_v4.get(&net24(a))?;
        let mut best = *ids.first()?;
        for c in &ids[1..] {
            if addr::ipv4_collision_loser(&best, c) == &best {
                best = *c;
            }
        }
        self.entries.get(&best)
    }

    /// A node whose claim on `my_claim` beats ours: we must re-pick.
    pub fn beats_our_claim(&self, my_claim: Ipv4Addr) -> Option<&Entry> {
        let ids = self.by_v4.get(&net24(my_claim))?;
        ids.iter()
            .find(|c| addr::ipv4_collision_loser(&self.me, c) == &self.me)
            .and_then(|c| self.entries.get(c))
    }

    /// The node answering to `name` (lower case, with `.mesh`): its key
    /// hash name, or a name it announced (when several announce one name,
    /// the lowest node ID keeps it, the same on every node).
    pub fn by_name(&self, name: &str) -> Option<&Entry> {
        let ids = self.by_name.get(name)?;
        self.entries.get(ids.iter().min()?)
    }

    /// Unexpired onion keys of `id`, current first.
    pub fn onion_keys(&self, id: &NodeId, now_unix: u64) -> Vec<[u8; 32]> {
        self.entries
            .get(id)
            .map(|e| {
                e.ann
                    .onion_keys
                    .iter()
                    .filter(|(_, until)| *until > now_unix)
                    .map(|(k, _)| *k)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Heap held at most, for the memory budget: entries at their largest
    /// record plus index overhead.
    pub fn heap_bound(&self) -> usize {
        const PER_ENTRY: usize = announce::MAX_RECORD_LEN * 2 + 512;
        self.cfg.max_entries * PER_ENTRY + MAX_PENDING_REQUESTS * 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::test_rng::Counter;
    use crate::identity::Identity;

    const NOW_UNIX: u64 = 1_800_000_000;

    fn node(seed: u64) -> Identity {
        Identity::generate(&mut Counter(seed))
    }

    fn mac(i: u8) -> [u8; 6] {
        [2, 0, 0, 0, 0, i]
    }

    fn ann(id: &Identity, orig: [u8; 6], seqno: u64) -> Announcement {
        Announcement {
            node: id.id(),
            orig,
            seqno,
            ipv4: Some((addr::ipv4_claim(&id.id(), Pool::DEFAULT, 0), 0)),
            onion_keys: vec![([9; 32], NOW_UNIX + 3600)],
            name: String::new(),
        }
    }

    fn dir() -> Directory {
        Directory::new(node(1000).id(), DirConfig::default())
    }

    #[test]
    fn hash_asks_once_then_record_is_admitted_and_refreshed() {
        let mut d = dir();
        let a = node(1);
        let rec = ann(&a, mac(1), 5).sign(&a).unwrap();
        let hv = announce::hash_value(5, &announce::digest(&rec));
        assert_eq!(d.on_hash(0, mac(1), &hv), Some(announce::digest(&rec)));
        assert_eq!(d.on_hash(100, mac(1), &hv), None, "rate limited");
        assert!(!d.want(100, mac(1)), "a request is out");
        assert_eq!(d.on_record(200, NOW_UNIX, mac(1), &rec), Ok(Admitted::New));
        assert_eq!(d.on_hash(300, mac(1), &hv), None, "fresh");
        assert!(!d.want(REQUEST_INTERVAL_MS + 1, mac(1)), "held already");
        assert!(d.want(0, mac(2)));
        assert!(!d.want(1, mac(2)));
        assert_eq!(d.stats().refreshed, 1);
        let e = d.by_orig(&mac(1)).unwrap();
        assert_eq!(e.last_seen_ms, 300);
        assert_eq!(
            d.owner_v6(addr::node_address(&a.id())).unwrap().ann.node,
            a.id()
        );
        let lan = addr::lan_prefix(&a.id());
        let mut host = lan.octets();
        host[15] = 7;
        assert_eq!(d.owner_v6(Ipv6Addr::from(host)).unwrap().ann.node, a.id());
        let v4 = addr::ipv4_claim(&a.id(), Pool::DEFAULT, 0);
        let host4 = Ipv4Addr::from(u32::from(v4) | 9);
        assert_eq!(d.owner_v4(host4).unwrap().ann.node, a.id());
        assert_eq!(d.by_name(&addr::name(&a.id())).unwrap().ann.node, a.id());
        assert_eq!(d.onion_keys(&a.id(), NOW_UNIX), vec![[9; 32]]);
        assert!(d.onion_keys(&a.id(), NOW_UNIX + 3600).is_empty());
    }

    #[test]
    fn someone_elses_key_forged_signature_replay_and_stale_are_dropped_and_counted() {
        let mut d = dir();
        let a = node(1);
        let rec = ann(&a, mac(1), 5).sign(&a).unwrap();
        // Node 2 relays A's record as its own announcement.
        assert_eq!(
            d.on_record(0, NOW_UNIX, mac(2), &rec),
            Err(DirError::OrigMismatch(mac(1)))
        );
        // A forged signature.
        let mut bad = rec.clone();
        let n = bad.len();
        bad[n - 1] ^= 0x80;
        assert_eq!(
            d.on_record(0, NOW_UNIX, mac(1), &bad),
            Err(DirError::Signature)
        );
        // Unsigned: the signature cut off.
        assert!(matches!(
            d.on_record(0, NOW_UNIX, mac(1), &rec[..n - 64]),
            Err(DirError::Malformed(_))
        ));
        assert_eq!(d.on_record(0, NOW_UNIX, mac(1), &rec), Ok(Admitted::New));
        let newer = ann(&a, mac(1), 6).sign(&a).unwrap();
        assert_eq!(
            d.on_record(1, NOW_UNIX, mac(1), &newer),
            Ok(Admitted::Updated)
        );
        // The old record played back.
        assert_eq!(
            d.on_record(2, NOW_UNIX, mac(1), &rec),
            Err(DirError::Replayed { got: 5, held: 6 })
        );
        // Same seqno, other content: refused too.
        let mut other = ann(&a, mac(1), 6);
        other.name = "eve".into();
        let other = other.sign(&a).unwrap();
        assert!(matches!(
            d.on_record(3, NOW_UNIX, mac(1), &other),
            Err(DirError::Replayed { .. })
        ));
        // Every key expired.
        let b = node(2);
        let mut old = ann(&b, mac(2), 1);
        old.onion_keys = vec![([1; 32], NOW_UNIX - 1)];
        assert_eq!(
            d.on_record(4, NOW_UNIX, mac(2), &old.sign(&b).unwrap()),
            Err(DirError::Stale)
        );
        // Our own node ID announced by another.
        let me = node(1000);
        assert_eq!(
            d.on_record(5, NOW_UNIX, mac(3), &ann(&me, mac(3), 1).sign(&me).unwrap()),
            Err(DirError::OwnId)
        );
        let s = d.stats();
        assert_eq!(
            (
                s.drop_orig_mismatch,
                s.drop_bad_signature,
                s.drop_malformed,
                s.drop_replayed,
                s.drop_stale,
                s.drop_own_id,
                s.accepted
            ),
            (1, 1, 1, 2, 1, 1, 2)
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d.get(&a.id()).unwrap().ann.seqno, 6);
    }

    #[test]
    fn ipv4_collision_has_one_winner_everywhere_and_bad_claims_are_ignored() {
        let me = node(1000);
        let mut d = Directory::new(me.id(), DirConfig::default());
        let b = node(7);
        // B claims our /24 (as if by chance: the test forges the pool
        // position by using our claim with an attempt that does not
        // derive it, which must be ignored).
        let mine = addr::ipv4_claim(&me.id(), Pool::DEFAULT, 0);
        let mut a = ann(&b, mac(7), 1);
        a.ipv4 = Some((mine, 0));
        d.on_record(0, NOW_UNIX, mac(7), &a.sign(&b).unwrap())
            .unwrap();
        assert_eq!(d.stats().claims_ignored, 1);
        assert!(d.beats_our_claim(mine).is_none());
        // A real collision: a pool of 2 slots so attempts collide.
        let pool = Pool::new(Ipv4Addr::new(10, 0, 0, 0), 23).unwrap();
        let cfg = DirConfig {
            pool,
            ..DirConfig::default()
        };
        let mut d = Directory::new(me.id(), cfg);
        let mine = addr::ipv4_claim(&me.id(), pool, 0);
        let (other, attempt) = (1..200u64)
            .flat_map(|s| (0..4u8).map(move |t| (s, t)))
            .map(|(s, t)| (node(s), t))
            .find(|(n, t)| addr::ipv4_claim(&n.id(), pool, u32::from(*t)) == mine)
            .unwrap();
        let mut a = ann(&other, mac(9), 1);
        a.ipv4 = Some((mine, attempt));
        d.on_record(0, NOW_UNIX, mac(9), &a.sign(&other).unwrap())
            .unwrap();
        let (my_id, other_id) = (me.id(), other.id());
        let we_lose = addr::ipv4_collision_loser(&my_id, &other_id) == &my_id;
        assert_eq!(d.beats_our_claim(mine).is_some(), we_lose);
        assert_eq!(d.owner_v4(mine).unwrap().ann.node, other.id());
    }

    #[test]
    fn caps_hold_and_only_silent_entries_make_room() {
        let cfg = DirConfig {
            max_entries: 3,
            ..DirConfig::default()
        };
        let mut d = Directory::new(node(1000).id(), cfg);
        for i in 1..=3u8 {
            let n = node(u64::from(i));
            d.on_record(0, NOW_UNIX, mac(i), &ann(&n, mac(i), 1).sign(&n).unwrap())
                .unwrap();
        }
        let n4 = node(4);
        let r4 = ann(&n4, mac(4), 1).sign(&n4).unwrap();
        assert_eq!(
            d.on_record(1000, NOW_UNIX, mac(4), &r4),
            Err(DirError::Full)
        );
        // Nodes 2 and 3 keep announcing; node 1 falls silent.
        for i in 2..=3u8 {
            let e = d.by_orig(&mac(i)).unwrap();
            let hv = announce::hash_value(e.ann.seqno, &e.digest);
            assert_eq!(d.on_hash(EVICT_SILENT_MS, mac(i), &hv), None);
        }
        assert_eq!(
            d.on_record(EVICT_SILENT_MS + 1, NOW_UNIX, mac(4), &r4),
            Ok(Admitted::New)
        );
        assert!(d.by_orig(&mac(1)).is_none());
        assert_eq!(d.len(), 3);
        // Pending requests are capped.
        let mut d = dir();
        let mut asked = 0;
        for i in 0..=255u8 {
            if d.on_hash(0, [6, 0, 0, 0, 1, i], &[0; announce::HASH_LEN])
                .is_some()
            {
                asked += 1;
            }
        }
        assert_eq!(asked, MAX_PENDING_REQUESTS);
        d.expire(REQUEST_INTERVAL_MS);
        assert!(d
            .on_hash(
                REQUEST_INTERVAL_MS,
                [6, 0, 0, 0, 2, 0],
                &[0; announce::HASH_LEN]
            )
            .is_some());
    }

    #[test]
    fn entries_expire_and_a_new_key_on_the_same_originator_replaces_the_old() {
        let mut d = dir();
        let a = node(1);
        d.on_record(0, NOW_UNIX, mac(1), &ann(&a, mac(1), 1).sign(&a).unwrap())
            .unwrap();
        let a2 = node(2);
        let mut r = ann(&a2, mac(1), 1);
        r.name = "alice".into();
        d.on_record(10, NOW_UNIX, mac(1), &r.sign(&a2).unwrap())
            .unwrap();
        assert_eq!(d.len(), 1);
        assert!(d.get(&a.id()).is_none());
        assert!(d.owner_v6(addr::node_address(&a.id())).is_none());
        assert_eq!(d.by_name("alice.mesh").unwrap().ann.node, a2.id());
        assert!(d.expire(10 + DEFAULT_ENTRY_TIMEOUT_MS - 1).is_empty());
        assert_eq!(d.expire(10 + DEFAULT_ENTRY_TIMEOUT_MS), vec![a2.id()]);
        assert!(d.is_empty() && d.by_name("alice.mesh").is_none());
    }
}

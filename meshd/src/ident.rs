//! The node's identity in the daemon: keys kept in the state directory,
//! the signed announcement whose hash rides in every own OGM, and the
//! verified directory of the other nodes, fed from batman TVLV events.
//!
//! Files in the state directory (mode 0600, written atomically):
//!
//! | file | what |
//! |---|---|
//! | `identity.key` | the ed25519 identity (the node ID); never replaced |
//! | `onion.key` | the current x25519 onion key and its certificate |
//! | `onion.prev.key` | the previous onion key, during its grace period |
//! | `node.state` | the announcement sequence number and the IPv4 attempt |
//!
//! A file that exists but does not parse (truncated, corrupt, foreign) is
//! an error at start, naming the file: meshd never replaces a key it could
//! not read.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use batman::wire::{TvlvIter, TvlvRepr, TvlvType};
use batman::Mac;
use onion::addr::{self, Pool};
use onion::announce::{self, Announcement};
use onion::directory::{Admitted, DirConfig, Directory};
use onion::{Identity, NodeId, OnionKey};

use crate::daemon::LogLevel;
use crate::state::StateDir;
use crate::sys::random::OsRng;

pub const IDENTITY_FILE: &str = "identity.key";
pub const ONION_FILE: &str = "onion.key";
pub const ONION_PREV_FILE: &str = "onion.prev.key";
pub const NODE_STATE_FILE: &str = "node.state";

/// A new onion key every week...
pub const ONION_ROTATE_S: u64 = 7 * 86_400;
/// ...and the previous one still accepted for a day after.
pub const ONION_GRACE_S: u64 = 86_400;
/// OGMs in a row that carry the announcement hash after it changed.
pub const HASH_BURST: u8 = 3;
/// Record requests answered per second at most (all requesters together).
pub const MAX_ANSWERS_PER_S: u32 = 64;

/// What the node persists besides its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeState {
    /// Sequence number of the last signed announcement.
    pub seqno: u64,
    /// Which attempt picked the IPv4 /24 ([`addr::ipv4_claim`]).
    pub ipv4_attempt: u8,
}

impl NodeState {
    fn parse(text: &str) -> Result<NodeState, String> {
        let mut s = NodeState::default();
        let (mut seq, mut att) = (false, false);
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match line.split_once(' ') {
                Some(("seqno", v)) if !seq => {
                    s.seqno = v.trim().parse().map_err(|_| format!("bad seqno {v:?}"))?;
                    seq = true;
                }
                Some(("ipv4_attempt", v)) if !att => {
                    s.ipv4_attempt = v
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad ipv4_attempt {v:?}"))?;
                    att = true;
                }
                _ => return Err(format!("unexpected line {line:?}")),
            }
        }
        if !(seq && att) {
            return Err("seqno or ipv4_attempt missing".into());
        }
        Ok(s)
    }

    fn render(&self) -> String {
        format!("seqno {}\nipv4_attempt {}\n", self.seqno, self.ipv4_attempt)
    }
}

/// Seconds since the Unix epoch (key expiry).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The node's identity, its announcement and the directory.
pub struct Ident {
    dir: StateDir,
    identity: Identity,
    onion: OnionKey,
    prev: Option<OnionKey>,
    state: NodeState,
    pool: Pool,
    name: String,
    orig: Option<Mac>,
    /// The current signed record (empty until the originator is known).
    record: Vec<u8>,
    pub directory: Directory,
    /// (second, answers in it) for [`MAX_ANSWERS_PER_S`].
    answered: (u64, u32),
    /// OGM ticks left that carry the hash after a change, and the
    /// every-other-tick phase.
    burst: u8,
    phase: bool,
    log: LogLevel,
    /// The addresses the node ID gives (SHA-256 each: computed once, not
    /// per packet): node address, LAN /64, anonymous /64.
    node_addr: Ipv6Addr,
    lan: Ipv6Addr,
    anon: Ipv6Addr,
    /// The /24 of the last attempt asked for: (attempt, network).
    ipv4_memo: std::cell::Cell<Option<(u8, Ipv4Addr)>>,
}

fn corrupt(dir: &StateDir, file: &str, e: impl std::fmt::Display) -> String {
    format!(
        "{}: {e}; meshd does not replace a key file it cannot read: restore it from a backup, or move it away to make a new identity",
        dir.file(file).display()
    )
}

impl Ident {
    /// Load the keys from `path`, creating what is missing.
    pub fn load(
        path: &Path,
        name: &str,
        pool: Pool,
        dir_cfg: DirConfig,
        log: LogLevel,
    ) -> Result<Ident, String> {
        let dir = StateDir::open(path)?;
        let now = unix_now();
        let identity = match dir.read(IDENTITY_FILE)? {
            Some(b) => Identity::from_file(&b).map_err(|e| corrupt(&dir, IDENTITY_FILE, e))?,
            None => {
                let id = Identity::generate(&mut OsRng);
                dir.write(IDENTITY_FILE, &id.to_file())?;
                if log >= LogLevel::Info {
                    eprintln!(
                        "meshd: new identity {} in {}",
                        addr::name(&id.id()),
                        dir.file(IDENTITY_FILE).display()
                    );
                }
                id
            }
        };
        let node = identity.id();
        let onion = match dir.read(ONION_FILE)? {
            Some(b) => OnionKey::from_file(&b, &node).map_err(|e| corrupt(&dir, ONION_FILE, e))?,
            None => {
                let k = new_onion_key(&identity, now);
                dir.write(ONION_FILE, &k.to_file())?;
                k
            }
        };
        let prev = match dir.read(ONION_PREV_FILE)? {
            Some(b) => Some(
                OnionKey::from_file(&b, &node).map_err(|e| corrupt(&dir, ONION_PREV_FILE, e))?,
            ),
            None => None,
        };
        let state = match dir.read(NODE_STATE_FILE)? {
            Some(b) => std::str::from_utf8(&b)
                .map_err(|e| e.to_string())
                .and_then(NodeState::parse)
                .map_err(|e| format!("{}: {e}", dir.file(NODE_STATE_FILE).display()))?,
            None => NodeState::default(),
        };
        if !announce::valid_name(name) {
            return Err(format!(
                "name {name:?}: use 1-{} characters of a-z, 0-9 and '-'",
                announce::MAX_NAME_LEN
            ));
        }
        let mut me = Ident {
            node_addr: addr::node_address(&node),
            lan: addr::lan_prefix(&node),
            anon: addr::anon_prefix(&node),
            ipv4_memo: std::cell::Cell::new(None),
            directory: Directory::new(node, DirConfig { pool, ..dir_cfg }),
            dir,
            identity,
            onion,
            prev,
            state,
            pool,
            name: name.to_string(),
            orig: None,
            record: Vec::new(),
            answered: (0, 0),
            burst: 0,
            phase: false,
            log,
        };
        me.rotate(now)?;
        Ok(me)
    }

    pub fn node_id(&self) -> NodeId {
        self.identity.id()
    }
    pub fn node_address(&self) -> Ipv6Addr {
        self.node_addr
    }
    /// The anonymous /64 ([`addr::anon_prefix`]).
    pub fn anon_prefix(&self) -> Ipv6Addr {
        self.anon
    }

    pub fn lan_prefix(&self) -> Ipv6Addr {
        self.lan
    }
    /// The claimed /24 (its network address).
    pub fn ipv4_net(&self) -> Ipv4Addr {
        let attempt = self.state.ipv4_attempt;
        if let Some((a, net)) = self.ipv4_memo.get() {
            if a == attempt {
                return net;
            }
        }
        let net = addr::ipv4_claim(&self.node_id(), self.pool, u32::from(attempt));
        self.ipv4_memo.set(Some((attempt, net)));
        net
    }
    pub fn key_name(&self) -> String {
        addr::name(&self.node_id())
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn seqno(&self) -> u64 {
        self.state.seqno
    }
    /// The IPv4 pool as (network, prefix length), for the route into mesh0.
    pub fn pool_net(&self) -> (Ipv4Addr, u8) {
        (self.pool.net, self.pool.len)
    }
    pub fn ipv4_attempt(&self) -> u8 {
        self.state.ipv4_attempt
    }
    /// Our onion keys, current first (for the session layer).
    pub fn onion_keys(&self) -> Vec<OnionKey> {
        std::iter::once(self.onion.clone())
            .chain(self.prev.clone())
            .collect()
    }

    /// Rotate the onion key when due and drop the previous one after its
    /// grace. Returns whether the keys changed.
    fn rotate(&mut self, now: u64) -> Result<bool, String> {
        let mut changed = false;
        if self.prev.as_ref().is_some_and(|p| p.valid_until <= now) {
            self.dir.remove(ONION_PREV_FILE)?;
            self.prev = None;
            changed = true;
        }
        // A clock that went backwards (a router without RTC before NTP)
        // does not rotate: peers check only the expiry, and a new key per
        // boot would gain nothing.
        let due = now >= self.onion.valid_from.saturating_add(ONION_ROTATE_S)
            || now >= self.onion.valid_until;
        if due {
            let new = new_onion_key(&self.identity, now);
            // The previous file first: a crash in between leaves both
            // files holding the old key, which is harmless.
            self.dir.write(ONION_PREV_FILE, &self.onion.to_file())?;
            self.dir.write(ONION_FILE, &new.to_file())?;
            let old = std::mem::replace(&mut self.onion, new);
            self.prev = (old.valid_until > now).then_some(old);
            if self.prev.is_none() {
                self.dir.remove(ONION_PREV_FILE)?;
            }
            changed = true;
            if self.log >= LogLevel::Info {
                eprintln!("meshd: onion key rotated");
            }
        }
        Ok(changed)
    }

    /// Sign a new record if anything in it changed (originator, keys,
    /// claim, name). Returns whether the OGM TVLV must be replaced.
    fn resign(&mut self) -> Result<bool, String> {
        let Some(orig) = self.orig else {
            return Ok(false);
        };
        let now = unix_now();
        let mut keys = vec![(self.onion.public(), self.onion.valid_until)];
        if let Some(p) = &self.prev {
            keys.push((p.public(), p.valid_until));
        }
        let mut ann = Announcement {
            node: self.node_id(),
            orig: orig.0,
            seqno: self.state.seqno,
            ipv4: Some((self.ipv4_net(), self.state.ipv4_attempt)),
            onion_keys: keys,
            name: self.name.clone(),
        };
        if let Ok(cur) = Announcement::parse(&self.record) {
            if cur == ann {
                return Ok(false);
            }
        }
        // A new sequence number, persisted before it is announced, so a
        // restart never reuses one (others would take it as a replay).
        ann.seqno = self.state.seqno.max(now).saturating_add(1);
        self.state.seqno = ann.seqno;
        self.dir
            .write(NODE_STATE_FILE, self.state.render().as_bytes())?;
        self.record = ann.sign(&self.identity).map_err(|e| e.to_string())?;
        self.burst = HASH_BURST;
        Ok(true)
    }

    /// The TVLV area for own OGMs: the record's hash (empty before the
    /// first record).
    pub fn ogm_tvlvs(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.record.is_empty() {
            return out;
        }
        let v = announce::hash_value(self.state.seqno, &announce::digest(&self.record));
        TvlvRepr {
            tvlv_type: TvlvType::Unknown(announce::TVLV_HASH),
            version: announce::TVLV_VERSION,
            value: &v,
        }
        .append_to(&mut out);
        out
    }

    /// The TVLV area for the OGM(s) of the coming second: the hash in every
    /// other one (the directory's entries live for minutes; this halves
    /// what every node adds to every OGM it forwards), and in each of the
    /// next [`HASH_BURST`] after the record changed, so a change spreads at
    /// once.
    pub fn ogm_tvlvs_for_tick(&mut self) -> Vec<u8> {
        self.phase = !self.phase;
        if self.burst > 0 {
            self.burst -= 1;
            return self.ogm_tvlvs();
        }
        if self.phase {
            self.ogm_tvlvs()
        } else {
            Vec::new()
        }
    }

    /// Ask originator `orig` for its record now (a handshake arrived from
    /// a node we do not know yet), within the directory's request limits.
    /// The area to send, if a request is due. An all-zero digest asks for
    /// whatever record is current.
    pub fn request_record(&mut self, now_ms: u64, orig: Mac) -> Option<Vec<u8>> {
        self.directory
            .want(now_ms, orig.0)
            .then(|| area(announce::TVLV_REQUEST, &[0; announce::REQUEST_LEN]))
    }

    /// Once a second: originator changes, key rotation, directory expiry,
    /// IPv4 collisions. Returns whether the OGM TVLV must be replaced.
    pub fn tick(&mut self, now_ms: u64, orig: Option<Mac>) -> Result<bool, String> {
        let now = unix_now();
        let mut changed = self.rotate(now)?;
        if orig != self.orig {
            self.orig = orig;
            changed = true;
        }
        for gone in self.directory.expire(now_ms) {
            if self.log >= LogLevel::Debug {
                eprintln!("meshd: directory: {} expired", addr::name(&gone));
            }
        }
        changed |= self.resolve_collision()?;
        if changed {
            return self.resign();
        }
        Ok(false)
    }

    /// Our /24 is also claimed by a node the rule prefers: take the next
    /// attempt (and again while that one collides too).
    fn resolve_collision(&mut self) -> Result<bool, String> {
        let mut moved = false;
        while let Some(w) = self.directory.beats_our_claim(self.ipv4_net()) {
            if self.state.ipv4_attempt + 1 >= onion::directory::MAX_IPV4_ATTEMPTS {
                eprintln!(
                    "meshd: IPv4: every /24 tried collides; keeping {}",
                    self.ipv4_net()
                );
                break;
            }
            let (old, winner) = (self.ipv4_net(), w.key_name.clone());
            self.state.ipv4_attempt += 1;
            moved = true;
            eprintln!(
                "meshd: IPv4 {old}/24 is also claimed by {winner}, which keeps it; moving to {}/24",
                self.ipv4_net()
            );
        }
        if moved {
            self.dir
                .write(NODE_STATE_FILE, self.state.render().as_bytes())?;
        }
        Ok(moved)
    }

    /// An originator's TVLVs (from its OGM, or a meshd frame to us:
    /// `unicast`). Returns the TVLV areas to send in meshd frames
    /// ([`crate::carrier`]), by destination, and whether
    /// our own OGM TVLV changed (an IPv4 re-pick).
    pub fn on_tvlv(
        &mut self,
        now_ms: u64,
        orig: Mac,
        unicast: bool,
        data: &[u8],
    ) -> (Vec<(Mac, Vec<u8>)>, bool) {
        let mut out = Vec::new();
        let mut changed = false;
        for t in TvlvIter::new(data).flatten() {
            let TvlvType::Unknown(ty) = t.tvlv_type else {
                continue;
            };
            if t.version != announce::TVLV_VERSION {
                continue;
            }
            match (ty, unicast) {
                (announce::TVLV_HASH, false) => {
                    if let Some(d) = self.directory.on_hash(now_ms, orig.0, t.value) {
                        out.push((orig, area(announce::TVLV_REQUEST, &d)));
                    }
                }
                (announce::TVLV_REQUEST, true) => {
                    let sec = now_ms / 1000;
                    if self.answered.0 != sec {
                        self.answered = (sec, 0);
                    }
                    if !self.record.is_empty() && self.answered.1 < MAX_ANSWERS_PER_S {
                        self.answered.1 += 1;
                        out.push((orig, area(announce::TVLV_RECORD, &self.record)));
                    }
                }
                (announce::TVLV_RECORD, true) => {
                    match self
                        .directory
                        .on_record(now_ms, unix_now(), orig.0, t.value)
                    {
                        Ok(a) => {
                            if self.log >= LogLevel::Info && a == Admitted::New {
                                if let Some(e) = self.directory.by_orig(&orig.0) {
                                    eprintln!(
                                        "meshd: directory: {} {} at {orig}{}",
                                        e.key_name,
                                        e.node_addr,
                                        if e.ann.name.is_empty() {
                                            String::new()
                                        } else {
                                            format!(" ({}.mesh)", e.ann.name)
                                        }
                                    );
                                }
                            }
                            match self.resolve_collision().and_then(|m| {
                                if m {
                                    self.resign()
                                } else {
                                    Ok(false)
                                }
                            }) {
                                Ok(c) => changed |= c,
                                Err(e) => eprintln!("meshd: {e}"),
                            }
                        }
                        Err(e) => {
                            if self.log >= LogLevel::Debug {
                                eprintln!("meshd: directory: record from {orig} dropped: {e}");
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        (out, changed)
    }
}

fn new_onion_key(id: &Identity, now: u64) -> OnionKey {
    OnionKey::generate(id, &mut OsRng, now, ONION_ROTATE_S + ONION_GRACE_S)
}

/// A TVLV area of one meshd TVLV.
fn area(ty: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + value.len());
    TvlvRepr {
        tvlv_type: TvlvType::Unknown(ty),
        version: announce::TVLV_VERSION,
        value,
    }
    .append_to(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("meshd-ident-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    fn load(p: &Path) -> Result<Ident, String> {
        Ident::load(p, "", Pool::DEFAULT, DirConfig::default(), LogLevel::Warn)
    }

    #[test]
    fn keys_and_claim_survive_a_restart_and_corruption_is_an_error() {
        let p = tmp("restart");
        let mut a = load(&p).unwrap();
        assert!(a.tick(0, Some(Mac([2, 0, 0, 0, 0, 1]))).unwrap());
        let (id, net, seq) = (a.node_id(), a.ipv4_net(), a.seqno());
        assert!(!a.ogm_tvlvs().is_empty());
        drop(a);
        let mut b = load(&p).unwrap();
        assert_eq!((b.node_id(), b.ipv4_net()), (id, net));
        assert!(b.tick(0, Some(Mac([2, 0, 0, 0, 0, 1]))).unwrap());
        assert!(b.seqno() > seq, "a restart never reuses a sequence number");
        // The hash rides in the next HASH_BURST OGMs after a change, then in
        // every other one.
        let rides: Vec<bool> = (0..7).map(|_| !b.ogm_tvlvs_for_tick().is_empty()).collect();
        assert_eq!(rides, [true, true, true, false, true, false, true]);
        assert!(!b.tick(1, Some(Mac([2, 0, 0, 0, 0, 1]))).unwrap());
        for f in [IDENTITY_FILE, ONION_FILE, NODE_STATE_FILE] {
            let path = p.join(f);
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            let good = std::fs::read(&path).unwrap();
            std::fs::write(&path, &good[..good.len() / 2]).unwrap();
            let e = load(&p).err().expect("truncated file accepted");
            assert!(e.contains(f), "{e}");
            // Never silently replaced.
            assert_eq!(std::fs::read(&path).unwrap(), &good[..good.len() / 2]);
            std::fs::write(&path, &good).unwrap();
        }
        assert!(load(&p).is_ok());
        std::fs::remove_dir_all(&p).unwrap();
    }

    #[test]
    fn two_nodes_learn_each_other_through_hash_request_and_record() {
        let (pa, pb) = (tmp("a"), tmp("b"));
        let (ma, mb) = (Mac([2, 0, 0, 0, 0, 0xa]), Mac([2, 0, 0, 0, 0, 0xb]));
        let mut a = load(&pa).unwrap();
        let mut b = load(&pb).unwrap();
        a.tick(0, Some(ma)).unwrap();
        b.tick(0, Some(mb)).unwrap();
        // B hears A's OGM: it asks A for the record.
        let (asks, _) = b.on_tvlv(0, ma, false, &a.ogm_tvlvs());
        assert_eq!(asks.len(), 1);
        assert_eq!(asks[0].0, ma);
        // A answers.
        let (answers, _) = a.on_tvlv(1, mb, true, &asks[0].1);
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0].0, mb);
        // B admits it.
        b.on_tvlv(2, ma, true, &answers[0].1);
        let e = b.directory.by_orig(&ma.0).expect("admitted");
        assert_eq!(e.ann.node, a.node_id());
        assert_eq!(e.ipv4, Some(a.ipv4_net()));
        // The same hash again: nothing to ask.
        assert!(b.on_tvlv(3, ma, false, &a.ogm_tvlvs()).0.is_empty());
        // A record sent from another originator is refused.
        b.on_tvlv(4, mb, true, &answers[0].1);
        assert_eq!(b.directory.stats().drop_orig_mismatch, 1);
        for p in [pa, pb] {
            std::fs::remove_dir_all(&p).unwrap();
        }
    }

    #[test]
    fn onion_key_rotates_weekly_keeps_the_old_one_for_its_grace_and_survives_restart() {
        let p = tmp("rotate");
        let mut a = load(&p).unwrap();
        let orig = Some(Mac([2, 0, 0, 0, 0, 1]));
        a.tick(0, orig).unwrap();
        let t0 = a.onion.valid_from;
        let first = a.onion.public();
        assert!(!a.rotate(t0 + ONION_ROTATE_S - 1).unwrap());
        assert!(a.rotate(t0 + ONION_ROTATE_S).unwrap());
        let keys: Vec<[u8; 32]> = a.onion_keys().iter().map(|k| k.public()).collect();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1], first, "the old key is kept in its grace");
        assert!(p.join(ONION_PREV_FILE).exists());
        // Both keys come back after a restart, and the record lists both.
        assert!(a.resign().unwrap());
        let rec = Announcement::parse(&a.record).unwrap();
        assert_eq!(rec.onion_keys.len(), 2);
        drop(a);
        let mut b = load(&p).unwrap();
        let again: Vec<[u8; 32]> = b.onion_keys().iter().map(|k| k.public()).collect();
        assert_eq!(again, keys);
        // The grace ends: the old key and its file go.
        assert!(b.rotate(t0 + ONION_ROTATE_S + ONION_GRACE_S).unwrap());
        assert_eq!(b.onion_keys().len(), 1);
        assert_eq!(b.onion_keys()[0].public(), keys[0]);
        assert!(!p.join(ONION_PREV_FILE).exists());
        // A clock that went back changes nothing.
        assert!(!b.rotate(t0).unwrap());
        std::fs::remove_dir_all(&p).unwrap();
    }

    #[test]
    fn node_state_parse_is_strict() {
        assert_eq!(
            NodeState::parse("seqno 5\nipv4_attempt 2\n"),
            Ok(NodeState {
                seqno: 5,
                ipv4_attempt: 2
            })
        );
        assert!(NodeState::parse("seqno 5\n").is_err());
        assert!(NodeState::parse("seqno x\nipv4_attempt 2\n").is_err());
        assert!(NodeState::parse("seqno 1\nseqno 2\nipv4_attempt 2\n").is_err());
        assert!(NodeState::parse("seqno 1\nipv4_attempt 300\n").is_err());
    }
}

//! Signed identity announcements and their three TVLVs.
//!
//! A node tells the mesh who it is with an [`Announcement`]: its node ID,
//! the batman originator MAC it speaks from, its onion keys, its IPv4 /24
//! claim and an optional name, under a sequence number and an ed25519
//! signature by the node ID. The record is ~160-230 bytes, too big to put
//! in every OGM, so three TVLV types (numbers batman-adv does not use; it
//! ignores unknown TVLVs) carry it:
//!
//! | type | version | where | value |
//! |---|---|---|---|
//! | [`TVLV_HASH`] 0xa2 | 1 | every other own OGM | seqno, low 32 bits (4) ‖ digest of the record (4) |
//! | [`TVLV_RECORD`] 0xa3 | 1 | meshd frame, answer to a request | the signed record |
//! | [`TVLV_REQUEST`] 0xa4 | 1 | meshd frame to the announcer | the digest asked for (4) |
//!
//! A node that sees a hash it does not hold asks the originator for the
//! record; the answer is verified (signature, originator MAC, sequence
//! number, key expiry) before it enters the [`crate::directory`].
//!
//! Record layout (integers big-endian):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                node ID (ed25519 public key, 32)               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ 32
//! |                  originator MAC (6)                           |
//! +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ 38
//! |                               |     flags     | IPv4 attempt  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ 40
//! |                      sequence number (8)                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ 48
//! |                  IPv4 /24 claimed (network)                   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+ 52
//! |   key count   |   name len    |  key count x (x25519 public   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  32 ‖ valid until, Unix s, 8) | 54
//! |  ...  name (name len bytes, [a-z0-9-])  ...                   |
//! |  ...  ed25519 signature over "meshd announce v1" ‖ bytes      |
//! |       before it (64)  ...                                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Flags: bit 0 = the IPv4 claim is present (otherwise the network field
//! is zero); the other bits must be zero. Keys are listed current first;
//! during a rotation the previous key follows until its grace ends.

use std::net::Ipv4Addr;

use sha2::{Digest, Sha256};

use crate::identity::{verify, Identity, NodeId};

/// TVLV type of the short hash carried in every own OGM.
pub const TVLV_HASH: u8 = 0xa2;
/// TVLV type of the full signed record (UNICAST_TVLV).
pub const TVLV_RECORD: u8 = 0xa3;
/// TVLV type of a request for the record (UNICAST_TVLV).
pub const TVLV_REQUEST: u8 = 0xa4;
/// Version of all three.
pub const TVLV_VERSION: u8 = 1;

/// Length of a record's digest: the first bytes of its SHA-256. Only says
/// "this is not the record you hold" (a request follows); what is admitted
/// is checked in full.
pub const DIGEST_LEN: usize = 4;
/// Value length of a [`TVLV_HASH`] (seqno's low 32 bits + digest).
pub const HASH_LEN: usize = 4 + DIGEST_LEN;
/// Value length of a [`TVLV_REQUEST`] (the digest).
pub const REQUEST_LEN: usize = DIGEST_LEN;

/// Onion keys in one record: the current one and the one in its grace.
pub const MAX_ONION_KEYS: usize = 2;
/// Longest announced name (without `.mesh`).
pub const MAX_NAME_LEN: usize = 32;
/// Fixed part before the keys.
pub const FIXED_LEN: usize = 54;
/// One listed onion key: x25519 public key and its expiry.
pub const KEY_ENTRY_LEN: usize = 40;
/// The signature at the end.
pub const SIG_LEN: usize = 64;
/// Smallest and largest possible record.
pub const MIN_RECORD_LEN: usize = FIXED_LEN + KEY_ENTRY_LEN + SIG_LEN;
pub const MAX_RECORD_LEN: usize =
    FIXED_LEN + MAX_ONION_KEYS * KEY_ENTRY_LEN + MAX_NAME_LEN + SIG_LEN;

const SIGN_TAG: &[u8] = b"meshd announce v1";
const FLAG_IPV4: u8 = 0x01;

/// Why a record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnnounceError {
    #[error("record of {0} bytes is too short or too long")]
    Length(usize),
    #[error("record length {found} does not match its key and name counts ({want})")]
    Layout { want: usize, found: usize },
    #[error("key count {0} is not between 1 and {MAX_ONION_KEYS}")]
    KeyCount(u8),
    #[error("unknown flags 0x{0:02x}")]
    Flags(u8),
    #[error("name is not 1-{MAX_NAME_LEN} characters of [a-z0-9-] (no leading/trailing '-')")]
    Name,
    #[error("IPv4 claim {0} is not a /24 network")]
    Claim(Ipv4Addr),
    #[error("the signature does not verify against the node ID")]
    Signature,
    #[error("signing key does not match the record's node ID")]
    WrongSigner,
}

/// One node's announcement, as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub node: NodeId,
    /// The batman originator (primary interface) MAC it speaks from.
    pub orig: [u8; 6],
    /// Grows with every new record of this node; older ones are replays.
    pub seqno: u64,
    /// The claimed /24 and the attempt that picked it
    /// ([`crate::addr::ipv4_claim`]).
    pub ipv4: Option<(Ipv4Addr, u8)>,
    /// x25519 onion public keys with their expiry (Unix s), current first.
    pub onion_keys: Vec<([u8; 32], u64)>,
    /// Optional readable name (answers `<name>.mesh`), empty when none.
    pub name: String,
}

/// Is `n` an acceptable announced name (empty means none)?
pub fn valid_name(n: &str) -> bool {
    n.is_empty()
        || (n.len() <= MAX_NAME_LEN
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !n.starts_with('-')
            && !n.ends_with('-'))
}

/// The digest of a record's bytes, carried in [`TVLV_HASH`].
pub fn digest(record: &[u8]) -> [u8; DIGEST_LEN] {
    let d = Sha256::digest(record);
    d[..DIGEST_LEN].try_into().expect("4 of 32 bytes")
}

impl Announcement {
    fn check(&self) -> Result<(), AnnounceError> {
        if self.onion_keys.is_empty() || self.onion_keys.len() > MAX_ONION_KEYS {
            return Err(AnnounceError::KeyCount(self.onion_keys.len().min(255) as u8));
        }
        if !valid_name(&self.name) {
            return Err(AnnounceError::Name);
        }
        if let Some((net, _)) = self.ipv4 {
            if u32::from(net) & 0xff != 0 {
                return Err(AnnounceError::Claim(net));
            }
        }
        Ok(())
    }

    /// The record's length on the wire.
    pub fn wire_len(&self) -> usize {
        FIXED_LEN + self.onion_keys.len() * KEY_ENTRY_LEN + self.name.len() + SIG_LEN
    }

    /// The signed record, ready for [`TVLV_RECORD`].
    pub fn sign(&self, id: &Identity) -> Result<Vec<u8>, AnnounceError> {
        self.check()?;
        if id.id() != self.node {
            return Err(AnnounceError::WrongSigner);
        }
        let mut b = Vec::with_capacity(self.wire_len());
        b.extend_from_slice(&self.node);
        b.extend_from_slice(&self.orig);
        let (flags, attempt, net) = match self.ipv4 {
            Some((net, attempt)) => (FLAG_IPV4, attempt, net),
            None => (0, 0, Ipv4Addr::UNSPECIFIED),
        };
        b.push(flags);
        b.push(attempt);
        b.extend_from_slice(&self.seqno.to_be_bytes());
        b.extend_from_slice(&net.octets());
        b.push(self.onion_keys.len() as u8);
        b.push(self.name.len() as u8);
        for (k, until) in &self.onion_keys {
            b.extend_from_slice(k);
            b.extend_from_slice(&until.to_be_bytes());
        }
        b.extend_from_slice(self.name.as_bytes());
        let sig = id.sign(&signed_message(&b));
        b.extend_from_slice(&sig);
        Ok(b)
    }

    /// Parse a record without checking its signature (for `meshctl td`,
    /// which shows what is on the wire; the directory uses
    /// [`Announcement::parse_verified`]).
    pub fn parse(b: &[u8]) -> Result<Announcement, AnnounceError> {
        if !(MIN_RECORD_LEN..=MAX_RECORD_LEN).contains(&b.len()) {
            return Err(AnnounceError::Length(b.len()));
        }
        let keys = b[52];
        let name_len = usize::from(b[53]);
        if keys == 0 || usize::from(keys) > MAX_ONION_KEYS {
            return Err(AnnounceError::KeyCount(keys));
        }
        let want = FIXED_LEN + usize::from(keys) * KEY_ENTRY_LEN + name_len + SIG_LEN;
        if want != b.len() {
            return Err(AnnounceError::Layout {
                want,
                found: b.len(),
            });
        }
        let flags = b[38];
        if flags & !FLAG_IPV4 != 0 {
            return Err(AnnounceError::Flags(flags));
        }
        let net = Ipv4Addr::new(b[48], b[49], b[50], b[51]);
        let ipv4 = if flags & FLAG_IPV4 != 0 {
            if u32::from(net) & 0xff != 0 {
                return Err(AnnounceError::Claim(net));
            }
            Some((net, b[39]))
        } else {
            None
        };
        let mut onion_keys = Vec::with_capacity(usize::from(keys));
        let mut at = FIXED_LEN;
        for _ in 0..keys {
            let k: [u8; 32] = b[at..at + 32].try_into().expect("32 bytes");
            let until = u64::from_be_bytes(b[at + 32..at + 40].try_into().expect("8 bytes"));
            onion_keys.push((k, until));
            at += KEY_ENTRY_LEN;
        }
        let name = std::str::from_utf8(&b[at..at + name_len])
            .map_err(|_| AnnounceError::Name)?
            .to_string();
        if !valid_name(&name) {
            return Err(AnnounceError::Name);
        }
        Ok(Announcement {
            node: b[..32].try_into().expect("32 bytes"),
            orig: b[32..38].try_into().expect("6 bytes"),
            seqno: u64::from_be_bytes(b[40..48].try_into().expect("8 bytes")),
            ipv4,
            onion_keys,
            name,
        })
    }

    /// Parse a record and check its signature against its own node ID.
    pub fn parse_verified(b: &[u8]) -> Result<Announcement, AnnounceError> {
        let a = Announcement::parse(b)?;
        let (body, sig) = b.split_at(b.len() - SIG_LEN);
        let sig: &[u8; 64] = sig.try_into().expect("64 bytes");
        if !verify(&a.node, &signed_message(body), sig) {
            return Err(AnnounceError::Signature);
        }
        Ok(a)
    }
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(SIGN_TAG.len() + body.len());
    m.extend_from_slice(SIGN_TAG);
    m.extend_from_slice(body);
    m
}

/// The value of a [`TVLV_HASH`].
pub fn hash_value(seqno: u64, digest: &[u8; DIGEST_LEN]) -> [u8; HASH_LEN] {
    let mut v = [0u8; HASH_LEN];
    v[..4].copy_from_slice(&(seqno as u32).to_be_bytes());
    v[4..].copy_from_slice(digest);
    v
}

/// Read a [`TVLV_HASH`] value: (seqno's low 32 bits, digest).
pub fn parse_hash(v: &[u8]) -> Option<(u32, [u8; DIGEST_LEN])> {
    if v.len() != HASH_LEN {
        return None;
    }
    Some((
        u32::from_be_bytes(v[..4].try_into().ok()?),
        v[4..].try_into().ok()?,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::identity::test_rng::Counter;

    pub(crate) fn sample(id: &Identity, seqno: u64) -> Announcement {
        Announcement {
            node: id.id(),
            orig: [2, 0, 0, 0, 0, 1],
            seqno,
            ipv4: Some((Ipv4Addr::new(10, 1, 2, 0), 0)),
            onion_keys: vec![([7; 32], 2_000_000_000)],
            name: "alice".into(),
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let id = Identity::generate(&mut Counter(3));
        let a = sample(&id, 42);
        let b = a.sign(&id).unwrap();
        assert_eq!(b.len(), a.wire_len());
        assert_eq!(b.len(), FIXED_LEN + KEY_ENTRY_LEN + 5 + SIG_LEN);
        assert_eq!(&b[..32], &id.id());
        assert_eq!(&b[32..38], &[2, 0, 0, 0, 0, 1]);
        assert_eq!(b[38], FLAG_IPV4);
        assert_eq!(&b[40..48], &42u64.to_be_bytes());
        assert_eq!(&b[48..52], &[10, 1, 2, 0]);
        assert_eq!((b[52], b[53]), (1, 5));
        assert_eq!(&b[54..86], &[7; 32]);
        assert_eq!(&b[86..94], &2_000_000_000u64.to_be_bytes());
        assert_eq!(&b[94..99], b"alice");
        assert_eq!(Announcement::parse_verified(&b).unwrap(), a);
    }

    #[test]
    fn any_flipped_bit_is_refused() {
        let id = Identity::generate(&mut Counter(4));
        let b = sample(&id, 1).sign(&id).unwrap();
        for i in 0..b.len() {
            let mut bad = b.clone();
            bad[i] ^= 0x01;
            assert!(
                Announcement::parse_verified(&bad).is_err(),
                "flip at byte {i} accepted"
            );
        }
        for n in 0..b.len() {
            assert!(Announcement::parse_verified(&b[..n]).is_err());
        }
    }

    #[test]
    fn another_key_cannot_sign_for_a_node() {
        let alice = Identity::generate(&mut Counter(5));
        let mallory = Identity::generate(&mut Counter(6));
        let a = sample(&alice, 1);
        assert_eq!(a.sign(&mallory), Err(AnnounceError::WrongSigner));
        // Mallory's signature spliced onto Alice's record.
        let mut forged = a.sign(&alice).unwrap();
        let n = forged.len();
        let sig = mallory.sign(&signed_message(&forged[..n - SIG_LEN]));
        forged[n - SIG_LEN..].copy_from_slice(&sig);
        assert_eq!(
            Announcement::parse_verified(&forged),
            Err(AnnounceError::Signature)
        );
    }

    #[test]
    fn bad_fields_are_refused_before_signing() {
        let id = Identity::generate(&mut Counter(7));
        let mut a = sample(&id, 1);
        a.name = "Bob".into();
        assert_eq!(a.sign(&id), Err(AnnounceError::Name));
        a.name = "-x".into();
        assert_eq!(a.sign(&id), Err(AnnounceError::Name));
        a.name = "x".repeat(MAX_NAME_LEN + 1);
        assert_eq!(a.sign(&id), Err(AnnounceError::Name));
        a.name = String::new();
        a.ipv4 = Some((Ipv4Addr::new(10, 1, 2, 3), 0));
        assert!(matches!(a.sign(&id), Err(AnnounceError::Claim(_))));
        a.ipv4 = None;
        a.onion_keys = vec![([1; 32], 1); 3];
        assert_eq!(a.sign(&id), Err(AnnounceError::KeyCount(3)));
        a.onion_keys.truncate(2);
        let b = a.sign(&id).unwrap();
        assert_eq!(b.len(), MAX_RECORD_LEN - MAX_NAME_LEN);
        assert_eq!(Announcement::parse_verified(&b).unwrap().ipv4, None);
    }

    #[test]
    fn hash_value_round_trip() {
        let v = hash_value(0x1_0000_0009, &[1, 2, 3, 4]);
        assert_eq!(v, [0, 0, 0, 9, 1, 2, 3, 4]);
        assert_eq!(parse_hash(&v), Some((9, [1, 2, 3, 4])));
        assert_eq!(parse_hash(&v[..7]), None);
    }
}

//! Addresses derived from a node ID, with no central authority: every node
//! computes every other node's addresses from its public key, so a packet's
//! source can be checked against the key that signed its announcement.
//!
//! | what | derivation (H = SHA-256, `id` = ed25519 public key) |
//! |---|---|
//! | node address | `fd` followed by bytes 0..15 of H("meshd node address v1" ‖ id) |
//! | LAN /64 | `fd` followed by bytes 0..7 of H("meshd lan prefix v1" ‖ id), then 64 zero bits |
//! | anonymous LAN /64 | `fd` followed by bytes 0..7 of H("meshd anon prefix v1" ‖ id), then 64 zero bits |
//! | IPv4 /24 | the /24 numbered H("meshd ipv4 v1" ‖ id ‖ attempt) mod (number of /24s) in the pool |
//! | name | base32 (RFC 4648, lower case) of bytes 0..10 of H("meshd name v1" ‖ id), then `.mesh` |
//!
//! A collision of IPv4 claims is resolved by [`ipv4_collision_loser`], the
//! same rule on every node: the loser takes the next `attempt`.

use std::net::{Ipv4Addr, Ipv6Addr};

use sha2::{Digest, Sha256};

use crate::identity::NodeId;

fn h(tag: &[u8], id: &NodeId, extra: &[u8]) -> [u8; 32] {
    let mut d = Sha256::new();
    d.update(tag);
    d.update(id);
    d.update(extra);
    d.finalize().into()
}

/// The node's own address in fd00::/8.
pub fn node_address(id: &NodeId) -> Ipv6Addr {
    let x = h(b"meshd node address v1", id, &[]);
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[1..].copy_from_slice(&x[..15]);
    Ipv6Addr::from(a)
}

/// The node's LAN prefix (a /64 in fd00::/8); the address returned is the
/// prefix with a zero interface ID.
pub fn lan_prefix(id: &NodeId) -> Ipv6Addr {
    let x = h(b"meshd lan prefix v1", id, &[]);
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[1..8].copy_from_slice(&x[..7]);
    Ipv6Addr::from(a)
}

/// The node's *anonymous* LAN prefix: a second /64 whose addresses only
/// ever leave the node inside onion circuits (an app chooses anonymity by
/// binding to one). Nothing routes it across the mesh: others never see
/// it, not even its owner's directory record names it.
pub fn anon_prefix(id: &NodeId) -> Ipv6Addr {
    let x = h(b"meshd anon prefix v1", id, &[]);
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[1..8].copy_from_slice(&x[..7]);
    Ipv6Addr::from(a)
}

/// An IPv4 pool: a network and its prefix length (at most 24).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub net: Ipv4Addr,
    pub len: u8,
}

/// Why a pool was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    #[error("pool prefix length {0} is not between 1 and 24")]
    Length(u8),
    #[error("pool {0}/{1} has host bits set")]
    HostBits(Ipv4Addr, u8),
}

impl Pool {
    /// The default pool, 10.0.0.0/8.
    pub const DEFAULT: Pool = Pool {
        net: Ipv4Addr::new(10, 0, 0, 0),
        len: 8,
    };

    pub fn new(net: Ipv4Addr, len: u8) -> Result<Pool, PoolError> {
        if !(1..=24).contains(&len) {
            return Err(PoolError::Length(len));
        }
        let mask = u32::MAX << (32 - len);
        if u32::from(net) & !mask != 0 {
            return Err(PoolError::HostBits(net, len));
        }
        Ok(Pool { net, len })
    }

    /// How many /24s it holds.
    pub fn slots(&self) -> u32 {
        1u32 << (24 - self.len)
    }

    /// Is `a` inside the pool?
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        let mask = u32::MAX << (32 - self.len);
        u32::from(a) & mask == u32::from(self.net)
    }
}

/// The /24 (its network address) node `id` claims from `pool` at its
/// `attempt`-th try (0 first; a node that lost a collision tries the next).
pub fn ipv4_claim(id: &NodeId, pool: Pool, attempt: u32) -> Ipv4Addr {
    let x = h(b"meshd ipv4 v1", id, &attempt.to_be_bytes());
    let n = u32::from_be_bytes([x[0], x[1], x[2], x[3]]) % pool.slots();
    Ipv4Addr::from(u32::from(pool.net) | (n << 8))
}

/// Two nodes claim the same /24: which one gives way? The same answer on
/// every node: the one whose ID hashes higher (ties cannot happen between
/// distinct IDs in practice; the IDs themselves break them).
pub fn ipv4_collision_loser<'a>(a: &'a NodeId, b: &'a NodeId) -> &'a NodeId {
    let (ha, hb) = (
        h(b"meshd ipv4 tiebreak v1", a, &[]),
        h(b"meshd ipv4 tiebreak v1", b, &[]),
    );
    if (ha, a) > (hb, b) {
        a
    } else {
        b
    }
}

/// The node's `.mesh` name: 16 base32 characters of its key hash.
pub fn name(id: &NodeId) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let x = h(b"meshd name v1", id, &[]);
    let mut bits: u128 = 0;
    for b in &x[..10] {
        bits = (bits << 8) | u128::from(*b);
    }
    let mut s = String::with_capacity(21);
    for i in (0..16).rev() {
        s.push(ALPHABET[((bits >> (i * 5)) & 31) as usize] as char);
    }
    s.push_str(".mesh");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> NodeId {
        [n; 32]
    }

    #[test]
    fn addresses_are_stable_distinct_and_in_range() {
        let a = node_address(&id(1));
        assert_eq!(a, node_address(&id(1)));
        assert_ne!(a, node_address(&id(2)));
        assert_eq!(a.octets()[0], 0xfd);
        let p = lan_prefix(&id(1));
        assert_eq!(p.octets()[0], 0xfd);
        assert_eq!(&p.octets()[8..], &[0u8; 8]);
        assert_ne!(p.octets()[..8], a.octets()[..8]);
        let n = name(&id(1));
        assert_eq!(n.len(), 21);
        assert!(n.ends_with(".mesh"));
        assert!(n[..16]
            .bytes()
            .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)));
        assert_ne!(n, name(&id(2)));
    }

    #[test]
    fn known_vectors() {
        // Computed independently (Python hashlib/base64) for an ID of 32
        // bytes 0x01: a change here changes every deployed address.
        assert_eq!(
            node_address(&id(1)),
            "fd7c:d550:3dce:4f5d:34a3:e495:803b:7e60"
                .parse::<Ipv6Addr>()
                .unwrap()
        );
        assert_eq!(name(&id(1)), "l7zelifkfympnobf.mesh");
        assert_eq!(
            ipv4_claim(&id(1), Pool::DEFAULT, 0),
            Ipv4Addr::new(10, 224, 224, 0)
        );
    }

    #[test]
    fn ipv4_claims_stay_in_the_pool_and_move_on_collision() {
        let pool = Pool::DEFAULT;
        assert_eq!(pool.slots(), 65536);
        for n in 0..50 {
            let c = ipv4_claim(&id(n), pool, 0);
            assert!(pool.contains(c), "{c}");
            assert_eq!(c.octets()[3], 0);
            assert_ne!(c, ipv4_claim(&id(n), pool, 1));
        }
        let small = Pool::new(Ipv4Addr::new(172, 16, 0, 0), 22).unwrap();
        assert_eq!(small.slots(), 4);
        assert!(small.contains(ipv4_claim(&id(9), small, 3)));
        assert_eq!(
            Pool::new(Ipv4Addr::new(10, 0, 0, 0), 25),
            Err(PoolError::Length(25))
        );
        assert!(matches!(
            Pool::new(Ipv4Addr::new(10, 0, 0, 1), 8),
            Err(PoolError::HostBits(..))
        ));
        // The same loser whichever way round it is asked.
        let (a, b) = (id(3), id(4));
        assert_eq!(ipv4_collision_loser(&a, &b), ipv4_collision_loser(&b, &a));
    }
}

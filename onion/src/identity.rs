//! A node's long-term identity: an ed25519 signing key (the node ID is its
//! public key) and an x25519 onion key signed by it for a validity period,
//! rotated on a schedule. Sans-IO: randomness comes in as an `RngCore`,
//! time as Unix seconds, and key files as bytes (meshd writes them, mode
//! 0600, atomically).
//!
//! Key file layout (all integers big-endian):
//!
//! ```text
//!  0      8     9      10        12                                  N-16      N
//!  +------+-----+------+---------+-----------------------------------+---------+
//!  |MESHD |ver 1|kind  |reserved |  body (kind 1: 32-byte ed25519    | SHA-256 |
//!  |KEY   |     |1 / 2 | 0 0     |  seed; kind 2: 32-byte x25519     | of 0..N-16,
//!  +------+-----+------+---------+  secret, valid_from u64, valid_   | first 16 |
//!                                   until u64, 64-byte signature)    +---------+
//! ```
//!
//! The checksum catches truncation and corruption: such a file is an error,
//! never silently replaced by a new key.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// A node ID: the ed25519 public key.
pub type NodeId = [u8; 32];

/// Key files start with this.
pub const KEY_FILE_MAGIC: &[u8; 8] = b"MESHDKEY";
/// Key file format version.
pub const KEY_FILE_VERSION: u8 = 1;
const KIND_IDENTITY: u8 = 1;
const KIND_ONION: u8 = 2;
const HEADER_LEN: usize = 12;
const CHECKSUM_LEN: usize = 16;
/// Length of an identity key file.
pub const IDENTITY_FILE_LEN: usize = HEADER_LEN + 32 + CHECKSUM_LEN;
/// Length of an onion key file.
pub const ONION_FILE_LEN: usize = HEADER_LEN + 32 + 8 + 8 + 64 + CHECKSUM_LEN;
/// Domain separation of the onion key certificate.
const ONION_CERT_TAG: &[u8] = b"meshd onion key v1";

/// Why a key file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    #[error("not a meshd key file (bad magic)")]
    Magic,
    #[error("unsupported key file version {0}")]
    Version(u8),
    #[error("wrong kind of key file (want {want}, found {found})")]
    Kind { want: u8, found: u8 },
    #[error("key file is {found} bytes, want {want} (truncated or padded)")]
    Length { want: usize, found: usize },
    #[error("key file checksum does not match (corrupt)")]
    Checksum,
    #[error("onion key certificate does not verify against this identity")]
    Certificate,
}

fn checksum(b: &[u8]) -> [u8; CHECKSUM_LEN] {
    let d = Sha256::digest(b);
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&d[..CHECKSUM_LEN]);
    out
}

fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + body.len() + CHECKSUM_LEN);
    v.extend_from_slice(KEY_FILE_MAGIC);
    v.extend_from_slice(&[KEY_FILE_VERSION, kind, 0, 0]);
    v.extend_from_slice(body);
    let c = checksum(&v);
    v.extend_from_slice(&c);
    v
}

/// The body of a key file of `kind` and length `want`, checked.
fn unframe(b: &[u8], kind: u8, want: usize) -> Result<&[u8], KeyFileError> {
    if b.len() < HEADER_LEN || &b[..8] != KEY_FILE_MAGIC {
        return Err(KeyFileError::Magic);
    }
    if b[8] != KEY_FILE_VERSION {
        return Err(KeyFileError::Version(b[8]));
    }
    if b[9] != kind {
        return Err(KeyFileError::Kind {
            want: kind,
            found: b[9],
        });
    }
    if b.len() != want {
        return Err(KeyFileError::Length {
            want,
            found: b.len(),
        });
    }
    let (data, sum) = b.split_at(want - CHECKSUM_LEN);
    if checksum(data) != sum {
        return Err(KeyFileError::Checksum);
    }
    Ok(&data[HEADER_LEN..])
}

/// The node's long-term signing key.
pub struct Identity {
    key: SigningKey,
}

impl Identity {
    /// A new random identity.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Identity {
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The node ID (public key).
    pub fn id(&self) -> NodeId {
        self.key.verifying_key().to_bytes()
    }

    /// Sign `msg`.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.key.sign(msg).to_bytes()
    }

    /// The key file's bytes.
    pub fn to_file(&self) -> Vec<u8> {
        frame(KIND_IDENTITY, &self.key.to_bytes())
    }

    /// Read a key file.
    pub fn from_file(b: &[u8]) -> Result<Self, KeyFileError> {
        let body = unframe(b, KIND_IDENTITY, IDENTITY_FILE_LEN)?;
        let seed: [u8; 32] = body.try_into().expect("length checked");
        Ok(Identity {
            key: SigningKey::from_bytes(&seed),
        })
    }
}

/// Does `sig` sign `msg` under node `id`? (Strict verification: no
/// malleable signatures, no small-order keys.)
pub fn verify(id: &NodeId, msg: &[u8], sig: &[u8; 64]) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(id) else {
        return false;
    };
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
        .is_ok()
}

/// What an onion key certificate signs.
fn cert_message(public: &[u8; 32], valid_from: u64, valid_until: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(ONION_CERT_TAG.len() + 48);
    m.extend_from_slice(ONION_CERT_TAG);
    m.extend_from_slice(public);
    m.extend_from_slice(&valid_from.to_be_bytes());
    m.extend_from_slice(&valid_until.to_be_bytes());
    m
}

/// An x25519 onion key, signed by the identity for `valid_from ..
/// valid_until` (Unix seconds).
#[derive(Clone)]
pub struct OnionKey {
    secret: x25519_dalek::StaticSecret,
    pub valid_from: u64,
    pub valid_until: u64,
    pub cert: [u8; 64],
}

impl OnionKey {
    /// A new onion key valid for `lifetime_s` from `now`, signed by `id`.
    pub fn generate<R: RngCore + CryptoRng>(
        id: &Identity,
        rng: &mut R,
        now: u64,
        lifetime_s: u64,
    ) -> Self {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        let secret = x25519_dalek::StaticSecret::from(b);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        let valid_until = now.saturating_add(lifetime_s);
        let cert = id.sign(&cert_message(&public, now, valid_until));
        OnionKey {
            secret,
            valid_from: now,
            valid_until,
            cert,
        }
    }

    /// The public half others encrypt to.
    pub fn public(&self) -> [u8; 32] {
        x25519_dalek::PublicKey::from(&self.secret).to_bytes()
    }

    /// Diffie-Hellman with a peer's public key.
    pub fn agree(&self, peer: &[u8; 32]) -> [u8; 32] {
        self.secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(*peer))
            .to_bytes()
    }

    /// Is it in its validity period at `now`?
    pub fn valid_at(&self, now: u64) -> bool {
        (self.valid_from..self.valid_until).contains(&now)
    }

    /// The key file's bytes.
    pub fn to_file(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(112);
        body.extend_from_slice(&self.secret.to_bytes());
        body.extend_from_slice(&self.valid_from.to_be_bytes());
        body.extend_from_slice(&self.valid_until.to_be_bytes());
        body.extend_from_slice(&self.cert);
        frame(KIND_ONION, &body)
    }

    /// Read a key file; its certificate must verify against `owner`.
    pub fn from_file(b: &[u8], owner: &NodeId) -> Result<Self, KeyFileError> {
        let body = unframe(b, KIND_ONION, ONION_FILE_LEN)?;
        let secret: [u8; 32] = body[..32].try_into().expect("length checked");
        let secret = x25519_dalek::StaticSecret::from(secret);
        let valid_from = u64::from_be_bytes(body[32..40].try_into().expect("8 bytes"));
        let valid_until = u64::from_be_bytes(body[40..48].try_into().expect("8 bytes"));
        let cert: [u8; 64] = body[48..112].try_into().expect("64 bytes");
        let k = OnionKey {
            secret,
            valid_from,
            valid_until,
            cert,
        };
        if !verify_onion_cert(owner, &k.public(), valid_from, valid_until, &cert) {
            return Err(KeyFileError::Certificate);
        }
        Ok(k)
    }
}

/// Does `cert` bind onion key `public` to node `owner` for the period?
pub fn verify_onion_cert(
    owner: &NodeId,
    public: &[u8; 32],
    valid_from: u64,
    valid_until: u64,
    cert: &[u8; 64],
) -> bool {
    valid_from < valid_until && verify(owner, &cert_message(public, valid_from, valid_until), cert)
}

/// A deterministic RNG for tests (not for keys in use).
#[cfg(test)]
pub(crate) mod test_rng {
    use rand_core::{CryptoRng, RngCore};

    pub(crate) struct Counter(pub u64);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0
        }
        fn fill_bytes(&mut self, d: &mut [u8]) {
            for c in d.chunks_mut(8) {
                let v = self.next_u64().to_le_bytes();
                c.copy_from_slice(&v[..c.len()]);
            }
        }
        fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(d);
            Ok(())
        }
    }
    impl CryptoRng for Counter {}
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::test_rng::Counter;

    #[test]
    fn identity_file_round_trip_and_damage_is_refused() {
        let id = Identity::generate(&mut Counter(1));
        let f = id.to_file();
        assert_eq!(f.len(), IDENTITY_FILE_LEN);
        assert_eq!(&f[..8], KEY_FILE_MAGIC);
        let back = Identity::from_file(&f).unwrap();
        assert_eq!(back.id(), id.id());
        assert_eq!(
            Identity::from_file(&f[..f.len() - 1]).err(),
            Some(KeyFileError::Length {
                want: IDENTITY_FILE_LEN,
                found: IDENTITY_FILE_LEN - 1
            })
        );
        for i in [8, 9, 20, f.len() - 1] {
            let mut bad = f.clone();
            bad[i] ^= 0x01;
            assert!(Identity::from_file(&bad).is_err(), "byte {i} flipped");
        }
        let mut bad = f.clone();
        bad[0] = b'X';
        assert_eq!(Identity::from_file(&bad).err(), Some(KeyFileError::Magic));
        assert!(Identity::from_file(&[]).is_err());
    }

    #[test]
    fn signatures_verify_only_under_their_key() {
        let a = Identity::generate(&mut Counter(2));
        let b = Identity::generate(&mut Counter(3));
        let sig = a.sign(b"hello");
        assert!(verify(&a.id(), b"hello", &sig));
        assert!(!verify(&a.id(), b"hellO", &sig));
        assert!(!verify(&b.id(), b"hello", &sig));
        let mut bad = sig;
        bad[10] ^= 1;
        assert!(!verify(&a.id(), b"hello", &bad));
        assert!(!verify(&[0u8; 32], b"hello", &sig));
    }

    #[test]
    fn onion_key_is_certified_rotates_and_survives_its_file() {
        let id = Identity::generate(&mut Counter(4));
        let k = OnionKey::generate(&id, &mut Counter(5), 1_000, 600);
        assert!(k.valid_at(1_000) && k.valid_at(1_599) && !k.valid_at(1_600) && !k.valid_at(999));
        assert!(verify_onion_cert(
            &id.id(),
            &k.public(),
            1_000,
            1_600,
            &k.cert
        ));
        // The period is part of what is signed.
        assert!(!verify_onion_cert(
            &id.id(),
            &k.public(),
            1_000,
            9_999,
            &k.cert
        ));
        let f = k.to_file();
        assert_eq!(f.len(), ONION_FILE_LEN);
        let back = OnionKey::from_file(&f, &id.id()).unwrap();
        assert_eq!(back.public(), k.public());
        assert_eq!((back.valid_from, back.valid_until), (1_000, 1_600));
        // Someone else's identity does not own it.
        let other = Identity::generate(&mut Counter(6));
        assert_eq!(
            OnionKey::from_file(&f, &other.id()).err(),
            Some(KeyFileError::Certificate)
        );
        // An identity file is not an onion key file.
        assert!(matches!(
            OnionKey::from_file(&id.to_file(), &id.id()),
            Err(KeyFileError::Kind { .. })
        ));
        // Both sides of a Diffie-Hellman agree.
        let k2 = OnionKey::generate(&other, &mut Counter(7), 1_000, 600);
        assert_eq!(k.agree(&k2.public()), k2.agree(&k.public()));
    }
}

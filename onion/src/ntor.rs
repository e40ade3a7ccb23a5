//! The circuit-extension handshake: how a client agrees on keys with each
//! relay of an onion circuit, one hop at a time. An ntor-style handshake
//! (after Tor's ntor, re-derived here): one round trip, the relay
//! authenticated by its x25519 onion key, the client anonymous, and the
//! hop's keys forward-secret.
//!
//! ## Contract
//! Sans-IO and deterministic: randomness comes in as an
//! `RngCore + CryptoRng`, messages as bytes. The client knows the relay's
//! node ID `ID` and onion key `B` from the verified directory
//! ([`crate::directory`]); the relay holds its onion keys, current first
//! and the previous one during its grace period. The circuit layer carries
//! the two messages in its cells and uses the resulting [`HopKeys`].
//!
//! ## Protocol
//! `H(x, t)` is HMAC-SHA256 keyed by the tweak `t` (computed as
//! HKDF-Extract with salt `t`, which is that HMAC). `G` is the x25519 base
//! point; `DH(a, P)` is x25519 and is refused when it is all zero (a
//! small-order `P`). [`PROTOID`] is `"meshd-ntor-curve25519-sha256-1"`, and
//! the tweaks [`T_KEY`], [`T_VERIFY`] and [`T_MAC`] are it with `":key"`,
//! `":verify"` and `":mac"` appended.
//!
//! ```text
//! client:  x random, X = x·G                  CREATE  = X ‖ B[0..4]
//! relay:   picks b by the hint, y random, Y = y·G
//!          secret_input = DH(y, X) ‖ DH(b, X) ‖ ID ‖ B ‖ X ‖ Y ‖ PROTOID
//!          key_seed = H(secret_input, T_KEY)
//!          verify   = H(secret_input, T_VERIFY)
//!          auth     = H(verify ‖ ID ‖ B ‖ Y ‖ X ‖ PROTOID ‖ "server", T_MAC)
//!                                             CREATED = Y ‖ auth
//! client:  secret_input = DH(x, Y) ‖ DH(x, B) ‖ ID ‖ B ‖ X ‖ Y ‖ PROTOID
//!          checks auth (constant time), then key_seed as above
//! both:    HopKeys = HKDF-Expand(PRK = key_seed, info = one label per key)
//! ```
//! The labels, each key 32 bytes but the digest (8): `"meshd ntor v1
//! forward key"`, `"... backward key"`, `"... forward pad"`, `"...
//! backward pad"`, `"... digest"`, `"... forward hp"`, `"... backward hp"`
//! (`...` = `meshd ntor v1`).
//!
//! ## Wire format
//! CREATE, client → relay, [`CREATE_LEN`] = 36 bytes:
//! ```text
//!  0                                        32                36
//!  +-----------------------------------------+-----------------+
//!  | client ephemeral public X (32 bytes)    | key hint: the   |
//!  |                                         | first 4 bytes   |
//!  |                                         | of the relay's B|
//!  +-----------------------------------------+-----------------+
//! ```
//! CREATED, relay → client, [`CREATED_LEN`] = 64 bytes:
//! ```text
//!  0                                        32                                64
//!  +-----------------------------------------+---------------------------------+
//!  | relay ephemeral public Y (32 bytes)     | auth (32 bytes)                 |
//!  +-----------------------------------------+---------------------------------+
//! ```
//! Both have fixed lengths; anything else is refused. The hint lets the
//! relay pick the key the client used among its current and previous onion
//! keys without trial decryption. If two of its keys share a hint (chance
//! 2^-32 per rotation) the first listed is used and a client of the other
//! fails with [`NtorError::Auth`] and retries after its directory update.
//!
//! ## Why one-way authenticated
//! Only the relay's long-term key takes part: `DH(b, X)` (= `DH(x, B)`) is
//! in `secret_input`, so only the holder of the `b` behind the `B` the
//! directory lists for `ID` can compute `verify` and `auth`, and `ID` and
//! `B` are in both, so the keys are bound to the relay the client meant. The
//! client contributes only the fresh `X`: the relay (or anyone watching)
//! learns nothing that identifies it, and two circuits of one client are
//! unlinkable by their handshakes.
//!
//! ## Why forward-secret
//! The keys depend on `DH(y, X)` = `DH(x, Y)`, which needs one of the two
//! ephemeral secrets. The relay's `y` lives only inside
//! [`server_respond`]; the client's `x` is consumed by
//! [`ClientHandshake::finish`]; both are zeroized on drop (x25519-dalek's
//! `zeroize` feature). Whoever later steals `b` can compute `DH(b, X)` from
//! a recorded CREATE, but not the first term, so not `key_seed`. A replayed
//! CREATE gets a fresh `Y` and keys that the replayer cannot compute.
//!
//! [`HopKeys`] are plain arrays (not zeroized: zeroize is no direct
//! dependency); their `Debug` shows only the key-confirmation `digest`.

use std::fmt;

use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::identity::{NodeId, OnionKey};

/// Protocol identifier, mixed into every hash.
pub const PROTOID: &[u8] = b"meshd-ntor-curve25519-sha256-1";
/// HMAC key of `key_seed`.
pub const T_KEY: &[u8] = b"meshd-ntor-curve25519-sha256-1:key";
/// HMAC key of `verify`.
pub const T_VERIFY: &[u8] = b"meshd-ntor-curve25519-sha256-1:verify";
/// HMAC key of `auth`.
pub const T_MAC: &[u8] = b"meshd-ntor-curve25519-sha256-1:mac";
/// Appended to the `auth` input: the relay's role.
const SERVER: &[u8] = b"server";

/// Length of a public key (x25519 u-coordinate), bytes.
pub const KEY_LEN: usize = 32;
/// Length of the onion key hint in a CREATE, bytes.
pub const KEY_HINT_LEN: usize = 4;
/// Length of a CREATE, bytes: `X` ‖ key hint.
pub const CREATE_LEN: usize = KEY_LEN + KEY_HINT_LEN;
/// Length of `auth`, bytes (HMAC-SHA256).
pub const AUTH_LEN: usize = 32;
/// Length of a CREATED, bytes: `Y` ‖ `auth`.
pub const CREATED_LEN: usize = KEY_LEN + AUTH_LEN;
/// Length of [`HopKeys::digest`], bytes.
pub const DIGEST_LEN: usize = 8;

/// HKDF-Expand labels of the [`HopKeys`].
const LABEL_FORWARD: &[u8] = b"meshd ntor v1 forward key";
const LABEL_BACKWARD: &[u8] = b"meshd ntor v1 backward key";
const LABEL_FORWARD_PAD: &[u8] = b"meshd ntor v1 forward pad";
const LABEL_BACKWARD_PAD: &[u8] = b"meshd ntor v1 backward pad";
const LABEL_DIGEST: &[u8] = b"meshd ntor v1 digest";
const LABEL_FORWARD_HP: &[u8] = b"meshd ntor v1 forward hp";
const LABEL_BACKWARD_HP: &[u8] = b"meshd ntor v1 backward hp";

/// Why a handshake message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NtorError {
    #[error("handshake message is {found} bytes, want {want}")]
    Length { want: usize, found: usize },
    #[error("no onion key of ours matches the CREATE's key hint")]
    KeyHint,
    #[error("Diffie-Hellman with a small-order point (all-zero result)")]
    SmallOrder,
    #[error("CREATED does not authenticate the relay")]
    Auth,
}

/// One hop's keys, the same on the client and the relay. Forward is
/// client → relay, backward relay → client.
#[derive(Clone)]
pub struct HopKeys {
    /// ChaCha20-Poly1305 key, client → relay.
    pub forward: [u8; 32],
    /// ChaCha20-Poly1305 key, relay → client.
    pub backward: [u8; 32],
    /// PRF key of the padding (Sphinx-style), client → relay.
    pub forward_pad: [u8; 32],
    /// PRF key of the padding (Sphinx-style), relay → client.
    pub backward_pad: [u8; 32],
    /// ChaCha20 key masking the nonce in a forward slot (as QUIC's header
    /// protection masks packet numbers), client → relay.
    pub forward_hp: [u8; 32],
    /// The same for the counter or nonce in a backward slot.
    pub backward_hp: [u8; 32],
    /// Key confirmation: equal on both sides, safe to log (an independent
    /// HKDF output, it reveals nothing about the keys).
    pub digest: [u8; DIGEST_LEN],
}

impl fmt::Debug for HopKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut hex = String::with_capacity(2 * DIGEST_LEN);
        for b in self.digest {
            hex.push_str(&format!("{b:02x}"));
        }
        f.debug_struct("HopKeys")
            .field("digest", &hex)
            .finish_non_exhaustive()
    }
}

impl HopKeys {
    /// All-zero keys, to be filled in (derivation, tests); never used as is.
    pub(crate) fn zeroed() -> Self {
        HopKeys {
            forward: [0; 32],
            backward: [0; 32],
            forward_pad: [0; 32],
            backward_pad: [0; 32],
            forward_hp: [0; 32],
            backward_hp: [0; 32],
            digest: [0; DIGEST_LEN],
        }
    }

    fn derive(key_seed: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::from_prk(key_seed).expect("a 32-byte PRK is SHA-256 sized");
        let mut k = HopKeys::zeroed();
        const OK: &str = "HKDF output far below 255 blocks";
        hk.expand(LABEL_FORWARD, &mut k.forward).expect(OK);
        hk.expand(LABEL_BACKWARD, &mut k.backward).expect(OK);
        hk.expand(LABEL_FORWARD_PAD, &mut k.forward_pad).expect(OK);
        hk.expand(LABEL_BACKWARD_PAD, &mut k.backward_pad)
            .expect(OK);
        hk.expand(LABEL_DIGEST, &mut k.digest).expect(OK);
        hk.expand(LABEL_FORWARD_HP, &mut k.forward_hp).expect(OK);
        hk.expand(LABEL_BACKWARD_HP, &mut k.backward_hp).expect(OK);
        k
    }
}

/// A client's handshake in flight to one relay: holds the ephemeral
/// secret until [`ClientHandshake::finish`] consumes it.
pub struct ClientHandshake {
    x: StaticSecret,
    public_x: [u8; 32],
    relay_id: NodeId,
    relay_onion: [u8; 32],
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("relay_id", &self.relay_id)
            .finish_non_exhaustive()
    }
}

/// HMAC-SHA256 keyed by `tweak` over the concatenation of `parts`.
fn mac(tweak: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    Hkdf::<Sha256>::extract(Some(tweak), &parts.concat())
        .0
        .into()
}

/// Equal, in time independent of where they differ?
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Refuse an all-zero Diffie-Hellman result.
fn nonzero(dh: [u8; 32]) -> Result<[u8; 32], NtorError> {
    if dh == [0u8; 32] {
        Err(NtorError::SmallOrder)
    } else {
        Ok(dh)
    }
}

/// `(key_seed, auth)` from the two DH results and the transcript.
fn compute(
    dh_ephemeral: &[u8; 32],
    dh_static: &[u8; 32],
    id: &NodeId,
    b: &[u8; 32],
    x: &[u8; 32],
    y: &[u8; 32],
) -> ([u8; 32], [u8; 32]) {
    let secret_input: [&[u8]; 7] = [dh_ephemeral, dh_static, id, b, x, y, PROTOID];
    let key_seed = mac(T_KEY, &secret_input);
    let verify = mac(T_VERIFY, &secret_input);
    let auth = mac(T_MAC, &[&verify, id, b, y, x, PROTOID, SERVER]);
    (key_seed, auth)
}

/// The length-checked `message` as an array.
fn exact<const N: usize>(message: &[u8]) -> Result<&[u8; N], NtorError> {
    message.try_into().map_err(|_| NtorError::Length {
        want: N,
        found: message.len(),
    })
}

/// Start a handshake with relay `relay_id` whose onion key (from the
/// verified directory) is `relay_onion`: the state to finish it with and
/// the CREATE to send. Draws 32 bytes from `rng`.
pub fn client_start<R: RngCore + CryptoRng>(
    rng: &mut R,
    relay_id: &NodeId,
    relay_onion: &[u8; 32],
) -> (ClientHandshake, [u8; CREATE_LEN]) {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let x = StaticSecret::from(seed);
    let public_x = PublicKey::from(&x).to_bytes();
    let mut create = [0u8; CREATE_LEN];
    create[..KEY_LEN].copy_from_slice(&public_x);
    create[KEY_LEN..].copy_from_slice(&relay_onion[..KEY_HINT_LEN]);
    let hs = ClientHandshake {
        x,
        public_x,
        relay_id: *relay_id,
        relay_onion: *relay_onion,
    };
    (hs, create)
}

/// The relay's side: answer a CREATE with our node ID `my_id` and onion
/// keys `my_keys` (current first, then the previous one during its grace
/// period): the hop's keys and the CREATED to send back. Draws 32 bytes
/// from `rng`.
pub fn server_respond<R: RngCore + CryptoRng>(
    rng: &mut R,
    my_id: &NodeId,
    my_keys: &[OnionKey],
    create: &[u8],
) -> Result<(HopKeys, [u8; CREATED_LEN]), NtorError> {
    let create = exact::<CREATE_LEN>(create)?;
    let (public_x, hint) = create.split_at(KEY_LEN);
    let public_x: [u8; 32] = public_x.try_into().expect("split at KEY_LEN");
    let (key, public_b) = my_keys
        .iter()
        .map(|k| (k, k.public()))
        .find(|(_, b)| b[..KEY_HINT_LEN] == *hint)
        .ok_or(NtorError::KeyHint)?;
    let dh_static = nonzero(key.agree(&public_x))?;
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let y = StaticSecret::from(seed);
    let public_y = PublicKey::from(&y).to_bytes();
    let dh_ephemeral = nonzero(y.diffie_hellman(&PublicKey::from(public_x)).to_bytes())?;
    let (key_seed, auth) = compute(
        &dh_ephemeral,
        &dh_static,
        my_id,
        &public_b,
        &public_x,
        &public_y,
    );
    let mut created = [0u8; CREATED_LEN];
    created[..KEY_LEN].copy_from_slice(&public_y);
    created[KEY_LEN..].copy_from_slice(&auth);
    Ok((HopKeys::derive(&key_seed), created))
}

impl ClientHandshake {
    /// The relay this handshake is with.
    pub fn relay_id(&self) -> &NodeId {
        &self.relay_id
    }

    /// Check the relay's CREATED and derive the hop's keys. Consumes the
    /// ephemeral secret: a handshake is finished at most once.
    pub fn finish(self, created: &[u8]) -> Result<HopKeys, NtorError> {
        let created = exact::<CREATED_LEN>(created)?;
        let (public_y, auth) = created.split_at(KEY_LEN);
        let public_y: [u8; 32] = public_y.try_into().expect("split at KEY_LEN");
        let auth: [u8; AUTH_LEN] = auth.try_into().expect("CREATED_LEN - KEY_LEN");
        let dh_ephemeral = nonzero(self.x.diffie_hellman(&PublicKey::from(public_y)).to_bytes())?;
        let dh_static = nonzero(
            self.x
                .diffie_hellman(&PublicKey::from(self.relay_onion))
                .to_bytes(),
        )?;
        let (key_seed, expected) = compute(
            &dh_ephemeral,
            &dh_static,
            &self.relay_id,
            &self.relay_onion,
            &self.public_x,
            &public_y,
        );
        if !ct_eq(&expected, &auth) {
            return Err(NtorError::Auth);
        }
        Ok(HopKeys::derive(&key_seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::test_rng::Counter;
    use crate::identity::Identity;

    /// A relay: its node ID and onion keys [current, previous].
    fn relay(seed: u64) -> (NodeId, Vec<OnionKey>) {
        let id = Identity::generate(&mut Counter(seed));
        let old = OnionKey::generate(&id, &mut Counter(seed + 1), 1_000, 600);
        let new = OnionKey::generate(&id, &mut Counter(seed + 2), 1_500, 600);
        (id.id(), vec![new, old])
    }

    fn same(a: &HopKeys, b: &HopKeys) -> bool {
        a.forward == b.forward
            && a.backward == b.backward
            && a.forward_pad == b.forward_pad
            && a.backward_pad == b.backward_pad
            && a.forward_hp == b.forward_hp
            && a.backward_hp == b.backward_hp
            && a.digest == b.digest
    }

    /// A full handshake with client RNG seed `c` and relay RNG seed `s`.
    fn run(id: &NodeId, keys: &[OnionKey], b: &[u8; 32], c: u64, s: u64) -> (HopKeys, HopKeys) {
        let (hs, create) = client_start(&mut Counter(c), id, b);
        let (server, created) = server_respond(&mut Counter(s), id, keys, &create).unwrap();
        (hs.finish(&created).unwrap(), server)
    }

    /// x25519 public keys of order 1, 2, 4 and 8 (their DH is all zero).
    const LOW_ORDER: [[u8; 32]; 3] = [
        [0; 32],
        {
            let mut p = [0u8; 32];
            p[0] = 1;
            p
        },
        [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ],
    ];

    #[test]
    fn client_and_relay_agree_on_distinct_keys() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        let (client, server) = run(&id, &keys, &b, 20, 30);
        assert!(same(&client, &server));
        assert_ne!(client.forward, client.backward);
        assert_ne!(client.forward_pad, client.backward_pad);
        assert_ne!(client.forward, client.forward_pad);
        assert_ne!(client.backward, client.backward_pad);
        assert_ne!(client.digest, [0; DIGEST_LEN]);
        // Another handshake with the same relay: other keys.
        let (other, _) = run(&id, &keys, &b, 21, 31);
        assert!(!same(&client, &other));
        assert_ne!(client.digest, other.digest);
    }

    #[test]
    fn debug_shows_only_the_digest() {
        let (id, keys) = relay(10);
        let (k, _) = run(&id, &keys, &keys[0].public(), 20, 30);
        let s = format!("{k:?}");
        let hex: String = k.digest.iter().map(|b| format!("{b:02x}")).collect();
        assert!(s.contains(&hex), "{s}");
        let fwd: String = k.forward[..4].iter().map(|b| format!("{b:02x}")).collect();
        assert!(!s.contains(&fwd) && !s.contains("forward"), "{s}");
        let (hs, _) = client_start(&mut Counter(1), &id, &keys[0].public());
        let s = format!("{hs:?}");
        assert!(s.starts_with("ClientHandshake") && !s.contains("x:"), "{s}");
        assert_eq!(hs.relay_id(), &id);
    }

    #[test]
    fn messages_have_their_layout() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        let (hs, create) = client_start(&mut Counter(20), &id, &b);
        assert_eq!(create.len(), 36);
        assert_eq!(&create[..32], &hs.public_x);
        assert_eq!(&create[32..], &b[..4]);
        let (_, created) = server_respond(&mut Counter(30), &id, &keys, &create).unwrap();
        assert_eq!(created.len(), 64);
        let mut r = Counter(30);
        let mut y = [0u8; 32];
        r.fill_bytes(&mut y);
        let public_y = PublicKey::from(&StaticSecret::from(y)).to_bytes();
        assert_eq!(&created[..32], &public_y);
    }

    #[test]
    fn any_flipped_bit_in_created_is_refused() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        let (_, create) = client_start(&mut Counter(20), &id, &b);
        let (_, created) = server_respond(&mut Counter(30), &id, &keys, &create).unwrap();
        for bit in 0..CREATED_LEN * 8 {
            let (hs, _) = client_start(&mut Counter(20), &id, &b);
            let mut bad = created;
            bad[bit / 8] ^= 1 << (bit % 8);
            // The top bit of Y does not change x25519's result, but Y's
            // bytes are in the transcript: still refused.
            assert_eq!(hs.finish(&bad).err(), Some(NtorError::Auth), "bit {bit}");
        }
        // Unchanged, it finishes.
        let (hs, _) = client_start(&mut Counter(20), &id, &b);
        assert!(hs.finish(&created).is_ok());
    }

    #[test]
    fn low_order_y_is_refused() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        for p in LOW_ORDER {
            let (hs, _) = client_start(&mut Counter(20), &id, &b);
            let mut created = [0u8; CREATED_LEN];
            created[..32].copy_from_slice(&p);
            assert_eq!(hs.finish(&created).err(), Some(NtorError::SmallOrder));
        }
    }

    #[test]
    fn low_order_relay_key_is_refused_by_the_client() {
        let (id, keys) = relay(10);
        let (hs, create) = client_start(&mut Counter(20), &id, &LOW_ORDER[1]);
        assert_eq!(
            server_respond(&mut Counter(30), &id, &keys, &create).err(),
            Some(NtorError::KeyHint)
        );
        let (_, created) = server_respond(
            &mut Counter(30),
            &id,
            &keys,
            &client_start(&mut Counter(20), &id, &keys[0].public()).1,
        )
        .unwrap();
        assert_eq!(hs.finish(&created).err(), Some(NtorError::SmallOrder));
    }

    #[test]
    fn wrong_relay_key_or_id_fails_auth() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        // The client believes in a different B with the same hint (an
        // impostor's key): the relay answers with its own, the client
        // refuses.
        let (_, impostor) = relay(40);
        let fake_b = impostor[0].public();
        let (hs, mut create) = client_start(&mut Counter(20), &id, &fake_b);
        create[32..].copy_from_slice(&b[..4]);
        let (_, created) = server_respond(&mut Counter(30), &id, &keys, &create).unwrap();
        assert_eq!(hs.finish(&created).err(), Some(NtorError::Auth));
        // An impostor holding only its own key, answering for our relay's
        // ID to a client that used the real B.
        let (hs, create) = client_start(&mut Counter(20), &id, &b);
        let mut create_for_impostor = create;
        create_for_impostor[32..].copy_from_slice(&fake_b[..4]);
        let (_, created) =
            server_respond(&mut Counter(30), &id, &impostor, &create_for_impostor).unwrap();
        assert_eq!(hs.finish(&created).err(), Some(NtorError::Auth));
        // The right key but another node ID.
        let (hs, create) = client_start(&mut Counter(20), &id, &b);
        let mut other_id = id;
        other_id[0] ^= 1;
        let (_, created) = server_respond(&mut Counter(30), &other_id, &keys, &create).unwrap();
        assert_eq!(hs.finish(&created).err(), Some(NtorError::Auth));
    }

    #[test]
    fn hint_selects_the_previous_key_during_grace() {
        let (id, keys) = relay(10);
        let (new, old) = (keys[0].public(), keys[1].public());
        assert_ne!(new[..4], old[..4]);
        let (client, server) = run(&id, &keys, &old, 20, 30);
        assert!(same(&client, &server));
        // Once the old key is gone, its hint is unknown.
        let (_, create) = client_start(&mut Counter(20), &id, &old);
        assert_eq!(
            server_respond(&mut Counter(30), &id, &keys[..1], &create).err(),
            Some(NtorError::KeyHint)
        );
        // A relay with no keys at all.
        assert_eq!(
            server_respond(&mut Counter(30), &id, &[], &create).err(),
            Some(NtorError::KeyHint)
        );
    }

    #[test]
    fn unknown_hint_is_refused() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        let (_, mut create) = client_start(&mut Counter(20), &id, &b);
        create[35] ^= 0x80;
        assert_eq!(
            server_respond(&mut Counter(30), &id, &keys, &create).err(),
            Some(NtorError::KeyHint)
        );
    }

    #[test]
    fn wrong_lengths_are_refused() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        let (_, create) = client_start(&mut Counter(20), &id, &b);
        let (_, created) = server_respond(&mut Counter(30), &id, &keys, &create).unwrap();
        let mut long_create = create.to_vec();
        long_create.push(0);
        for m in [&create[..35], &[][..], &long_create[..]] {
            assert_eq!(
                server_respond(&mut Counter(30), &id, &keys, m).err(),
                Some(NtorError::Length {
                    want: CREATE_LEN,
                    found: m.len()
                })
            );
        }
        let mut long_created = created.to_vec();
        long_created.push(0);
        for m in [&created[..63], &created[..32], &[][..], &long_created[..]] {
            let (hs, _) = client_start(&mut Counter(20), &id, &b);
            assert_eq!(
                hs.finish(m).err(),
                Some(NtorError::Length {
                    want: CREATED_LEN,
                    found: m.len()
                })
            );
        }
    }

    #[test]
    fn low_order_x_is_refused() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        for p in LOW_ORDER {
            let mut create = [0u8; CREATE_LEN];
            create[..32].copy_from_slice(&p);
            create[32..].copy_from_slice(&b[..4]);
            assert_eq!(
                server_respond(&mut Counter(30), &id, &keys, &create).err(),
                Some(NtorError::SmallOrder)
            );
        }
    }

    #[test]
    fn fixed_rng_is_deterministic() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        let (hs1, c1) = client_start(&mut Counter(20), &id, &b);
        let (hs2, c2) = client_start(&mut Counter(20), &id, &b);
        assert_eq!(c1, c2);
        let (s1, r1) = server_respond(&mut Counter(30), &id, &keys, &c1).unwrap();
        let (s2, r2) = server_respond(&mut Counter(30), &id, &keys, &c2).unwrap();
        assert_eq!(r1, r2);
        assert!(same(&s1, &s2));
        assert!(same(&hs1.finish(&r1).unwrap(), &hs2.finish(&r2).unwrap()));
        let (_, c3) = client_start(&mut Counter(21), &id, &b);
        assert_ne!(c1[..32], c3[..32]);
    }

    /// HMAC-SHA256 via HKDF-Extract, written out again.
    fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
        let (prk, _) = Hkdf::<Sha256>::extract(Some(key), msg);
        prk.into()
    }

    /// The ephemeral secret and public key `Counter(seed)` makes.
    fn ephemeral(seed: u64) -> (StaticSecret, [u8; 32]) {
        let mut s = [0u8; 32];
        Counter(seed).fill_bytes(&mut s);
        let s = StaticSecret::from(s);
        let p = PublicKey::from(&s).to_bytes();
        (s, p)
    }

    #[test]
    fn matches_an_independent_computation_from_the_spec() {
        assert!(T_KEY.starts_with(PROTOID) && T_KEY.ends_with(b":key"));
        assert!(T_VERIFY.starts_with(PROTOID) && T_VERIFY.ends_with(b":verify"));
        assert!(T_MAC.starts_with(PROTOID) && T_MAC.ends_with(b":mac"));
        let (id, keys) = relay(10);
        let b = keys[0].public();
        let (client, server) = run(&id, &keys, &b, 20, 30);
        let (x, public_x) = ephemeral(20);
        let (y, public_y) = ephemeral(30);
        let dh_yx = y.diffie_hellman(&PublicKey::from(public_x)).to_bytes();
        assert_eq!(
            dh_yx,
            x.diffie_hellman(&PublicKey::from(public_y)).to_bytes()
        );
        let dh_bx = keys[0].agree(&public_x);
        assert_eq!(dh_bx, x.diffie_hellman(&PublicKey::from(b)).to_bytes());

        let mut secret_input = Vec::new();
        secret_input.extend_from_slice(&dh_yx);
        secret_input.extend_from_slice(&dh_bx);
        secret_input.extend_from_slice(&id);
        secret_input.extend_from_slice(&b);
        secret_input.extend_from_slice(&public_x);
        secret_input.extend_from_slice(&public_y);
        secret_input.extend_from_slice(b"meshd-ntor-curve25519-sha256-1");
        let key_seed = hmac(b"meshd-ntor-curve25519-sha256-1:key", &secret_input);
        let verify = hmac(b"meshd-ntor-curve25519-sha256-1:verify", &secret_input);
        let mut auth_input = Vec::new();
        auth_input.extend_from_slice(&verify);
        auth_input.extend_from_slice(&id);
        auth_input.extend_from_slice(&b);
        auth_input.extend_from_slice(&public_y);
        auth_input.extend_from_slice(&public_x);
        auth_input.extend_from_slice(b"meshd-ntor-curve25519-sha256-1");
        auth_input.extend_from_slice(b"server");
        let auth = hmac(b"meshd-ntor-curve25519-sha256-1:mac", &auth_input);

        let (_, create) = client_start(&mut Counter(20), &id, &b);
        let (_, created) = server_respond(&mut Counter(30), &id, &keys, &create).unwrap();
        assert_eq!(&created[..32], &public_y);
        assert_eq!(&created[32..], &auth);

        // The hop keys from key_seed by HKDF-Expand with the labels.
        let hk = Hkdf::<Sha256>::from_prk(&key_seed).unwrap();
        let mut forward = [0u8; 32];
        hk.expand(b"meshd ntor v1 forward key", &mut forward)
            .unwrap();
        let mut backward_pad = [0u8; 32];
        hk.expand(b"meshd ntor v1 backward pad", &mut backward_pad)
            .unwrap();
        let mut digest = [0u8; 8];
        hk.expand(b"meshd ntor v1 digest", &mut digest).unwrap();
        assert_eq!(client.forward, forward);
        assert_eq!(server.backward_pad, backward_pad);
        assert_eq!(client.digest, digest);
        assert!(same(&HopKeys::derive(&key_seed), &server));
    }

    #[test]
    fn stolen_onion_key_alone_does_not_give_the_keys() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        let (hs, create) = client_start(&mut Counter(20), &id, &b);
        let (server, created) = server_respond(&mut Counter(30), &id, &keys, &create).unwrap();
        let client = hs.finish(&created).unwrap();
        assert!(same(&client, &server));

        // The thief recorded both messages and later stole the relay's
        // onion key `b` (and knows ID and B), but neither x nor y.
        let public_x: [u8; 32] = create[..32].try_into().unwrap();
        let public_y: [u8; 32] = created[..32].try_into().unwrap();
        let stolen = &keys[0];
        let dh_bx = stolen.agree(&public_x);
        let dh_by = stolen.agree(&public_y);
        // What the keys need first: DH(y, X) (= DH(x, Y)), here from y.
        let (y, _) = ephemeral(30);
        let needed = y.diffie_hellman(&PublicKey::from(public_x)).to_bytes();
        assert_ne!(dh_bx, needed);
        assert_ne!(dh_by, needed);
        // The static term is right, and it is all b gives: every stand-in
        // for the first term the thief can compute yields other keys and
        // an auth that does not match the recorded one.
        let recorded_auth: [u8; 32] = created[32..].try_into().unwrap();
        for guess in [dh_bx, dh_by, [0; 32], public_x, public_y, b] {
            let (key_seed, auth) = compute(&guess, &dh_bx, &id, &b, &public_x, &public_y);
            assert_ne!(auth, recorded_auth);
            let k = HopKeys::derive(&key_seed);
            assert!(!same(&k, &client));
            assert_ne!(k.forward, client.forward);
            assert_ne!(k.backward, client.backward);
        }
        // With the ephemeral term, the same computation does match: the
        // check above fails for the missing term, not the method.
        let (key_seed, auth) = compute(&needed, &dh_bx, &id, &b, &public_x, &public_y);
        assert_eq!(auth, recorded_auth);
        assert!(same(&HopKeys::derive(&key_seed), &client));
    }

    #[test]
    fn arbitrary_input_never_panics() {
        let (id, keys) = relay(10);
        let b = keys[0].public();
        let mut r = Counter(99);
        for len in 0..80 {
            let mut m = vec![0u8; len];
            for _ in 0..8 {
                r.fill_bytes(&mut m);
                if len >= CREATE_LEN {
                    m[32..36].copy_from_slice(&b[..4]);
                }
                let _ = server_respond(&mut Counter(30), &id, &keys, &m);
                let (hs, _) = client_start(&mut Counter(20), &id, &b);
                assert!(hs.finish(&m).is_err());
            }
        }
    }

    #[test]
    fn ct_eq_compares_every_byte() {
        let a = [7u8; 32];
        assert!(ct_eq(&a, &a));
        for i in 0..32 {
            let mut b = a;
            b[i] ^= 0x40;
            assert!(!ct_eq(&a, &b));
        }
    }
}

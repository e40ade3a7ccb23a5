//! Fixed-size onion cells: the cryptography of one cell, forward and
//! backward, with no circuit state (ids, counters, replay windows and
//! routing belong to the circuit layer). The design is docs/onion.md; the
//! keys come from [`crate::ntor`]'s [`HopKeys`].
//!
//! ## Contract
//! Sans-IO and deterministic: randomness comes in as an
//! `RngCore + CryptoRng`, cells as fixed-size arrays. No function panics on
//! any input; every failure to authenticate is [`CellError::Auth`]. The
//! caller owns the per-hop nonces and counters: it picks them (starting at
//! a random offset per hop, never reusing one under a key) and checks the
//! nonce [`hop_forward`] and [`client_backward`] return against its replay
//! window ([`crate::replay`]).
//!
//! ## Layout
//! A cell is [`CELL_LEN`] = 1472 bytes: a 1500-byte frame minus batman
//! UNICAST (10), the inner Ethernet header (14) and the TVLV header (4).
//! The circuit layer owns the 4-byte circuit id; this module handles the
//! rest, the [`BODY_LEN`] = 1468-byte body. Integers are big-endian.
//! ```text
//!  cell:  0         4                                                   1472
//!         | circ id | body                                                |
//!  body:  0         24        48   ...   144       168                  1468
//!         | slot 0  | slot 1  |    ...   | slot 6  | payload, 1300 bytes  |
//!  slot:  0                   8                                          24
//!         | nonce / counter u64 | tag / MAC, 16 bytes                     |
//! ```
//! AEAD is ChaCha20-Poly1305 with the 12-byte nonce `0 0 0 0 ‖ u64 BE`.
//!
//! **Slot protection.** The 8-byte nonce or counter of a slot never
//! travels in the clear: it is XORed with `mask(k, s)`, the first 8 bytes
//! of the ChaCha20 keystream under key `k` with the slot's tag or MAC
//! bytes 0..12 as the nonce (block counter 0), as QUIC protects packet
//! numbers with a sample of the ciphertext. `k` is the hop's `forward_hp`
//! (forward slots) or `backward_hp` (backward slots). The tag differs in
//! every cell, so the field looks random on every link; the receiver
//! reads the tag, removes the mask, and then authenticates under the
//! nonce it got. Below, "slot = nonce ‖ tag" means the masked nonce.
//! `PRF(k, L, n)` is the ChaCha20 keystream under key `k` with the 12-byte
//! nonce `L ‖ n` (a 4-byte ASCII label, then `n` as u64 big-endian), from
//! block 0: ChaCha20 keyed by a secret is a PRF of its nonce, at a
//! fraction of HMAC-SHA256's cost. A "keystream of (k, n)" is the ChaCha20
//! keystream ChaCha20-Poly1305 XORs under key `k` and nonce `n` (block
//! counter from 1).
//!
//! ## Forward: client → destination, Sphinx-style
//! Hop *i* (keys `K_i`) receives `S ‖ P`; `(nonce_i, tag_i) = S[0..24]`; it
//! opens `ct = S[24..168] ‖ P` (1444 bytes) with `K_i.forward`, nonce_i,
//! AAD [`AAD_FORWARD`]; the plaintext `pt` becomes the next body:
//! ```text
//!  S' = pt[0..144] ‖ F_i        F_i = PRF(K_i.forward_pad, "fill", nonce_i)[0..24]
//!  P' = pt[144..1444]
//! ```
//! Every relay and the destination do exactly this (the destination then
//! reads `P'`), so a hop cannot tell its position from the cell, and any
//! changed byte fails the next hop's tag: every byte of the body is either
//! the hop's nonce, its tag or its ciphertext.
//!
//! The client makes each layer's ciphertext carry the fillers later hops
//! will find, as Sphinx does (hops numbered 1..n, hop n the destination,
//! `ks_i` the keystream of `(K_i.forward, nonce_i)` over 1444 bytes):
//! - The *tail* hop i sees is the last `i − 1` slots of its `S`, the bytes
//!   the fillers of hops `1..i−1` turned into: `tail_1` is empty and
//!   `tail_{i+1} = (tail_i XOR ks_i[144 − 24(i−1) .. 144]) ‖ F_i`. (Body
//!   byte `p ≥ 24` is ciphertext byte `p − 24`, so the tail at body bytes
//!   `168 − 24(i−1) .. 168` meets keystream bytes `144 − 24(i−1) .. 144`;
//!   hop i's shift then moves it one slot left and appends `F_i`.)
//! - The destination's plaintext is `R ‖ (tail_n XOR ks_n[144 − 24(n−1) ..
//!   144]) ‖ payload`, `R` being `144 − 24(n−1)` random bytes (the unused
//!   slots), so its ciphertext carries `tail_n` exactly where its slot
//!   region ends. With `n ≤ 7` the tail fits (6 slots = 144 bytes).
//! - Then outwards, for i = n−1 … 1: hop i's plaintext is `S_{i+1}[0..144]
//!   ‖ P_{i+1}` and `S_i ‖ P_i = nonce_i ‖ tag_i ‖ ct_i`. The dropped
//!   `S_{i+1}[144..168]` is the last slot of `tail_{i+1}`, i.e. `F_i`,
//!   which hop i recomputes.
//!
//! ## Backward: destination → client
//! The destination seals the payload with `K_d.backward`, its nonce and
//! AAD [`AAD_BACKWARD`]: slot 0 = nonce ‖ tag, slots 1..6 =
//! `PRF(K_d.backward_pad, "bfil", nonce)[0..144]` (slot `j` its bytes
//! `24(j−1) .. 24j`),
//! `P` = the ciphertext. The filler slots are pseudorandom to everyone
//! else, and the client recomputes and checks the ones that reach it, so
//! every byte of the cell the client receives is checked (random filler
//! could be changed unnoticed).
//!
//! Each relay, with its own counter `c` (the same operation everywhere):
//! `E = (S ‖ P) XOR` the keystream of `(K.backward, c)` over 1468 bytes
//! (from the AEAD, as above), then
//! ```text
//!  S' = c ‖ PRF(K.backward_pad, "bslt", c)[0..16] ‖ E[0..144]
//!  P' = E[168..1468]
//! ```
//! The last slot is dropped: with at most 6 relays it is always
//! destination filler. The client, given the keys in the order the cell
//! meets them coming back, peels: reads `c` from slot 0, checks its MAC,
//! XORs the keystream back (slot 6 of the recovered body is unknown and
//! unused), and at the end checks the destination's filler slots it still
//! has and opens the destination's AEAD. A hop's `backward` key is used by
//! one role only (relay keystream or destination AEAD), so no keystream is
//! used twice as long as the counters and nonces are not.
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use rand_core::{CryptoRng, RngCore};

use crate::ntor::HopKeys;

/// Bytes of one cell on every link.
pub const CELL_LEN: usize = 1472;
/// Bytes of the circuit id at the head of a cell (owned by the circuit layer).
pub const CIRC_ID_LEN: usize = 4;
/// Bytes of a slot's nonce or counter (u64, big-endian).
pub const NONCE_LEN: usize = 8;
/// Bytes of a slot's AEAD tag or MAC.
pub const TAG_LEN: usize = 16;
/// Bytes of one slot: nonce 8 ‖ tag 16.
pub const SLOT_LEN: usize = NONCE_LEN + TAG_LEN;
/// Hops of a circuit at most, the destination included.
pub const MAX_HOPS: usize = 7;
/// Bytes of the slot region: one slot per hop.
pub const SLOTS_LEN: usize = MAX_HOPS * SLOT_LEN;
/// Bytes of the payload: one inner frame (a 1280-byte IPv6 packet fits).
pub const PAYLOAD_LEN: usize = 1300;
/// Bytes of the body: the cell minus its circuit id.
pub const BODY_LEN: usize = SLOTS_LEN + PAYLOAD_LEN;

/// AAD of every forward layer.
pub const AAD_FORWARD: &[u8] = b"meshd cell fwd v1";
/// AAD of the destination's backward layer.
pub const AAD_BACKWARD: &[u8] = b"meshd cell bwd v1";

const LABEL_FILL: &[u8; 4] = b"fill";
const LABEL_BSLOT: &[u8; 4] = b"bslt";
const LABEL_BFILL: &[u8; 4] = b"bfil";

/// Bytes of the slot region a hop passes on (all but one slot).
const SHIFTED_LEN: usize = SLOTS_LEN - SLOT_LEN;
/// Bytes a forward layer encrypts: the body minus slot 0.
const CT_LEN: usize = BODY_LEN - SLOT_LEN;

const _: () = assert!(1500 - 10 - 14 - 4 == CELL_LEN);
const _: () = assert!(CIRC_ID_LEN + BODY_LEN == CELL_LEN);
const _: () = assert!(SLOT_LEN == 24 && SLOTS_LEN == 168 && BODY_LEN == 1468);
const _: () = assert!(SHIFTED_LEN + PAYLOAD_LEN == CT_LEN && CT_LEN == 1444);
// The destination's tail (MAX_HOPS − 1 slots) fits in the shifted region.
const _: () = assert!((MAX_HOPS - 1) * SLOT_LEN <= SHIFTED_LEN);

/// Why a cell was refused or could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("a circuit needs at least one hop")]
    NoHops,
    #[error("{hops} hops, at most {MAX_HOPS}")]
    TooManyHops { hops: usize },
    #[error("cell does not authenticate")]
    Auth,
}

fn aead_nonce(n: u64) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[4..].copy_from_slice(&n.to_be_bytes());
    b
}

fn cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(key))
}

/// Encrypt `buf` in place; the tag.
fn seal(key: &[u8; 32], nonce: u64, aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    let tag = cipher(key)
        .encrypt_in_place_detached(Nonce::from_slice(&aead_nonce(nonce)), aad, buf)
        .expect("cells are far below the AEAD length limit");
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&tag);
    t
}

/// Decrypt `buf` in place; does it authenticate? (`buf` is unchanged if not.)
fn open(key: &[u8; 32], nonce: u64, aad: &[u8], buf: &mut [u8], tag: &[u8]) -> bool {
    tag.len() == TAG_LEN
        && cipher(key)
            .decrypt_in_place_detached(
                Nonce::from_slice(&aead_nonce(nonce)),
                aad,
                buf,
                Tag::from_slice(tag),
            )
            .is_ok()
}

/// Overwrite `out` with the keystream of `(key, nonce)`: what the AEAD
/// XORs (ChaCha20 from block 1; block 0 keys Poly1305).
fn keystream(key: &[u8; 32], nonce: u64, out: &mut [u8]) {
    use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
    out.fill(0);
    let mut c = chacha20::ChaCha20::new(key.into(), &aead_nonce(nonce).into());
    c.seek(64u32);
    c.apply_keystream(out);
}

fn xor(dst: &mut [u8], src: &[u8]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `mask(k, s)`: the first 8 bytes of ChaCha20's keystream under `key`
/// with nonce `sample[0..12]` (a slot's tag or MAC).
fn slot_mask(key: &[u8; 32], sample: &[u8]) -> [u8; NONCE_LEN] {
    use chacha20::cipher::{KeyIvInit, StreamCipher};
    let mut m = [0u8; NONCE_LEN];
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&sample[..12]);
    chacha20::ChaCha20::new(key.into(), &nonce.into()).apply_keystream(&mut m);
    m
}

/// Slot 0 of `body`: `value` masked by its `tag`, then the tag.
fn write_slot(body: &mut [u8; BODY_LEN], hp: &[u8; 32], value: u64, tag: &[u8; TAG_LEN]) {
    let v = value ^ u64::from_be_bytes(slot_mask(hp, tag));
    body[..NONCE_LEN].copy_from_slice(&v.to_be_bytes());
    body[NONCE_LEN..SLOT_LEN].copy_from_slice(tag);
}

fn read_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; NONCE_LEN];
    a.copy_from_slice(&b[..NONCE_LEN]);
    u64::from_be_bytes(a)
}

/// `PRF(k, label, n)`: the ChaCha20 keystream under key `k` with the
/// 12-byte nonce `label ‖ n` (u64 big-endian), from block 0, into `out`.
/// ChaCha20 keyed by a secret is a PRF of its nonce; one block gives 64
/// bytes, where HMAC-SHA256 would take four compressions for 32.
fn prf(key: &[u8; 32], label: &[u8; 4], n: u64, out: &mut [u8]) {
    use chacha20::cipher::{KeyIvInit, StreamCipher};
    let mut nonce = [0u8; 12];
    nonce[..4].copy_from_slice(label);
    nonce[4..].copy_from_slice(&n.to_be_bytes());
    out.fill(0);
    chacha20::ChaCha20::new(key.into(), &nonce.into()).apply_keystream(out);
}

/// The slot hop `keys` appends after opening the layer of `nonce`.
fn forward_filler(keys: &HopKeys, nonce: u64) -> [u8; SLOT_LEN] {
    let mut f = [0u8; SLOT_LEN];
    prf(&keys.forward_pad, LABEL_FILL, nonce, &mut f);
    f
}

/// The MAC a relay puts next to its backward counter.
fn backward_slot_mac(keys: &HopKeys, counter: u64) -> [u8; TAG_LEN] {
    let mut m = [0u8; TAG_LEN];
    prf(&keys.backward_pad, LABEL_BSLOT, counter, &mut m);
    m
}

/// The destination's backward filler slots 1..=6 of the cell of `nonce`.
fn backward_fillers(keys: &HopKeys, nonce: u64) -> [u8; SHIFTED_LEN] {
    let mut f = [0u8; SHIFTED_LEN];
    prf(&keys.backward_pad, LABEL_BFILL, nonce, &mut f);
    f
}

fn check_hops(n: usize) -> Result<(), CellError> {
    match n {
        0 => Err(CellError::NoHops),
        n if n > MAX_HOPS => Err(CellError::TooManyHops { hops: n }),
        _ => Ok(()),
    }
}

/// The payload region of a body (what the destination reads after its
/// [`hop_forward`]).
pub fn payload(body: &[u8; BODY_LEN]) -> &[u8; PAYLOAD_LEN] {
    body[SLOTS_LEN..]
        .try_into()
        .expect("BODY_LEN - SLOTS_LEN == PAYLOAD_LEN")
}

/// The client builds the forward body for hops `1..=n` (`hops` in path
/// order, each hop's keys and the nonce of its layer; the last hop is the
/// destination), carrying `payload` to the destination.
pub fn client_forward<R: RngCore + CryptoRng>(
    rng: &mut R,
    hops: &[(&HopKeys, u64)],
    payload: &[u8; PAYLOAD_LEN],
) -> Result<[u8; BODY_LEN], CellError> {
    check_hops(hops.len())?;
    let n = hops.len();
    // Only the keystream over the slot region matters for the tails.
    let streams: Vec<[u8; SHIFTED_LEN]> = hops
        .iter()
        .map(|(k, nonce)| {
            let mut s = [0u8; SHIFTED_LEN];
            keystream(&k.forward, *nonce, &mut s);
            s
        })
        .collect();

    // tail: what the fillers of the hops before hop i (0-based here) are at
    // the end of the slot region hop i sees; i slots long.
    let mut tail: Vec<u8> = Vec::with_capacity(SHIFTED_LEN);
    for (i, ((keys, nonce), ks)) in hops.iter().zip(&streams).take(n - 1).enumerate() {
        let start = SHIFTED_LEN - i * SLOT_LEN;
        xor(&mut tail, &ks[start..SHIFTED_LEN]);
        tail.extend_from_slice(&forward_filler(keys, *nonce));
    }

    // The destination (0-based n − 1): its ciphertext ends its slot
    // region with the tail.
    let (dest, dest_nonce) = hops[n - 1];
    let start = SHIFTED_LEN - tail.len();
    let mut pt = [0u8; CT_LEN];
    rng.fill_bytes(&mut pt[..start]);
    pt[start..SHIFTED_LEN].copy_from_slice(&tail);
    xor(
        &mut pt[start..SHIFTED_LEN],
        &streams[n - 1][start..SHIFTED_LEN],
    );
    pt[SHIFTED_LEN..].copy_from_slice(payload);
    let mut body = [0u8; BODY_LEN];
    let tag = seal(&dest.forward, dest_nonce, AAD_FORWARD, &mut pt);
    write_slot(&mut body, &dest.forward_hp, dest_nonce, &tag);
    body[SLOT_LEN..].copy_from_slice(&pt);

    // Outwards: hop i's plaintext is hop i+1's body minus its last slot.
    for (keys, nonce) in hops[..n - 1].iter().rev() {
        pt[..SHIFTED_LEN].copy_from_slice(&body[..SHIFTED_LEN]);
        pt[SHIFTED_LEN..].copy_from_slice(&body[SLOTS_LEN..]);
        let tag = seal(&keys.forward, *nonce, AAD_FORWARD, &mut pt);
        write_slot(&mut body, &keys.forward_hp, *nonce, &tag);
        body[SLOT_LEN..].copy_from_slice(&pt);
    }
    Ok(body)
}

/// One hop (relay or destination) processes a forward body in place: opens
/// its layer, shifts the slots and appends its filler. Returns the layer's
/// nonce for the caller's replay window. On [`CellError::Auth`] `body` is
/// unchanged.
pub fn hop_forward(keys: &HopKeys, body: &mut [u8; BODY_LEN]) -> Result<u64, CellError> {
    let nonce = forward_nonce(keys, body);
    let mut pt = [0u8; CT_LEN];
    pt.copy_from_slice(&body[SLOT_LEN..]);
    if !open(
        &keys.forward,
        nonce,
        AAD_FORWARD,
        &mut pt,
        &body[NONCE_LEN..SLOT_LEN],
    ) {
        return Err(CellError::Auth);
    }
    body[..SHIFTED_LEN].copy_from_slice(&pt[..SHIFTED_LEN]);
    body[SHIFTED_LEN..SLOTS_LEN].copy_from_slice(&forward_filler(keys, nonce));
    body[SLOTS_LEN..].copy_from_slice(&pt[SHIFTED_LEN..]);
    Ok(nonce)
}

/// The nonce of the forward layer at the head of `body` for the hop with
/// `keys` (unmasked; not yet authenticated: check it against the replay
/// window, then [`hop_forward`] authenticates it).
pub fn forward_nonce(keys: &HopKeys, body: &[u8; BODY_LEN]) -> u64 {
    read_u64(&body[..]) ^ u64::from_be_bytes(slot_mask(&keys.forward_hp, &body[NONCE_LEN..]))
}

/// The destination seals `payload` for the way back under its backward key
/// and `nonce` (never reused under that key).
pub fn dest_backward(keys: &HopKeys, nonce: u64, payload: &[u8; PAYLOAD_LEN]) -> [u8; BODY_LEN] {
    let mut body = [0u8; BODY_LEN];
    body[SLOTS_LEN..].copy_from_slice(payload);
    let tag = seal(&keys.backward, nonce, AAD_BACKWARD, &mut body[SLOTS_LEN..]);
    write_slot(&mut body, &keys.backward_hp, nonce, &tag);
    body[SLOT_LEN..SLOTS_LEN].copy_from_slice(&backward_fillers(keys, nonce));
    body
}

/// A relay adds its layer to a backward body in place, under its own
/// backward `counter` (never reused under its key).
pub fn relay_backward(keys: &HopKeys, counter: u64, body: &mut [u8; BODY_LEN]) {
    let mut ks = [0u8; BODY_LEN];
    keystream(&keys.backward, counter, &mut ks);
    xor(body, &ks);
    body.copy_within(..SHIFTED_LEN, SLOT_LEN);
    write_slot(
        body,
        &keys.backward_hp,
        counter,
        &backward_slot_mac(keys, counter),
    );
}

/// The client peels a backward body: `relays_then_dest` are the keys in the
/// order the cell met them coming back (the relay nearest the client first,
/// the destination last). Returns the payload and the destination's nonce
/// (for the caller's replay window).
pub fn client_backward(
    relays_then_dest: &[&HopKeys],
    body: &[u8; BODY_LEN],
) -> Result<([u8; PAYLOAD_LEN], u64), CellError> {
    check_hops(relays_then_dest.len())?;
    let Some((dest, relays)) = relays_then_dest.split_last() else {
        return Err(CellError::NoHops);
    };
    let mut cur = *body;
    let mut ks = [0u8; BODY_LEN];
    for keys in relays {
        let counter = read_u64(&cur)
            ^ u64::from_be_bytes(slot_mask(&keys.backward_hp, &cur[NONCE_LEN..SLOT_LEN]));
        if !ct_eq(&cur[NONCE_LEN..SLOT_LEN], &backward_slot_mac(keys, counter)) {
            return Err(CellError::Auth);
        }
        cur.copy_within(SLOT_LEN..SLOTS_LEN, 0);
        keystream(&keys.backward, counter, &mut ks);
        xor(&mut cur, &ks);
        // The relay dropped this slot; unknown, and never read below.
        cur[SHIFTED_LEN..SLOTS_LEN].fill(0);
    }
    let nonce = read_u64(&cur)
        ^ u64::from_be_bytes(slot_mask(&dest.backward_hp, &cur[NONCE_LEN..SLOT_LEN]));
    // The destination's filler slots that survived the relays' shifts.
    let kept = MAX_HOPS - relays.len();
    let fillers = backward_fillers(dest, nonce);
    let mut ok = ct_eq(
        &cur[SLOT_LEN..kept * SLOT_LEN],
        &fillers[..(kept - 1) * SLOT_LEN],
    );
    let mut p = [0u8; PAYLOAD_LEN];
    p.copy_from_slice(&cur[SLOTS_LEN..]);
    ok &= open(
        &dest.backward,
        nonce,
        AAD_BACKWARD,
        &mut p,
        &cur[NONCE_LEN..SLOT_LEN],
    );
    if !ok {
        return Err(CellError::Auth);
    }
    Ok((p, nonce))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::test_rng::Counter;

    fn keys(seed: u64) -> HopKeys {
        let mut r = Counter(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed);
        let mut k = HopKeys::zeroed();
        r.fill_bytes(&mut k.forward);
        r.fill_bytes(&mut k.backward);
        r.fill_bytes(&mut k.forward_pad);
        r.fill_bytes(&mut k.backward_pad);
        r.fill_bytes(&mut k.forward_hp);
        r.fill_bytes(&mut k.backward_hp);
        k
    }

    /// n hops' keys and forward nonces (random offsets).
    fn circuit(n: usize, seed: u64) -> (Vec<HopKeys>, Vec<u64>) {
        let mut r = Counter(seed);
        let ks = (0..n).map(|i| keys(seed * 100 + i as u64)).collect();
        let nonces = (0..n).map(|_| r.next_u64()).collect();
        (ks, nonces)
    }

    fn pattern(seed: u8) -> [u8; PAYLOAD_LEN] {
        let mut p = [0u8; PAYLOAD_LEN];
        for (i, b) in p.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(seed);
        }
        p
    }

    fn build(ks: &[HopKeys], nonces: &[u64], p: &[u8; PAYLOAD_LEN], seed: u64) -> [u8; BODY_LEN] {
        let hops: Vec<(&HopKeys, u64)> = ks.iter().zip(nonces.iter().copied()).collect();
        client_forward(&mut Counter(seed), &hops, p).unwrap()
    }

    /// The bodies each hop receives (n views) and the destination's output.
    fn forward_views(ks: &[HopKeys], nonces: &[u64], p: &[u8; PAYLOAD_LEN]) -> Vec<[u8; BODY_LEN]> {
        let mut body = build(ks, nonces, p, 7);
        let mut views = vec![body];
        for (k, nonce) in ks.iter().zip(nonces) {
            assert_eq!(hop_forward(k, &mut body), Ok(*nonce));
            views.push(body);
        }
        views
    }

    /// Positions to flip: every slot's edges and field boundaries, the
    /// payload's edges, and a stride through everything.
    fn positions() -> Vec<usize> {
        let mut v: Vec<usize> = (0..BODY_LEN).step_by(37).collect();
        for s in 0..MAX_HOPS {
            let b = s * SLOT_LEN;
            v.extend([b, b + 7, b + 8, b + 23]);
        }
        v.extend([
            SLOTS_LEN - 1,
            SLOTS_LEN,
            SLOTS_LEN + 1,
            BODY_LEN - 2,
            BODY_LEN - 1,
        ]);
        v.sort_unstable();
        v.dedup();
        v
    }

    #[test]
    fn lengths_add_up() {
        assert_eq!(CELL_LEN, 1500 - 10 - 14 - 4);
        assert_eq!(CIRC_ID_LEN + BODY_LEN, CELL_LEN);
        assert_eq!(SLOTS_LEN, MAX_HOPS * SLOT_LEN);
        assert_eq!(BODY_LEN, 1468);
        assert_eq!(PAYLOAD_LEN, 1300);
        assert_eq!(SLOT_LEN, 24);
    }

    #[test]
    fn forward_every_length_delivers_the_payload() {
        for n in 1..=MAX_HOPS {
            let (ks, nonces) = circuit(n, n as u64);
            let p = pattern(n as u8);
            let views = forward_views(&ks, &nonces, &p);
            assert_eq!(views.len(), n + 1);
            assert_eq!(payload(&views[n]), &p, "n = {n}");
            // Intermediate hops do not see the payload.
            for v in &views[..n] {
                assert_ne!(payload(v), &p);
            }
        }
    }

    #[test]
    fn forward_flipped_byte_fails_the_next_hop_and_changes_nothing() {
        for n in [1, 2, 3, 5, 7] {
            let (ks, nonces) = circuit(n, 40 + n as u64);
            let views = forward_views(&ks, &nonces, &pattern(1));
            for stage in 0..n {
                for &pos in &positions() {
                    for bit in [0x01, 0x80] {
                        let mut bad = views[stage];
                        bad[pos] ^= bit;
                        let before = bad;
                        assert_eq!(
                            hop_forward(&ks[stage], &mut bad),
                            Err(CellError::Auth),
                            "n {n} stage {stage} byte {pos}"
                        );
                        assert_eq!(bad, before);
                    }
                }
            }
        }
    }

    #[test]
    fn forward_wrong_hop_keys_fail() {
        let n = 4;
        let (ks, nonces) = circuit(n, 77);
        let views = forward_views(&ks, &nonces, &pattern(2));
        for (stage, view) in views.iter().enumerate().take(n) {
            for (other, k) in ks.iter().enumerate() {
                if other == stage {
                    continue;
                }
                let mut b = *view;
                assert_eq!(
                    hop_forward(k, &mut b),
                    Err(CellError::Auth),
                    "{stage} {other}"
                );
            }
        }
        // A hop skipped (truncation) or two swapped (reordering).
        let mut b = views[0];
        hop_forward(&ks[0], &mut b).unwrap();
        assert_eq!(hop_forward(&ks[2], &mut b), Err(CellError::Auth));
        // A body built for a shorter path does not pass a longer one's end.
        let short = build(&ks[..2], &nonces[..2], &pattern(2), 1);
        let mut b = short;
        hop_forward(&ks[0], &mut b).unwrap();
        hop_forward(&ks[1], &mut b).unwrap();
        assert_eq!(hop_forward(&ks[2], &mut b), Err(CellError::Auth));
        // The same body with one more hop prepended is a different cell.
        let swapped = [&ks[1], &ks[0], &ks[2], &ks[3]];
        let hops: Vec<(&HopKeys, u64)> = swapped
            .iter()
            .copied()
            .zip(nonces.iter().copied())
            .collect();
        let mut b = client_forward(&mut Counter(3), &hops, &pattern(2)).unwrap();
        assert_eq!(hop_forward(&ks[0], &mut b), Err(CellError::Auth));
    }

    #[test]
    fn hop_count_limits() {
        let k = keys(1);
        let p = pattern(0);
        assert_eq!(
            client_forward(&mut Counter(1), &[], &p),
            Err(CellError::NoHops)
        );
        let eight: Vec<(&HopKeys, u64)> = (0..8).map(|i| (&k, i)).collect();
        assert_eq!(
            client_forward(&mut Counter(1), &eight, &p),
            Err(CellError::TooManyHops { hops: 8 })
        );
        let body = dest_backward(&k, 1, &p);
        assert_eq!(client_backward(&[], &body), Err(CellError::NoHops));
        assert_eq!(
            client_backward(&[&k; 8], &body),
            Err(CellError::TooManyHops { hops: 8 })
        );
    }

    /// Backward: the destination's body, then the body after each relay
    /// (relays from the destination's side to the client's); the counters.
    fn backward_views(
        ks: &[HopKeys],
        nonce: u64,
        p: &[u8; PAYLOAD_LEN],
        seed: u64,
    ) -> (Vec<[u8; BODY_LEN]>, Vec<u64>) {
        let n = ks.len();
        let mut r = Counter(seed);
        let mut body = dest_backward(&ks[n - 1], nonce, p);
        let mut views = vec![body];
        let mut counters = vec![0; n - 1];
        for i in (0..n - 1).rev() {
            counters[i] = r.next_u64();
            relay_backward(&ks[i], counters[i], &mut body);
            views.push(body);
        }
        (views, counters)
    }

    fn refs(ks: &[HopKeys]) -> Vec<&HopKeys> {
        ks.iter().collect()
    }

    #[test]
    fn backward_every_length_delivers_the_payload() {
        for n in 1..=MAX_HOPS {
            let (ks, _) = circuit(n, 200 + n as u64);
            let p = pattern(9);
            let nonce = 0x0123_4567_89ab_cdef ^ n as u64;
            let (views, _) = backward_views(&ks, nonce, &p, n as u64);
            assert_eq!(views.len(), n);
            let got = client_backward(&refs(&ks), &views[n - 1]).unwrap();
            assert_eq!(got, (p, nonce), "n = {n}");
        }
    }

    #[test]
    fn backward_flipped_byte_fails_at_the_client() {
        for n in [1, 2, 4, 7] {
            let (ks, _) = circuit(n, 300 + n as u64);
            let (views, counters) = backward_views(&ks, 42, &pattern(3), 5);
            let all = refs(&ks);
            // Every byte of the cell the client receives is checked.
            for pos in 0..BODY_LEN {
                let mut bad = views[n - 1];
                bad[pos] ^= 0x01;
                assert_eq!(
                    client_backward(&all, &bad),
                    Err(CellError::Auth),
                    "n {n} {pos}"
                );
            }
            // Earlier stages: every byte that reaches the client is checked;
            // the last slots the remaining relays drop, one each (always
            // destination filler), cannot matter.
            for (stage, view) in views.iter().enumerate().take(n - 1) {
                let dropped = n - 1 - stage;
                for &pos in &positions() {
                    let mut bad = *view;
                    bad[pos] ^= 0x80;
                    // relays still to come: ks[n - 2 - stage] down to ks[0]
                    for i in (0..n - 1 - stage).rev() {
                        relay_backward(&ks[i], counters[i], &mut bad);
                    }
                    let got = client_backward(&all, &bad);
                    if (SLOTS_LEN - dropped * SLOT_LEN..SLOTS_LEN).contains(&pos) {
                        assert_eq!(got, Ok((pattern(3), 42)));
                    } else {
                        assert_eq!(got, Err(CellError::Auth), "n {n} stage {stage} {pos}");
                    }
                }
            }
        }
    }

    #[test]
    fn backward_wrong_counter_key_or_order_fails() {
        let n = 4;
        let (ks, _) = circuit(n, 400);
        let p = pattern(4);
        let (views, counters) = backward_views(&ks, 9, &p, 6);
        let last = views[n - 1];
        let all = refs(&ks);
        assert_eq!(client_backward(&all, &last), Ok((p, 9)));
        // A changed counter in slot 0.
        let mut bad = last;
        bad[7] ^= 1;
        assert_eq!(client_backward(&all, &bad), Err(CellError::Auth));
        // The relay nearest the client used another key.
        let mut bad = views[n - 2];
        relay_backward(&ks[2], counters[0], &mut bad);
        assert_eq!(client_backward(&all, &bad), Err(CellError::Auth));
        // A middle relay used another key (its slot MAC is right for that key
        // but the client expects ks[1]).
        let mut b = views[0];
        relay_backward(&ks[2], counters[2], &mut b);
        relay_backward(&ks[0], counters[1], &mut b);
        relay_backward(&ks[0], counters[0], &mut b);
        assert_eq!(client_backward(&all, &b), Err(CellError::Auth));
        // Keys given in the wrong order, too few, or too many.
        let swapped = [&ks[1], &ks[0], &ks[2], &ks[3]];
        assert_eq!(client_backward(&swapped, &last), Err(CellError::Auth));
        assert_eq!(client_backward(&all[1..], &last), Err(CellError::Auth));
        let extra = keys(999);
        let more = [&extra, &ks[0], &ks[1], &ks[2], &ks[3]];
        assert_eq!(client_backward(&more, &last), Err(CellError::Auth));
        // A relay skipped on the way.
        let mut b = views[1];
        relay_backward(&ks[0], counters[0], &mut b);
        assert_eq!(client_backward(&all, &b), Err(CellError::Auth));
    }

    fn looks_random(v: &[u8; BODY_LEN], what: &str) {
        for (s, slot) in v.chunks_exact(SLOT_LEN).enumerate() {
            assert!(slot.iter().any(|&b| b != 0), "{what}: zero slot {s}");
        }
        for (name, region) in [("slots", &v[..SLOTS_LEN]), ("payload", &v[SLOTS_LEN..])] {
            let mut hist = [0usize; 256];
            for &b in region {
                hist[b as usize] += 1;
            }
            let distinct = hist.iter().filter(|&&c| c > 0).count();
            let max = hist.iter().copied().max().unwrap_or(0);
            // Uniform bytes: 168 draws give ~123 distinct values, 1300 ~254;
            // the maximum count is ~5 resp. ~13.
            let (min_distinct, max_count) = if name == "slots" { (90, 10) } else { (230, 25) };
            assert!(
                distinct >= min_distinct,
                "{what} {name}: {distinct} distinct"
            );
            assert!(max <= max_count, "{what} {name}: a byte {max} times");
        }
    }

    #[test]
    fn every_view_looks_random_in_both_directions() {
        let n = MAX_HOPS;
        let (ks, nonces) = circuit(n, 500);
        let zero = [0u8; PAYLOAD_LEN];
        let views = forward_views(&ks, &nonces, &zero);
        for (i, v) in views[..n].iter().enumerate() {
            looks_random(v, &format!("forward, hop {i} receives"));
        }
        assert_eq!(payload(&views[n]), &zero);
        // The destination's shifted slots (what it sees after opening).
        assert!(views[n][..SLOTS_LEN]
            .chunks_exact(SLOT_LEN)
            .all(|s| s.iter().any(|&b| b != 0)));
        let (back, _) = backward_views(&ks, 0x7777_0000_1234_5678, &zero, 8);
        for (i, v) in back.iter().enumerate() {
            looks_random(v, &format!("backward, after layer {i}"));
        }
        assert_eq!(
            client_backward(&refs(&ks), &back[n - 1]),
            Ok((zero, 0x7777_0000_1234_5678))
        );
    }

    #[test]
    fn deterministic_with_a_fixed_rng() {
        let (ks, nonces) = circuit(5, 600);
        let p = pattern(5);
        assert_eq!(build(&ks, &nonces, &p, 1), build(&ks, &nonces, &p, 1));
        // A 5-hop cell has 2 unused slots of randomness.
        assert_ne!(build(&ks, &nonces, &p, 1), build(&ks, &nonces, &p, 2));
        assert_eq!(dest_backward(&ks[4], 3, &p), dest_backward(&ks[4], 3, &p));
        let mut a = dest_backward(&ks[4], 3, &p);
        let mut b = a;
        relay_backward(&ks[3], 11, &mut a);
        relay_backward(&ks[3], 11, &mut b);
        assert_eq!(a, b);
        // Hop-by-hop views are reproducible too.
        assert_eq!(
            forward_views(&ks, &nonces, &p),
            forward_views(&ks, &nonces, &p)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let (ks, _) = circuit(7, 700);
        let mut r = Counter(1);
        for _ in 0..50 {
            let mut b = [0u8; BODY_LEN];
            r.fill_bytes(&mut b);
            let mut c = b;
            assert_eq!(hop_forward(&ks[0], &mut c), Err(CellError::Auth));
            assert_eq!(c, b);
            for m in 1..=MAX_HOPS {
                assert_eq!(client_backward(&refs(&ks[..m]), &b), Err(CellError::Auth));
            }
        }
        let mut z = [0u8; BODY_LEN];
        assert_eq!(hop_forward(&ks[0], &mut z), Err(CellError::Auth));
        assert_eq!(client_backward(&refs(&ks), &z), Err(CellError::Auth));
    }
}

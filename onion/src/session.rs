//! End-to-end encrypted sessions between two mesh nodes: what the `mesh0`
//! TUN's packets travel in, as batman unicast payloads.
//!
//! ## Contract
//! A sans-IO, deterministic state machine. Time comes in as `now_ms`
//! (monotonic milliseconds, never going back), randomness as an
//! `RngCore + CryptoRng`, the directory as a lookup closure. meshd maps a
//! destination address to the peer's [`PeerKeys`] and calls
//! [`Sessions::send`]; it hands every received payload to
//! [`Sessions::handle`] with the node the batman source suggests (a hint
//! only); it drains [`Sessions::poll_output`] after every call: bytes to
//! transmit to a [`NodeId`] (meshd finds its originator MAC) and decrypted
//! packets with the node the handshake authenticated. meshd then checks the
//! packet's source address against that node's addresses (see
//! [`crate::addr`]) before delivering it. It calls
//! [`Sessions::handle_timeout`] when [`Sessions::poll_timeout`] is due.
//!
//! ## Handshake
//! One round trip; both sides are authenticated by their static onion keys
//! (x25519, certified by their identities and listed in the directory) and
//! forward secrecy comes from ephemeral x25519 keys, in the spirit of Noise
//! IK. H is SHA-256; KDF(ck, x) is HKDF-SHA256 with salt `ck` and input `x`,
//! expanded with info `"meshd e2e v1 chain"` to the next chaining key and
//! `"meshd e2e v1 key"` to a one-time AEAD key; AEAD is
//! ChaCha20-Poly1305, nonce 0 for those one-time keys. DH results that are
//! all zero (small-order points) are refused.
//!
//! ```text
//! ck = H("meshd e2e v1")
//! h  = H(ck ‖ responder NodeId ‖ S_r)          S_r: responder static key
//! Init:     h = H(h ‖ bytes 0..40)             type, reserved, index, E_i
//!           ck, k1 = KDF(ck, DH(e_i, S_r))
//!           c = AEAD(k1, NodeId_i ‖ S_i, ad = h);  h = H(h ‖ c)
//!           ck, k2 = KDF(ck, DH(s_i, S_r))
//!           t = AEAD(k2, empty, ad = h);           h = H(h ‖ t)
//! Response: h = H(h ‖ bytes 0..44)             type, reserved, indexes, E_r
//!           ck, _  = KDF(ck, DH(e_r, E_i))
//!           ck, k3 = KDF(ck, DH(e_r, S_i))
//!           t = AEAD(k3, empty, ad = h);           h = H(h ‖ t)
//! Transport keys: HKDF-SHA256(salt = h, input = ck), info
//!   "meshd e2e v1 initiator to responder" and
//!   "meshd e2e v1 responder to initiator", 32 bytes each.
//! ```
//!
//! The responder tries each of its onion keys (current, then the previous
//! one during its grace period), refuses an initiator the directory does
//! not know and a static key the directory does not list for that node ID.
//! Mixing the responder's node ID into `h` binds the session to the node
//! the initiator meant, even if someone else certified the same onion key.
//!
//! An Init carries no timestamp, so it can be replayed: the responder
//! answers it (at most once per [`INIT_ANSWER_INTERVAL_MS`] per peer,
//! counted only once the Init authenticated) but keeps its working session
//! and never sends on the new one until the initiator proves it, by its
//! first data message (a keepalive if it has nothing queued). Someone
//! replaying an Init gets nothing: the session keys depend on the
//! initiator's ephemeral secret.
//!
//! A data message for an unknown index is dropped and counted. If the hint
//! names a node the directory knows, no handshake of ours to it is in
//! flight and no session of ours received from it in the last
//! [`REKEY_TIMEOUT_MS`], a handshake to it starts (at most once per
//! [`HINT_INTERVAL_MS`] per node, and for at most [`MAX_RATE_ENTRIES`]
//! nodes at once): a peer that restarted and lost its sessions is back in
//! one round trip.
//!
//! ## Wire format
//! Integers are big-endian; reserved bytes are zero (anything else is
//! refused as malformed).
//!
//! Init, initiator → responder, [`INIT_LEN`] = 136 bytes:
//! ```text
//!  0      1          4              8                                40
//!  +------+----------+--------------+--------------------------------+
//!  | 0x01 | reserved | sender index | initiator ephemeral public E_i |
//!  |      | 0 0 0    | u32          | 32 bytes                       |
//!  +------+----------+--------------+--------------------------------+
//!  40                                        104          120         136
//!  +-----------------------------------------+------------+-----------+
//!  | initiator NodeId ‖ static public S_i,   | AEAD tag   | auth tag  |
//!  | encrypted under k1 (64 bytes)           | of it (16) | k2 (16)   |
//!  +-----------------------------------------+------------+-----------+
//! ```
//! Response, responder → initiator, [`RESPONSE_LEN`] = 60 bytes:
//! ```text
//!  0      1          4              8                12                  44         60
//!  +------+----------+--------------+----------------+-------------------+----------+
//!  | 0x02 | reserved | sender index | receiver index | responder         | auth tag |
//!  |      | 0 0 0    | u32          | u32 (the Init's| ephemeral public  | k3 (16)  |
//!  |      |          |              | sender index)  | E_r (32 bytes)    |          |
//!  +------+----------+--------------+----------------+-------------------+----------+
//! ```
//! Data, either way, [`OVERHEAD`] + payload bytes (payload at most
//! [`MAX_PACKET`]; an empty payload is a keepalive):
//! ```text
//!  0      1          4                8                 16                  N-16      N
//!  +------+----------+----------------+-----------------+-------------------+---------+
//!  | 0x03 | reserved | receiver index | counter u64     | payload encrypted | AEAD    |
//!  |      | 0 0 0    | u32            | (nonce 0000 ‖   | with the sender's | tag(16) |
//!  |      |          |                | counter)        | transport key     |         |
//!  +------+----------+----------------+-----------------+-------------------+---------+
//!  additional data = bytes 0..16
//! ```
//! An index is the one its receiver chose (random u32) for the session.
//!
//! ## Lifetimes and bounds
//! WireGuard-like: the initiator of a session starts a new handshake when
//! it sends on a session older than [`REKEY_AFTER_MS`] (the responder after
//! [`RESPONDER_REKEY_AFTER_MS`], so that they do not both do it) or past
//! [`REKEY_AFTER_MESSAGES`]; no session is used after [`REJECT_AFTER_MS`]
//! or [`REJECT_AFTER_MESSAGES`]. Older sessions keep receiving until they
//! expire (at most [`MAX_RECEIVING`] per peer; beyond, the one that
//! received least recently goes), so a rekey loses nothing. When two
//! handshakes cross (both sides initiated within [`REKEY_TIMEOUT_MS`]),
//! both sides send on the pair the lower node ID initiated and keep the
//! other one receiving, so that they converge on one pair and one of them
//! rekeys first next time. A handshake is retried every
//! [`REKEY_TIMEOUT_MS`] and given up after [`REKEY_ATTEMPT_MS`] (the queued
//! packets are dropped and counted). Packets waiting for a handshake: at
//! most [`QUEUE_PER_PEER`] per peer (the oldest dropped) and
//! [`MAX_QUEUED_BYTES`] in all.
//!
//! Peers: at most [`MAX_PEERS`]; a new one evicts the peer least recently
//! sent to or received from. Peer state is only created by our own sends
//! or by a handshake that proved fresh (a Response to our Init, or the
//! first data message of a session we answered). Everything that
//! unauthenticated or replayable input can create lives in the bounded
//! handshake table ([`MAX_HANDSHAKES`], the oldest evicted) and the rate
//! table ([`MAX_RATE_ENTRIES`]). Outputs not yet polled: at most
//! [`MAX_OUTPUT_BYTES`] (the oldest dropped). [`Sessions::heap_bound`]
//! estimates the total.

use std::collections::{BTreeMap, VecDeque};
use std::mem::size_of;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::identity::{NodeId, OnionKey};
use crate::replay::ReplayWindow;

/// Message type of an Init.
pub const TYPE_INIT: u8 = 1;
/// Message type of a Response.
pub const TYPE_RESPONSE: u8 = 2;
/// Message type of a data message.
pub const TYPE_DATA: u8 = 3;
/// Length of an Init.
pub const INIT_LEN: usize = 136;
/// Length of a Response.
pub const RESPONSE_LEN: usize = 60;
/// Length of a data message's header (its additional data).
pub const HEADER_LEN: usize = 16;
/// Length of an AEAD tag.
pub const TAG_LEN: usize = 16;
/// Bytes a data message adds to its payload: mesh0's MTU is the batman
/// unicast payload size minus this.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Largest payload [`Sessions::send`] accepts.
pub const MAX_PACKET: usize = 65535;

/// The initiator of a session rekeys when it sends on a session this old
/// (milliseconds).
pub const REKEY_AFTER_MS: u64 = 120_000;
/// The responder of a session rekeys when it sends on a session this old
/// (milliseconds): later than the initiator, so that both do not at once.
pub const RESPONDER_REKEY_AFTER_MS: u64 = REKEY_AFTER_MS + 2 * REKEY_TIMEOUT_MS;
/// No session is used, to send or to receive, at this age (milliseconds).
pub const REJECT_AFTER_MS: u64 = 180_000;
/// A handshake without an answer is retried after this (milliseconds).
pub const REKEY_TIMEOUT_MS: u64 = 5_000;
/// A handshake is given up (its queued packets dropped) this long after
/// its first attempt (milliseconds).
pub const REKEY_ATTEMPT_MS: u64 = 90_000;
/// A session rekeys after sending this many messages.
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// No message is sent or accepted with a counter of this or more.
pub const REJECT_AFTER_MESSAGES: u64 = u64::MAX - (1 << 13);
/// At most one Init per peer is answered per this interval (milliseconds).
pub const INIT_ANSWER_INTERVAL_MS: u64 = 1_000;
/// At most one handshake per peer is started on a hint (a data message for
/// an unknown index) per this interval (milliseconds).
pub const HINT_INTERVAL_MS: u64 = REKEY_TIMEOUT_MS;
/// Packets queued per peer while its handshake is pending.
pub const QUEUE_PER_PEER: usize = 16;
/// Payload bytes queued for all peers together.
pub const MAX_QUEUED_BYTES: usize = 1 << 20;
/// Peers with state (sessions, a pending handshake or a queue).
pub const MAX_PEERS: usize = 1024;
/// Handshakes in progress (ours waiting for a Response, and answered ones
/// waiting for the initiator's first data message).
pub const MAX_HANDSHAKES: usize = 64;
/// Rate-limit entries (Init answers and hint handshakes per peer).
pub const MAX_RATE_ENTRIES: usize = 256;
/// Bytes of outputs not yet polled (payloads plus their slots).
pub const MAX_OUTPUT_BYTES: usize = 2 << 20;
/// Sessions per peer kept receiving besides the one we send on: older
/// ones until they expire, and the losers of crossed handshakes.
pub const MAX_RECEIVING: usize = 3;
/// Local onion keys tried for an Init (current and previous); more are
/// ignored.
pub const MAX_LOCAL_KEYS: usize = 2;

const PROTOCOL: &[u8] = b"meshd e2e v1";
const LABEL_CHAIN: &[u8] = b"meshd e2e v1 chain";
const LABEL_KEY: &[u8] = b"meshd e2e v1 key";
const LABEL_I2R: &[u8] = b"meshd e2e v1 initiator to responder";
const LABEL_R2I: &[u8] = b"meshd e2e v1 responder to initiator";
const HKDF_LEN: &str = "32 bytes is a valid HKDF-SHA256 output length";

/// A peer's keys from the verified directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerKeys {
    pub id: NodeId,
    /// Its onion public keys, current first (then the previous one during
    /// its grace period). Empty: not usable.
    pub onion: Vec<[u8; 32]>,
}

/// What the core asks meshd to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `bytes` as a batman unicast payload to node `to`.
    Transmit { to: NodeId, bytes: Vec<u8> },
    /// A packet from node `from` (authenticated by the session's keys).
    Deliver { from: NodeId, packet: Vec<u8> },
}

/// Why [`Sessions::send`] refused a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("packet of {0} bytes is larger than {MAX_PACKET}")]
    TooBig(usize),
    #[error("peer has no onion key in the directory")]
    UnknownPeer,
    #[error("peer's onion key is unusable (small-order point)")]
    BadPeerKey,
    #[error("no local onion key to start a handshake with")]
    NoLocalKeys,
    #[error("packet addressed to this node")]
    ToSelf,
    #[error("handshake queue full")]
    QueueFull,
}

/// Why [`Sessions::handle`] dropped a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    #[error("malformed message")]
    Malformed,
    #[error("no session or handshake with this receiver index")]
    UnknownIndex,
    #[error("message counter replayed or too old")]
    Replay,
    #[error("message does not authenticate")]
    Decrypt,
    #[error("initiator not in the directory")]
    UnknownPeer,
    #[error("initiator's static key is not listed for its node ID")]
    KeyNotListed,
    #[error("an Init from this peer was answered too recently")]
    RateLimited,
    #[error("session expired")]
    Expired,
    #[error("no local onion key to answer with")]
    NoLocalKeys,
}

/// Counters for `meshctl s`; every dropped packet or message is counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Data messages sent (keepalives included) and their payload bytes.
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Data messages accepted (keepalives included) and their payload bytes.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub keepalives_tx: u64,
    pub keepalives_rx: u64,
    /// Inits sent: first attempts, retries, rekeys and hints.
    pub handshakes_initiated: u64,
    pub handshake_retries: u64,
    /// Handshakes started because a session got old.
    pub rekeys: u64,
    /// Handshakes started on a hint (data for an unknown index).
    pub hint_handshakes: u64,
    /// Hints not acted on: that peer's last one was too recent, or too
    /// many peers were hinted at recently.
    pub hints_rate_limited: u64,
    /// Responses accepted: sessions we initiated.
    pub handshakes_completed: u64,
    /// Inits answered.
    pub handshakes_answered: u64,
    /// Answered handshakes confirmed by the initiator's first data message.
    pub sessions_confirmed: u64,
    pub handshakes_gave_up: u64,
    /// Handshake table entries that timed out.
    pub handshakes_expired: u64,
    /// Handshake table entries evicted because the table was full.
    pub handshakes_evicted: u64,
    pub sessions_expired: u64,
    pub peers_evicted: u64,
    /// Packets queued behind a handshake.
    pub queued: u64,
    /// Queued packets dropped: the queue was full (the oldest one, or the
    /// new one when all queues together are full).
    pub queue_overflow: u64,
    /// Queued packets dropped because the handshake was given up.
    pub queue_dropped_gave_up: u64,
    /// Queued packets dropped with their evicted peer.
    pub queue_dropped_evicted: u64,
    /// Outputs dropped because meshd did not poll them in time.
    pub outputs_dropped: u64,
    pub send_too_big: u64,
    pub send_unknown_peer: u64,
    pub send_bad_peer_key: u64,
    pub send_no_local_keys: u64,
    pub send_to_self: u64,
    pub rx_malformed: u64,
    pub rx_unknown_index: u64,
    pub rx_replay: u64,
    pub rx_decrypt: u64,
    pub rx_unknown_peer: u64,
    pub rx_key_not_listed: u64,
    pub rx_rate_limited: u64,
    pub rx_expired: u64,
    pub rx_no_local_keys: u64,
}

impl SessionStats {
    fn count_send(&mut self, e: SendError) {
        let c = match e {
            SendError::TooBig(_) => &mut self.send_too_big,
            SendError::UnknownPeer => &mut self.send_unknown_peer,
            SendError::BadPeerKey => &mut self.send_bad_peer_key,
            SendError::NoLocalKeys => &mut self.send_no_local_keys,
            SendError::ToSelf => &mut self.send_to_self,
            SendError::QueueFull => &mut self.queue_overflow,
        };
        *c += 1;
    }

    fn count_recv(&mut self, e: RecvError) {
        let c = match e {
            RecvError::Malformed => &mut self.rx_malformed,
            RecvError::UnknownIndex => &mut self.rx_unknown_index,
            RecvError::Replay => &mut self.rx_replay,
            RecvError::Decrypt => &mut self.rx_decrypt,
            RecvError::UnknownPeer => &mut self.rx_unknown_peer,
            RecvError::KeyNotListed => &mut self.rx_key_not_listed,
            RecvError::RateLimited => &mut self.rx_rate_limited,
            RecvError::Expired => &mut self.rx_expired,
            RecvError::NoLocalKeys => &mut self.rx_no_local_keys,
        };
        *c += 1;
    }
}

/// One peer, for `meshctl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub peer: NodeId,
    /// When the session used for sending was set up (None: no session).
    pub established_ms: Option<u64>,
    /// Did we initiate that session?
    pub initiator: bool,
    /// Older sessions still receiving (at most [`MAX_RECEIVING`]).
    pub receiving: usize,
    pub last_rx_ms: Option<u64>,
    pub last_tx_ms: Option<u64>,
    /// Payload bytes and data messages, over all sessions with the peer.
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub rx_packets: u64,
    /// Packets waiting for a handshake.
    pub queued: usize,
    /// Are we trying to set up a session?
    pub handshake_pending: bool,
}

// ---------------------------------------------------------------------------
// Primitives

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut d = Sha256::new();
    for p in parts {
        d.update(p);
    }
    d.finalize().into()
}

/// The next chaining key and a one-time AEAD key.
fn kdf(ck: &[u8; 32], input: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let hk = Hkdf::<Sha256>::new(Some(ck), input);
    let mut chain = [0u8; 32];
    let mut key = [0u8; 32];
    hk.expand(LABEL_CHAIN, &mut chain).expect(HKDF_LEN);
    hk.expand(LABEL_KEY, &mut key).expect(HKDF_LEN);
    (chain, key)
}

/// (initiator → responder, responder → initiator) transport keys.
fn transport_keys(ck: &[u8; 32], h: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let hk = Hkdf::<Sha256>::new(Some(h), ck);
    let mut i2r = [0u8; 32];
    let mut r2i = [0u8; 32];
    hk.expand(LABEL_I2R, &mut i2r).expect(HKDF_LEN);
    hk.expand(LABEL_R2I, &mut r2i).expect(HKDF_LEN);
    (i2r, r2i)
}

fn nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

fn cipher(key: &[u8; 32]) -> ChaCha20Poly1305 {
    ChaCha20Poly1305::new(Key::from_slice(key))
}

/// Encrypt `buf` in place under the one-time `key`; the tag.
fn seal_once(key: &[u8; 32], ad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
    let tag = cipher(key)
        .encrypt_in_place_detached(Nonce::from_slice(&nonce(0)), ad, buf)
        .expect("handshake fields are far below the AEAD length limit");
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&tag);
    t
}

/// Decrypt `buf` in place under the one-time `key`; does it authenticate?
fn open_once(key: &[u8; 32], ad: &[u8], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
    cipher(key)
        .decrypt_in_place_detached(Nonce::from_slice(&nonce(0)), ad, buf, Tag::from_slice(tag))
        .is_ok()
}

/// Diffie-Hellman with an ephemeral secret; None for a small-order point.
fn dh(secret: &StaticSecret, public: &[u8; 32]) -> Option<[u8; 32]> {
    let s = secret.diffie_hellman(&PublicKey::from(*public));
    s.was_contributory().then(|| s.to_bytes())
}

/// Diffie-Hellman with an onion key; None for a small-order point.
fn onion_dh(key: &OnionKey, public: &[u8; 32]) -> Option<[u8; 32]> {
    let s = key.agree(public);
    (s != [0u8; 32]).then_some(s)
}

/// `N` bytes of `b` at `at`, or Malformed.
fn field<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], RecvError> {
    b.get(at..at.saturating_add(N))
        .and_then(|s| s.try_into().ok())
        .ok_or(RecvError::Malformed)
}

/// Chaining key and transcript hash before the first message.
fn initial(responder: &NodeId, responder_static: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let ck = hash(&[PROTOCOL]);
    let h = hash(&[&ck, responder, responder_static]);
    (ck, h)
}

/// Our static key and its public half (computed once).
#[derive(Clone)]
struct LocalKey {
    key: OnionKey,
    public: [u8; 32],
}

/// The Init, and the chaining key and hash after it; None if a DH is
/// degenerate (a small-order responder key).
fn init_message(
    local_id: &NodeId,
    local: &LocalKey,
    peer: &NodeId,
    peer_static: &[u8; 32],
    index: u32,
    ephemeral: &StaticSecret,
) -> Option<([u8; INIT_LEN], [u8; 32], [u8; 32])> {
    let mut m = [0u8; INIT_LEN];
    m[0] = TYPE_INIT;
    m[4..8].copy_from_slice(&index.to_be_bytes());
    m[8..40].copy_from_slice(PublicKey::from(ephemeral).as_bytes());
    let (ck, h) = initial(peer, peer_static);
    let h = hash(&[&h, &m[..40]]);
    let (ck, k1) = kdf(&ck, &dh(ephemeral, peer_static)?);
    let mut body = [0u8; 64];
    body[..32].copy_from_slice(local_id);
    body[32..].copy_from_slice(&local.public);
    let tag = seal_once(&k1, &h, &mut body);
    m[40..104].copy_from_slice(&body);
    m[104..120].copy_from_slice(&tag);
    let h = hash(&[&h, &m[40..120]]);
    let (ck, k2) = kdf(&ck, &onion_dh(&local.key, peer_static)?);
    let auth = seal_once(&k2, &h, &mut []);
    m[120..136].copy_from_slice(&auth);
    let h = hash(&[&h, &auth]);
    Some((m, ck, h))
}

// ---------------------------------------------------------------------------
// State

/// One set of transport keys.
struct Session {
    /// The index we chose: peers put it in messages to us.
    local_index: u32,
    /// The index the peer chose: we put it in messages to it.
    remote_index: u32,
    send: ChaCha20Poly1305,
    recv: ChaCha20Poly1305,
    send_counter: u64,
    replay: ReplayWindow,
    created_ms: u64,
    initiator: bool,
    /// When it last accepted a message.
    last_rx_ms: Option<u64>,
}

/// A data message, split.
struct Data<'a> {
    header: &'a [u8],
    receiver: u32,
    counter: u64,
    body: &'a [u8],
    tag: &'a [u8; TAG_LEN],
}

fn parse_data(m: &[u8]) -> Result<Data<'_>, RecvError> {
    if m.len() < OVERHEAD || m.len() > OVERHEAD + MAX_PACKET {
        return Err(RecvError::Malformed);
    }
    if field::<4>(m, 0)? != [TYPE_DATA, 0, 0, 0] {
        return Err(RecvError::Malformed);
    }
    let (header, rest) = m.split_at(HEADER_LEN);
    let (body, tag) = rest.split_at(rest.len() - TAG_LEN);
    Ok(Data {
        header,
        receiver: u32::from_be_bytes(field(m, 4)?),
        counter: u64::from_be_bytes(field(m, 8)?),
        body,
        tag: tag.try_into().map_err(|_| RecvError::Malformed)?,
    })
}

impl Session {
    fn new(
        local_index: u32,
        remote_index: u32,
        send: &[u8; 32],
        recv: &[u8; 32],
        now: u64,
        initiator: bool,
    ) -> Self {
        Session {
            local_index,
            remote_index,
            send: cipher(send),
            recv: cipher(recv),
            send_counter: 0,
            replay: ReplayWindow::new(),
            created_ms: now,
            initiator,
            last_rx_ms: None,
        }
    }

    fn expires_ms(&self) -> u64 {
        self.created_ms.saturating_add(REJECT_AFTER_MS)
    }

    fn alive(&self, now: u64) -> bool {
        now < self.expires_ms()
    }

    fn usable(&self, now: u64) -> bool {
        self.alive(now) && self.send_counter < REJECT_AFTER_MESSAGES
    }

    fn wants_rekey(&self, now: u64) -> bool {
        let after = if self.initiator {
            REKEY_AFTER_MS
        } else {
            RESPONDER_REKEY_AFTER_MS
        };
        now.saturating_sub(self.created_ms) >= after || self.send_counter >= REKEY_AFTER_MESSAGES
    }

    /// The data message carrying `payload` (at most MAX_PACKET bytes; the
    /// session must be usable).
    fn seal(&mut self, payload: &[u8]) -> Vec<u8> {
        let counter = self.send_counter;
        self.send_counter += 1;
        let mut m = Vec::with_capacity(OVERHEAD + payload.len());
        m.extend_from_slice(&[TYPE_DATA, 0, 0, 0]);
        m.extend_from_slice(&self.remote_index.to_be_bytes());
        m.extend_from_slice(&counter.to_be_bytes());
        m.extend_from_slice(payload);
        let (header, body) = m.split_at_mut(HEADER_LEN);
        let tag = self
            .send
            .encrypt_in_place_detached(Nonce::from_slice(&nonce(counter)), header, body)
            .expect("payloads are at most MAX_PACKET bytes, far below the AEAD limit");
        m.extend_from_slice(&tag);
        m
    }

    /// The payload of `d`, recorded in the replay window.
    fn open(&mut self, now: u64, d: &Data) -> Result<Vec<u8>, RecvError> {
        if !self.alive(now) || d.counter >= REJECT_AFTER_MESSAGES {
            return Err(RecvError::Expired);
        }
        if !self.replay.check(d.counter) {
            return Err(RecvError::Replay);
        }
        let mut buf = d.body.to_vec();
        self.recv
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce(d.counter)),
                d.header,
                &mut buf,
                Tag::from_slice(d.tag),
            )
            .map_err(|_| RecvError::Decrypt)?;
        if !self.replay.update(d.counter) {
            return Err(RecvError::Replay);
        }
        self.last_rx_ms = Some(now);
        Ok(buf)
    }
}

/// Our side of a handshake we started.
struct Started {
    ephemeral: StaticSecret,
    local: LocalKey,
    ck: [u8; 32],
    h: [u8; 32],
}

/// A handshake in progress.
enum Pending {
    /// We sent an Init and wait for the Response.
    Initiator(Box<Started>),
    /// We answered an Init; the session waits for the initiator's first
    /// data message before we use it.
    Responder(Box<Session>),
}

struct Handshake {
    peer: NodeId,
    /// The peer's static key in this handshake.
    remote_static: [u8; 32],
    created_ms: u64,
    pending: Pending,
}

impl Handshake {
    fn is_initiator(&self) -> bool {
        matches!(self.pending, Pending::Initiator(_))
    }

    fn expires_ms(&self) -> u64 {
        match &self.pending {
            Pending::Initiator(_) => self.created_ms.saturating_add(REKEY_TIMEOUT_MS),
            Pending::Responder(s) => s.expires_ms(),
        }
    }
}

/// A series of handshake attempts.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    started_ms: u64,
    last_ms: u64,
}

#[derive(Default)]
struct Traffic {
    last_rx_ms: Option<u64>,
    last_tx_ms: Option<u64>,
    tx_bytes: u64,
    rx_bytes: u64,
    tx_packets: u64,
    rx_packets: u64,
}

impl Traffic {
    fn tx(&mut self, now: u64, len: usize) {
        self.last_tx_ms = Some(now);
        self.tx_bytes += len as u64;
        self.tx_packets += 1;
    }

    fn rx(&mut self, now: u64, len: usize) {
        self.last_rx_ms = Some(now);
        self.rx_bytes += len as u64;
        self.rx_packets += 1;
    }
}

struct Peer {
    /// The session we send on (always confirmed).
    current: Option<Session>,
    /// Older sessions (and the loser of crossed handshakes), receiving
    /// until they expire; at most MAX_RECEIVING.
    receiving: Vec<Session>,
    /// The peer's static key to start handshakes to (the directory's
    /// current one, as last given to `send`).
    remote_static: [u8; 32],
    attempt: Option<Attempt>,
    queue: VecDeque<Vec<u8>>,
    last_used_ms: u64,
    traffic: Traffic,
}

impl Peer {
    fn new(now: u64, remote_static: [u8; 32]) -> Self {
        Peer {
            current: None,
            receiving: Vec::new(),
            remote_static,
            attempt: None,
            queue: VecDeque::new(),
            last_used_ms: now,
            traffic: Traffic::default(),
        }
    }

    /// Does it still need a handshake?
    fn needs_handshake(&self, now: u64) -> bool {
        let fine = matches!(&self.current, Some(s) if s.usable(now) && !s.wants_rekey(now));
        !self.queue.is_empty() || !fine
    }

    fn idle(&self) -> bool {
        self.current.is_none()
            && self.receiving.is_empty()
            && self.attempt.is_none()
            && self.queue.is_empty()
    }
}

/// When we last answered a peer's Init or acted on a hint for it.
#[derive(Default)]
struct Rate {
    init_ms: Option<u64>,
    hint_ms: Option<u64>,
}

impl Rate {
    fn live(&self, now: u64) -> bool {
        self.init_ms
            .is_some_and(|t| now.saturating_sub(t) < INIT_ANSWER_INTERVAL_MS)
            || self
                .hint_ms
                .is_some_and(|t| now.saturating_sub(t) < HINT_INTERVAL_MS)
    }

    fn latest(&self) -> u64 {
        self.init_ms.unwrap_or(0).max(self.hint_ms.unwrap_or(0))
    }
}

#[derive(Clone, Copy)]
enum RateKind {
    Init,
    Hint,
}

/// Outputs not yet polled, bounded in bytes.
#[derive(Default)]
struct Outbox {
    queue: VecDeque<Output>,
    bytes: usize,
}

fn output_cost(o: &Output) -> usize {
    let len = match o {
        Output::Transmit { bytes, .. } => bytes.len(),
        Output::Deliver { packet, .. } => packet.len(),
    };
    len + size_of::<Output>()
}

impl Outbox {
    fn push(&mut self, o: Output, stats: &mut SessionStats) {
        let cost = output_cost(&o);
        while self.bytes + cost > MAX_OUTPUT_BYTES {
            let Some(old) = self.queue.pop_front() else {
                break;
            };
            self.bytes -= output_cost(&old);
            stats.outputs_dropped += 1;
        }
        self.bytes += cost;
        self.queue.push_back(o);
    }

    fn pop(&mut self) -> Option<Output> {
        let o = self.queue.pop_front()?;
        self.bytes -= output_cost(&o);
        Some(o)
    }
}

/// Queue `packet` for `p`, dropping its oldest ones to stay within the
/// caps.
fn enqueue(
    p: &mut Peer,
    packet: &[u8],
    queued_bytes: &mut usize,
    stats: &mut SessionStats,
) -> Result<(), SendError> {
    while p.queue.len() >= QUEUE_PER_PEER || *queued_bytes + packet.len() > MAX_QUEUED_BYTES {
        let Some(old) = p.queue.pop_front() else {
            // All queues together are full and this one is empty.
            return Err(SendError::QueueFull);
        };
        *queued_bytes -= old.len();
        stats.queue_overflow += 1;
    }
    *queued_bytes += packet.len();
    p.queue.push_back(packet.to_vec());
    stats.queued += 1;
    Ok(())
}

/// The end-to-end sessions of one node. See the module docs.
pub struct Sessions {
    local: NodeId,
    keys: Vec<LocalKey>,
    peers: BTreeMap<NodeId, Peer>,
    /// Our index of every established session → its peer.
    by_index: BTreeMap<u32, NodeId>,
    /// Handshakes in progress by our index.
    handshakes: BTreeMap<u32, Handshake>,
    rate: BTreeMap<NodeId, Rate>,
    outbox: Outbox,
    queued_bytes: usize,
    stats: SessionStats,
    deadline: Option<u64>,
    /// Must `deadline` be recomputed?
    dirty: bool,
}

impl Sessions {
    /// The sessions of node `local`; no onion keys yet (see
    /// [`Sessions::set_local_keys`]).
    pub fn new(local: NodeId) -> Self {
        Sessions {
            local,
            keys: Vec::new(),
            peers: BTreeMap::new(),
            by_index: BTreeMap::new(),
            handshakes: BTreeMap::new(),
            rate: BTreeMap::new(),
            outbox: Outbox::default(),
            queued_bytes: 0,
            stats: SessionStats::default(),
            deadline: None,
            dirty: false,
        }
    }

    /// Our node ID.
    pub fn local_id(&self) -> NodeId {
        self.local
    }

    /// Our onion keys, current first (then the previous one during its
    /// grace period; more than [`MAX_LOCAL_KEYS`] are ignored). Call again
    /// after each rotation; sessions and handshakes in progress carry on.
    pub fn set_local_keys(&mut self, keys: Vec<OnionKey>) {
        self.keys = keys
            .into_iter()
            .take(MAX_LOCAL_KEYS)
            .map(|key| LocalKey {
                public: key.public(),
                key,
            })
            .collect();
    }

    /// Counters.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// The next output, if any. Drain after every call.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outbox.pop()
    }

    /// When [`Sessions::handle_timeout`] is next due (monotonic ms).
    pub fn poll_timeout(&self) -> Option<u64> {
        self.deadline
    }

    /// Send `packet` to `peer` (keys from the directory, current first):
    /// encrypted at once on an established session, or queued behind a
    /// handshake. An empty packet is a keepalive.
    pub fn send(
        &mut self,
        now_ms: u64,
        rng: &mut (impl RngCore + CryptoRng),
        peer: &PeerKeys,
        packet: &[u8],
    ) -> Result<(), SendError> {
        let r = self.send_inner(now_ms, rng, peer, packet);
        if let Err(e) = r {
            self.stats.count_send(e);
        }
        self.refresh_deadline();
        r
    }

    /// Handle a payload received from the mesh. `hint` is the node the
    /// batman source maps to (unauthenticated); `lookup` answers the
    /// directory's keys of a node (None: unknown, refused). Outputs are
    /// queued for [`Sessions::poll_output`]; a dropped message is counted
    /// and its reason returned.
    pub fn handle(
        &mut self,
        now_ms: u64,
        rng: &mut (impl RngCore + CryptoRng),
        payload: &[u8],
        hint: Option<NodeId>,
        lookup: &dyn Fn(&NodeId) -> Option<PeerKeys>,
    ) -> Result<(), RecvError> {
        let r = match payload.first() {
            Some(&TYPE_INIT) => self.on_init(now_ms, rng, payload, lookup),
            Some(&TYPE_RESPONSE) => self.on_response(now_ms, payload),
            Some(&TYPE_DATA) => self.on_data(now_ms, rng, payload, hint, lookup),
            _ => Err(RecvError::Malformed),
        };
        if let Err(e) = r {
            self.stats.count_recv(e);
        }
        self.refresh_deadline();
        r
    }

    /// Expire sessions and handshakes, retry or give up handshakes.
    pub fn handle_timeout(&mut self, now_ms: u64, rng: &mut (impl RngCore + CryptoRng)) {
        let now = now_ms;
        let before = self.handshakes.len();
        self.handshakes.retain(|_, hs| now < hs.expires_ms());
        self.stats.handshakes_expired += (before - self.handshakes.len()) as u64;
        let ids: Vec<NodeId> = self.peers.keys().copied().collect();
        for id in ids {
            self.peer_timeout(now, rng, &id);
        }
        self.rate.retain(|_, r| r.live(now));
        self.dirty = true;
        self.refresh_deadline();
    }

    /// Every peer with state, for `meshctl`.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.peers
            .iter()
            .map(|(id, p)| SessionInfo {
                peer: *id,
                established_ms: p.current.as_ref().map(|s| s.created_ms),
                initiator: p.current.as_ref().is_some_and(|s| s.initiator),
                receiving: p.receiving.len(),
                last_rx_ms: p.traffic.last_rx_ms,
                last_tx_ms: p.traffic.last_tx_ms,
                tx_bytes: p.traffic.tx_bytes,
                rx_bytes: p.traffic.rx_bytes,
                tx_packets: p.traffic.tx_packets,
                rx_packets: p.traffic.rx_packets,
                queued: p.queue.len(),
                handshake_pending: p.attempt.is_some(),
            })
            .collect()
    }

    /// An upper estimate of the heap this core can use with every table at
    /// its cap (B-tree nodes counted half empty, rings at twice their
    /// length, allocator overhead not counted): about 11 MiB on a 64-bit
    /// target, of which 6 MiB are outputs meshd has not polled and 1 MiB
    /// packets waiting for handshakes.
    pub fn heap_bound() -> usize {
        fn entry(key: usize, value: usize) -> usize {
            2 * (key + value) + 16
        }
        let peer = entry(size_of::<NodeId>(), size_of::<Peer>())
            + (MAX_RECEIVING + 1) * size_of::<Session>()
            + (MAX_RECEIVING + 1) * entry(size_of::<u32>(), size_of::<NodeId>())
            + 2 * QUEUE_PER_PEER * size_of::<Vec<u8>>();
        // Plus the boxed state of either side.
        let handshake = entry(size_of::<u32>(), size_of::<Handshake>())
            + size_of::<Session>().max(size_of::<Started>());
        let rate = entry(size_of::<NodeId>(), size_of::<Rate>());
        MAX_PEERS * peer
            + MAX_HANDSHAKES * handshake
            + MAX_RATE_ENTRIES * rate
            + MAX_QUEUED_BYTES
            // The budget counts payloads plus slots; the ring of slots may
            // be twice as long as it is full.
            + 3 * MAX_OUTPUT_BYTES
            + MAX_LOCAL_KEYS * size_of::<LocalKey>()
    }

    // -----------------------------------------------------------------------
    // Sending

    fn send_inner<R: RngCore + CryptoRng>(
        &mut self,
        now: u64,
        rng: &mut R,
        keys: &PeerKeys,
        packet: &[u8],
    ) -> Result<(), SendError> {
        if packet.len() > MAX_PACKET {
            return Err(SendError::TooBig(packet.len()));
        }
        let id = keys.id;
        if id == self.local {
            return Err(SendError::ToSelf);
        }
        let Some(&remote_static) = keys.onion.first() else {
            return Err(SendError::UnknownPeer);
        };
        if let Some(p) = self.peers.get_mut(&id) {
            p.remote_static = remote_static;
            p.last_used_ms = now;
            if let Some(s) = p.current.as_mut().filter(|s| s.usable(now)) {
                let bytes = s.seal(packet);
                let rekey = p.attempt.is_none() && s.wants_rekey(now);
                p.traffic.tx(now, packet.len());
                self.note_tx(packet.len());
                self.outbox
                    .push(Output::Transmit { to: id, bytes }, &mut self.stats);
                if rekey {
                    // The old session stays usable: if this fails, the
                    // next packet tries again.
                    if self.initiate(now, rng, &id, &remote_static).is_ok() {
                        self.stats.rekeys += 1;
                        self.start_attempt(now, &id);
                    }
                }
                return Ok(());
            }
        }
        // No usable session: the packet waits for a handshake.
        let in_progress = self.peers.get(&id).is_some_and(|p| p.attempt.is_some());
        if !in_progress {
            self.initiate(now, rng, &id, &remote_static)?;
        }
        if !self.peers.contains_key(&id) {
            self.make_peer_room();
        }
        let p = self
            .peers
            .entry(id)
            .or_insert_with(|| Peer::new(now, remote_static));
        if !in_progress {
            p.attempt = Some(Attempt {
                started_ms: now,
                last_ms: now,
            });
            self.dirty = true;
        }
        enqueue(p, packet, &mut self.queued_bytes, &mut self.stats)
    }

    fn start_attempt(&mut self, now: u64, id: &NodeId) {
        if let Some(p) = self.peers.get_mut(id) {
            p.attempt = Some(Attempt {
                started_ms: now,
                last_ms: now,
            });
            self.dirty = true;
        }
    }

    fn note_tx(&mut self, len: usize) {
        self.stats.tx_packets += 1;
        self.stats.tx_bytes += len as u64;
        if len == 0 {
            self.stats.keepalives_tx += 1;
        }
    }

    /// A receiver index not in use.
    fn fresh_index<R: RngCore>(&self, rng: &mut R) -> u32 {
        let mut i = rng.next_u32();
        // The tables hold a few thousand of 2^32: probing is bounded by
        // their size and almost never happens.
        while self.by_index.contains_key(&i) || self.handshakes.contains_key(&i) {
            i = i.wrapping_add(1);
        }
        i
    }

    /// Send an Init to `peer`, replacing any of ours in flight to it.
    fn initiate<R: RngCore + CryptoRng>(
        &mut self,
        now: u64,
        rng: &mut R,
        peer: &NodeId,
        peer_static: &[u8; 32],
    ) -> Result<(), SendError> {
        let Some(local) = self.keys.first().cloned() else {
            return Err(SendError::NoLocalKeys);
        };
        let index = self.fresh_index(rng);
        let mut e = [0u8; 32];
        rng.fill_bytes(&mut e);
        let ephemeral = StaticSecret::from(e);
        let Some((m, ck, h)) =
            init_message(&self.local, &local, peer, peer_static, index, &ephemeral)
        else {
            return Err(SendError::BadPeerKey);
        };
        self.handshakes
            .retain(|_, hs| !(hs.peer == *peer && hs.is_initiator()));
        self.make_handshake_room();
        self.handshakes.insert(
            index,
            Handshake {
                peer: *peer,
                remote_static: *peer_static,
                created_ms: now,
                pending: Pending::Initiator(Box::new(Started {
                    ephemeral,
                    local,
                    ck,
                    h,
                })),
            },
        );
        self.outbox.push(
            Output::Transmit {
                to: *peer,
                bytes: m.to_vec(),
            },
            &mut self.stats,
        );
        self.stats.handshakes_initiated += 1;
        self.dirty = true;
        Ok(())
    }

    /// Send the queue of `peer` on its current session; a keepalive if
    /// there was nothing and `keepalive`.
    fn flush(&mut self, now: u64, peer: &NodeId, keepalive: bool) {
        let Some(p) = self.peers.get_mut(peer) else {
            return;
        };
        let Some(s) = p.current.as_mut().filter(|s| s.usable(now)) else {
            return;
        };
        if p.queue.is_empty() && keepalive {
            p.queue.push_back(Vec::new());
        }
        while s.usable(now) {
            let Some(packet) = p.queue.pop_front() else {
                break;
            };
            self.queued_bytes -= packet.len();
            let bytes = s.seal(&packet);
            p.traffic.tx(now, packet.len());
            self.stats.tx_packets += 1;
            self.stats.tx_bytes += packet.len() as u64;
            if packet.is_empty() {
                self.stats.keepalives_tx += 1;
            }
            self.outbox
                .push(Output::Transmit { to: *peer, bytes }, &mut self.stats);
        }
    }

    // -----------------------------------------------------------------------
    // Receiving

    fn on_init<R: RngCore + CryptoRng>(
        &mut self,
        now: u64,
        rng: &mut R,
        m: &[u8],
        lookup: &dyn Fn(&NodeId) -> Option<PeerKeys>,
    ) -> Result<(), RecvError> {
        if m.len() != INIT_LEN || field::<3>(m, 1)? != [0; 3] {
            return Err(RecvError::Malformed);
        }
        if self.keys.is_empty() {
            return Err(RecvError::NoLocalKeys);
        }
        let sender = u32::from_be_bytes(field(m, 4)?);
        let e_i: [u8; 32] = field(m, 8)?;
        let sealed: [u8; 64] = field(m, 40)?;
        let sealed_tag: [u8; TAG_LEN] = field(m, 104)?;
        let auth: [u8; TAG_LEN] = field(m, 120)?;
        // Which of our keys was it made for? At most MAX_LOCAL_KEYS tries.
        let mut found = None;
        for local in &self.keys {
            let (ck, h) = initial(&self.local, &local.public);
            let h = hash(&[&h, &m[..40]]);
            let Some(shared) = onion_dh(&local.key, &e_i) else {
                return Err(RecvError::Malformed);
            };
            let (ck, k1) = kdf(&ck, &shared);
            let mut body = sealed;
            if open_once(&k1, &h, &mut body, &sealed_tag) {
                found = Some((local.clone(), ck, h, body));
                break;
            }
        }
        let Some((local, ck, h, body)) = found else {
            return Err(RecvError::Decrypt);
        };
        let peer: NodeId = field(&body, 0)?;
        let s_i: [u8; 32] = field(&body, 32)?;
        if peer == self.local {
            return Err(RecvError::UnknownPeer);
        }
        let Some(keys) = lookup(&peer).filter(|k| k.id == peer) else {
            return Err(RecvError::UnknownPeer);
        };
        if !keys.onion.contains(&s_i) {
            return Err(RecvError::KeyNotListed);
        }
        let h = hash(&[&h, &m[40..120]]);
        let Some(shared) = onion_dh(&local.key, &s_i) else {
            return Err(RecvError::Malformed);
        };
        let (ck, k2) = kdf(&ck, &shared);
        if !open_once(&k2, &h, &mut [], &auth) {
            return Err(RecvError::Decrypt);
        }
        let h = hash(&[&h, &auth]);
        // The initiator holds s_i; the Init may still be a replay.
        if !self.rate_allows(now, &peer, RateKind::Init) {
            return Err(RecvError::RateLimited);
        }
        let index = self.fresh_index(rng);
        let mut e = [0u8; 32];
        rng.fill_bytes(&mut e);
        let ephemeral = StaticSecret::from(e);
        let mut r = [0u8; RESPONSE_LEN];
        r[0] = TYPE_RESPONSE;
        r[4..8].copy_from_slice(&index.to_be_bytes());
        r[8..12].copy_from_slice(&sender.to_be_bytes());
        r[12..44].copy_from_slice(PublicKey::from(&ephemeral).as_bytes());
        let h = hash(&[&h, &r[..44]]);
        let Some(ee) = dh(&ephemeral, &e_i) else {
            return Err(RecvError::Malformed);
        };
        let (ck, _) = kdf(&ck, &ee);
        let Some(se) = dh(&ephemeral, &s_i) else {
            return Err(RecvError::Malformed);
        };
        let (ck, k3) = kdf(&ck, &se);
        let tag = seal_once(&k3, &h, &mut []);
        r[44..60].copy_from_slice(&tag);
        let h = hash(&[&h, &tag]);
        let (i2r, r2i) = transport_keys(&ck, &h);
        let session = Session::new(index, sender, &r2i, &i2r, now, false);
        // One answered handshake per peer waits for confirmation; a working
        // session is not touched.
        self.handshakes
            .retain(|_, hs| hs.peer != peer || hs.is_initiator());
        self.make_handshake_room();
        self.handshakes.insert(
            index,
            Handshake {
                peer,
                remote_static: s_i,
                created_ms: now,
                pending: Pending::Responder(Box::new(session)),
            },
        );
        self.outbox.push(
            Output::Transmit {
                to: peer,
                bytes: r.to_vec(),
            },
            &mut self.stats,
        );
        self.stats.handshakes_answered += 1;
        self.dirty = true;
        Ok(())
    }

    fn on_response(&mut self, now: u64, m: &[u8]) -> Result<(), RecvError> {
        if m.len() != RESPONSE_LEN || field::<3>(m, 1)? != [0; 3] {
            return Err(RecvError::Malformed);
        }
        let sender = u32::from_be_bytes(field(m, 4)?);
        let receiver = u32::from_be_bytes(field(m, 8)?);
        let e_r: [u8; 32] = field(m, 12)?;
        let tag: [u8; TAG_LEN] = field(m, 44)?;
        let Some(hs) = self.handshakes.get(&receiver) else {
            return Err(RecvError::UnknownIndex);
        };
        let Pending::Initiator(started) = &hs.pending else {
            return Err(RecvError::UnknownIndex);
        };
        let h = hash(&[&started.h, &m[..44]]);
        let Some(ee) = dh(&started.ephemeral, &e_r) else {
            return Err(RecvError::Malformed);
        };
        let (ck, _) = kdf(&started.ck, &ee);
        let Some(se) = onion_dh(&started.local.key, &e_r) else {
            return Err(RecvError::Malformed);
        };
        let (ck, k3) = kdf(&ck, &se);
        if !open_once(&k3, &h, &mut [], &tag) {
            // A forgery does not end the handshake.
            return Err(RecvError::Decrypt);
        }
        let h = hash(&[&h, &tag]);
        let (i2r, r2i) = transport_keys(&ck, &h);
        let (peer, remote_static) = (hs.peer, hs.remote_static);
        self.handshakes.remove(&receiver);
        let session = Session::new(receiver, sender, &i2r, &r2i, now, true);
        self.install(now, peer, remote_static, session);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.attempt = None;
        }
        self.stats.handshakes_completed += 1;
        // Confirm the session to the responder: the queue, or a keepalive.
        self.flush(now, &peer, true);
        Ok(())
    }

    fn on_data<R: RngCore + CryptoRng>(
        &mut self,
        now: u64,
        rng: &mut R,
        m: &[u8],
        hint: Option<NodeId>,
        lookup: &dyn Fn(&NodeId) -> Option<PeerKeys>,
    ) -> Result<(), RecvError> {
        let d = parse_data(m)?;
        if let Some(peer) = self.by_index.get(&d.receiver).copied() {
            let Some(p) = self.peers.get_mut(&peer) else {
                return Err(RecvError::UnknownIndex);
            };
            let s = p
                .current
                .iter_mut()
                .chain(p.receiving.iter_mut())
                .find(|s| s.local_index == d.receiver);
            let Some(s) = s else {
                return Err(RecvError::UnknownIndex);
            };
            let packet = s.open(now, &d)?;
            p.last_used_ms = now;
            p.traffic.rx(now, packet.len());
            self.received(peer, packet);
            return Ok(());
        }
        if let Some(Handshake {
            pending: Pending::Responder(s),
            ..
        }) = self.handshakes.get_mut(&d.receiver)
        {
            let packet = s.open(now, &d)?;
            // The initiator proved the session: it becomes current.
            let Some(hs) = self.handshakes.remove(&d.receiver) else {
                return Err(RecvError::UnknownIndex);
            };
            let Pending::Responder(session) = hs.pending else {
                return Err(RecvError::UnknownIndex);
            };
            self.install(now, hs.peer, hs.remote_static, *session);
            self.stats.sessions_confirmed += 1;
            self.flush(now, &hs.peer, false);
            if let Some(p) = self.peers.get_mut(&hs.peer) {
                p.traffic.rx(now, packet.len());
                if !p.needs_handshake(now) {
                    p.attempt = None;
                }
            }
            self.received(hs.peer, packet);
            return Ok(());
        }
        self.hinted(now, rng, hint, lookup);
        Err(RecvError::UnknownIndex)
    }

    fn received(&mut self, from: NodeId, packet: Vec<u8>) {
        self.stats.rx_packets += 1;
        self.stats.rx_bytes += packet.len() as u64;
        if packet.is_empty() {
            self.stats.keepalives_rx += 1;
        } else {
            self.outbox
                .push(Output::Deliver { from, packet }, &mut self.stats);
        }
    }

    /// Data for an unknown index, maybe from `hint`: if it is a peer that
    /// lost its sessions (a restart), a handshake recovers at once.
    fn hinted<R: RngCore + CryptoRng>(
        &mut self,
        now: u64,
        rng: &mut R,
        hint: Option<NodeId>,
        lookup: &dyn Fn(&NodeId) -> Option<PeerKeys>,
    ) {
        let Some(peer) = hint else {
            return;
        };
        if peer == self.local || self.keys.is_empty() {
            return;
        }
        if self
            .handshakes
            .values()
            .any(|hs| hs.peer == peer && hs.is_initiator())
        {
            return;
        }
        // A session that is receiving from the peer right now is fine.
        if self.peers.get(&peer).is_some_and(|p| {
            p.current.as_ref().is_some_and(|s| s.alive(now))
                && p.traffic
                    .last_rx_ms
                    .is_some_and(|t| now.saturating_sub(t) < REKEY_TIMEOUT_MS)
        }) {
            return;
        }
        let Some(keys) = lookup(&peer).filter(|k| k.id == peer) else {
            return;
        };
        let Some(&peer_static) = keys.onion.first() else {
            return;
        };
        if !self.rate_allows(now, &peer, RateKind::Hint) {
            self.stats.hints_rate_limited += 1;
            return;
        }
        if self.initiate(now, rng, &peer, &peer_static).is_ok() {
            self.stats.hint_handshakes += 1;
        }
    }

    // -----------------------------------------------------------------------
    // Tables

    /// Make `session` the current one of `peer` (creating the peer).
    fn install(&mut self, now: u64, peer: NodeId, remote_static: [u8; 32], session: Session) {
        if !self.peers.contains_key(&peer) {
            self.make_peer_room();
        }
        self.by_index.insert(session.local_index, peer);
        let p = self
            .peers
            .entry(peer)
            .or_insert_with(|| Peer::new(now, remote_static));
        // Two handshakes crossed (both sides initiated at about the same
        // time): both sides send on the pair the lower node ID initiated,
        // so that they do not keep rekeying at the same moments.
        let keep_current = p.current.as_ref().is_some_and(|c| {
            c.alive(now)
                && c.initiator != session.initiator
                && now.saturating_sub(c.created_ms) < REKEY_TIMEOUT_MS
                && c.initiator == (self.local < peer)
        });
        let older = if keep_current {
            session
        } else {
            match p.current.replace(session) {
                Some(old) => old,
                None => {
                    p.last_used_ms = now;
                    self.dirty = true;
                    return;
                }
            }
        };
        // The rest keep receiving until they expire; when there are too
        // many, the one that received least recently goes.
        p.receiving.retain(|s| {
            let alive = s.alive(now);
            if !alive {
                self.by_index.remove(&s.local_index);
            }
            alive
        });
        if older.alive(now) {
            p.receiving.push(older);
        } else {
            self.by_index.remove(&older.local_index);
        }
        while p.receiving.len() > MAX_RECEIVING {
            let Some(i) = p
                .receiving
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.last_rx_ms.unwrap_or(s.created_ms))
                .map(|(i, _)| i)
            else {
                break;
            };
            let s = p.receiving.swap_remove(i);
            self.by_index.remove(&s.local_index);
        }
        p.last_used_ms = now;
        self.dirty = true;
    }

    /// Evict least recently used peers until a new one fits.
    fn make_peer_room(&mut self) {
        while self.peers.len() >= MAX_PEERS {
            let Some(lru) = self
                .peers
                .iter()
                .min_by_key(|(id, p)| (p.last_used_ms, **id))
                .map(|(id, _)| *id)
            else {
                break;
            };
            self.remove_peer(&lru, true);
        }
    }

    fn remove_peer(&mut self, id: &NodeId, evicted: bool) {
        let Some(p) = self.peers.remove(id) else {
            return;
        };
        for s in p.current.iter().chain(&p.receiving) {
            self.by_index.remove(&s.local_index);
        }
        for packet in &p.queue {
            self.queued_bytes -= packet.len();
        }
        if evicted {
            self.stats.peers_evicted += 1;
            self.stats.queue_dropped_evicted += p.queue.len() as u64;
            self.handshakes
                .retain(|_, hs| !(hs.peer == *id && hs.is_initiator()));
        }
        self.dirty = true;
    }

    /// Evict the oldest handshakes until a new one fits.
    fn make_handshake_room(&mut self) {
        while self.handshakes.len() >= MAX_HANDSHAKES {
            let Some(oldest) = self
                .handshakes
                .iter()
                .min_by_key(|(i, hs)| (hs.created_ms, **i))
                .map(|(i, _)| *i)
            else {
                break;
            };
            self.handshakes.remove(&oldest);
            self.stats.handshakes_evicted += 1;
            self.dirty = true;
        }
    }

    /// May we answer an Init of (or act on a hint for) `peer` now? If so,
    /// it is recorded.
    fn rate_allows(&mut self, now: u64, peer: &NodeId, kind: RateKind) -> bool {
        if !self.rate.contains_key(peer) && self.rate.len() >= MAX_RATE_ENTRIES {
            self.rate.retain(|_, r| r.live(now));
            if self.rate.len() >= MAX_RATE_ENTRIES {
                if let RateKind::Hint = kind {
                    // Unauthenticated input acts on no more peers at once
                    // than the table holds.
                    return false;
                }
                // An authenticated Init cost as much to check as it costs
                // to answer: make room.
                if let Some(oldest) = self
                    .rate
                    .iter()
                    .min_by_key(|(id, r)| (r.latest(), **id))
                    .map(|(id, _)| *id)
                {
                    self.rate.remove(&oldest);
                }
            }
        }
        let r = self.rate.entry(*peer).or_default();
        let (last, interval) = match kind {
            RateKind::Init => (&mut r.init_ms, INIT_ANSWER_INTERVAL_MS),
            RateKind::Hint => (&mut r.hint_ms, HINT_INTERVAL_MS),
        };
        if last.is_some_and(|t| now.saturating_sub(t) < interval) {
            return false;
        }
        *last = Some(now);
        true
    }

    // -----------------------------------------------------------------------
    // Timers

    fn peer_timeout<R: RngCore + CryptoRng>(&mut self, now: u64, rng: &mut R, id: &NodeId) {
        let Some(p) = self.peers.get_mut(id) else {
            return;
        };
        if p.current.as_ref().is_some_and(|s| !s.alive(now)) {
            if let Some(s) = p.current.take() {
                self.by_index.remove(&s.local_index);
                self.stats.sessions_expired += 1;
            }
        }
        p.receiving.retain(|s| {
            let alive = s.alive(now);
            if !alive {
                self.by_index.remove(&s.local_index);
                self.stats.sessions_expired += 1;
            }
            alive
        });
        if let Some(a) = p.attempt {
            if !p.needs_handshake(now) {
                p.attempt = None;
            } else if now >= a.last_ms.saturating_add(REKEY_TIMEOUT_MS) {
                let retry = now.saturating_sub(a.started_ms) < REKEY_ATTEMPT_MS;
                let peer_static = p.remote_static;
                p.attempt = Some(Attempt { last_ms: now, ..a });
                if retry && self.initiate(now, rng, id, &peer_static).is_ok() {
                    self.stats.handshake_retries += 1;
                } else {
                    self.give_up(id);
                }
            }
        }
        if self.peers.get(id).is_some_and(Peer::idle) {
            self.remove_peer(id, false);
        }
    }

    /// No handshake with `id` came through: drop what waited for it.
    fn give_up(&mut self, id: &NodeId) {
        let Some(p) = self.peers.get_mut(id) else {
            return;
        };
        p.attempt = None;
        for packet in p.queue.drain(..) {
            self.queued_bytes -= packet.len();
            self.stats.queue_dropped_gave_up += 1;
        }
        self.stats.handshakes_gave_up += 1;
        self.handshakes
            .retain(|_, hs| !(hs.peer == *id && hs.is_initiator()));
        self.dirty = true;
    }

    fn refresh_deadline(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let mut next: Option<u64> = None;
        let mut at = |t: u64| next = Some(next.map_or(t, |n| n.min(t)));
        for hs in self.handshakes.values() {
            at(hs.expires_ms());
        }
        for p in self.peers.values() {
            for s in p.current.iter().chain(&p.receiving) {
                at(s.expires_ms());
            }
            if let Some(a) = p.attempt {
                at(a.last_ms.saturating_add(REKEY_TIMEOUT_MS));
            }
        }
        self.deadline = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;
    use chacha20poly1305::aead::{Aead, Payload};

    use crate::identity::test_rng::Counter;

    struct Node {
        id: NodeId,
        identity: Identity,
        keys: Vec<OnionKey>,
        s: Sessions,
    }

    fn node(seed: u64) -> Node {
        let identity = Identity::generate(&mut Counter(seed));
        let key = OnionKey::generate(&identity, &mut Counter(seed + 1_000), 0, 86_400);
        let mut s = Sessions::new(identity.id());
        s.set_local_keys(vec![key.clone()]);
        Node {
            id: identity.id(),
            identity,
            keys: vec![key],
            s,
        }
    }

    fn keys_of(n: &Node) -> PeerKeys {
        PeerKeys {
            id: n.id,
            onion: n.keys.iter().map(OnionKey::public).collect(),
        }
    }

    /// Nodes wired in memory: a FIFO wire, a virtual clock, one directory.
    struct Net {
        now: u64,
        rng: Counter,
        nodes: Vec<Node>,
        dir: BTreeMap<NodeId, PeerKeys>,
        wire: VecDeque<(usize, usize, Vec<u8>)>,
        got: Vec<(usize, NodeId, Vec<u8>)>,
        errors: Vec<(usize, RecvError)>,
    }

    impl Net {
        fn new(n: usize) -> Net {
            let nodes: Vec<Node> = (0..n as u64).map(|i| node(10 + i)).collect();
            let dir = nodes.iter().map(|n| (n.id, keys_of(n))).collect();
            Net {
                now: 1_000,
                rng: Counter(99),
                nodes,
                dir,
                wire: VecDeque::new(),
                got: Vec::new(),
                errors: Vec::new(),
            }
        }

        fn id(&self, i: usize) -> NodeId {
            self.nodes[i].id
        }

        fn index_of(&self, id: &NodeId) -> Option<usize> {
            self.nodes.iter().position(|n| n.id == *id)
        }

        fn send(&mut self, from: usize, to: usize, packet: &[u8]) -> Result<(), SendError> {
            let keys = self.dir[&self.nodes[to].id].clone();
            let r = self.nodes[from]
                .s
                .send(self.now, &mut self.rng, &keys, packet);
            self.collect(from);
            r
        }

        fn collect(&mut self, i: usize) {
            while let Some(o) = self.nodes[i].s.poll_output() {
                match o {
                    Output::Transmit { to, bytes } => {
                        let j = self.index_of(&to).expect("transmit to a node of the net");
                        self.wire.push_back((i, j, bytes));
                    }
                    Output::Deliver { from, packet } => self.got.push((i, from, packet)),
                }
            }
        }

        /// Hand `bytes` to node `to`, hinting at `hint` as the sender.
        fn deliver_hinted(
            &mut self,
            hint: Option<NodeId>,
            to: usize,
            bytes: &[u8],
        ) -> Result<(), RecvError> {
            let dir = &self.dir;
            let lookup = |id: &NodeId| dir.get(id).cloned();
            let r = self.nodes[to]
                .s
                .handle(self.now, &mut self.rng, bytes, hint, &lookup);
            if let Err(e) = r {
                self.errors.push((to, e));
            }
            self.collect(to);
            r
        }

        fn deliver(&mut self, from: usize, to: usize, bytes: &[u8]) -> Result<(), RecvError> {
            self.deliver_hinted(Some(self.nodes[from].id), to, bytes)
        }

        /// Deliver everything on the wire, and what that causes.
        fn pump(&mut self) {
            let mut n = 0;
            while let Some((f, t, b)) = self.wire.pop_front() {
                let _ = self.deliver(f, t, &b);
                n += 1;
                assert!(n < 1_000_000, "the wire never settles");
            }
        }

        /// Move the clock on by `ms`, running every timer on time; with
        /// `pump`, messages arrive at once, else they stay on the wire.
        fn advance(&mut self, ms: u64, pump: bool) {
            let end = self.now + ms;
            for _ in 0..100_000 {
                let next = self.nodes.iter().filter_map(|n| n.s.poll_timeout()).min();
                match next {
                    Some(t) if t <= end => {
                        self.now = self.now.max(t);
                        for i in 0..self.nodes.len() {
                            if self.nodes[i]
                                .s
                                .poll_timeout()
                                .is_some_and(|t| t <= self.now)
                            {
                                self.nodes[i].s.handle_timeout(self.now, &mut self.rng);
                                let due = self.nodes[i].s.poll_timeout();
                                assert!(
                                    !matches!(due, Some(t) if t <= self.now),
                                    "handle_timeout left its deadline in the past"
                                );
                                self.collect(i);
                            }
                        }
                        if pump {
                            self.pump();
                        }
                    }
                    _ => {
                        self.now = end;
                        return;
                    }
                }
            }
            panic!("timers never settle");
        }

        fn take_got(&mut self) -> Vec<(usize, NodeId, Vec<u8>)> {
            std::mem::take(&mut self.got)
        }

        fn stats(&self, i: usize) -> &SessionStats {
            self.nodes[i].s.stats()
        }

        /// Establish sessions between `a` and `b` both ways.
        fn connect(&mut self, a: usize, b: usize) {
            self.send(a, b, b"ping").unwrap();
            self.pump();
            self.send(b, a, b"pong").unwrap();
            self.pump();
            let (ida, idb) = (self.id(a), self.id(b));
            assert_eq!(
                self.take_got(),
                vec![(b, ida, b"ping".to_vec()), (a, idb, b"pong".to_vec())]
            );
        }
    }

    fn is_drop(r: Result<(), RecvError>) -> bool {
        matches!(
            r,
            Err(RecvError::Decrypt | RecvError::Malformed | RecvError::UnknownIndex)
        )
    }

    #[test]
    fn handshake_and_data_both_ways() {
        let mut net = Net::new(2);
        let (a, b) = (net.id(0), net.id(1));
        net.send(0, 1, b"hello b").unwrap();
        // The packet waits; an Init goes out.
        assert_eq!(net.wire.len(), 1);
        assert_eq!(net.wire[0].2.len(), INIT_LEN);
        assert_eq!(net.stats(0).queued, 1);
        net.pump();
        assert_eq!(net.take_got(), vec![(1, a, b"hello b".to_vec())]);
        // B's session is confirmed: its data goes straight out.
        net.send(1, 0, b"hello a").unwrap();
        assert_eq!(net.wire.len(), 1);
        assert_eq!(net.wire[0].2.len(), OVERHEAD + 7);
        net.pump();
        assert_eq!(net.take_got(), vec![(0, b, b"hello a".to_vec())]);
        for _ in 0..10 {
            net.send(0, 1, &[7; 1400]).unwrap();
            net.send(1, 0, &[]).unwrap();
        }
        net.pump();
        assert_eq!(net.take_got().len(), 10);
        assert!(net.errors.is_empty(), "{:?}", net.errors);

        let (sa, sb) = (net.stats(0).clone(), net.stats(1).clone());
        assert_eq!((sa.handshakes_initiated, sa.handshakes_completed), (1, 1));
        assert_eq!((sb.handshakes_answered, sb.sessions_confirmed), (1, 1));
        assert_eq!(sb.handshakes_initiated, 0);
        assert_eq!(sa.tx_packets, 11);
        assert_eq!(sa.tx_bytes, 7 + 14_000);
        assert_eq!((sb.rx_packets, sb.rx_bytes), (11, 14_007));
        assert_eq!((sb.keepalives_tx, sa.keepalives_rx), (10, 10));

        let info = net.nodes[0].s.sessions();
        assert_eq!(info.len(), 1);
        let i = &info[0];
        assert_eq!(i.peer, b);
        assert_eq!(i.established_ms, Some(net.now));
        assert!(i.initiator && i.receiving == 0 && !i.handshake_pending);
        assert_eq!((i.tx_packets, i.rx_packets, i.queued), (11, 11, 0));
        assert_eq!((i.tx_bytes, i.rx_bytes), (14_007, 7));
        assert_eq!((i.last_rx_ms, i.last_tx_ms), (Some(net.now), Some(net.now)));
        let j = &net.nodes[1].s.sessions()[0];
        assert_eq!(j.peer, a);
        assert!(!j.initiator);
        // Established sessions wait only for their expiry.
        assert_eq!(
            net.nodes[0].s.poll_timeout(),
            Some(net.now + REJECT_AFTER_MS)
        );
    }

    #[test]
    fn packets_queued_before_the_handshake_arrive_in_order_within_the_cap() {
        let mut net = Net::new(2);
        let extra = 3;
        for n in 0..QUEUE_PER_PEER + extra {
            net.send(0, 1, &[n as u8; 100]).unwrap();
        }
        assert_eq!(net.nodes[0].s.sessions()[0].queued, QUEUE_PER_PEER);
        assert_eq!(net.stats(0).queue_overflow, extra as u64);
        assert_eq!(net.nodes[0].s.queued_bytes, 100 * QUEUE_PER_PEER);
        // One Init, not one per packet.
        assert_eq!(net.wire.len(), 1);
        net.pump();
        let got: Vec<u8> = net.take_got().iter().map(|(_, _, p)| p[0]).collect();
        let want: Vec<u8> = (extra..QUEUE_PER_PEER + extra).map(|n| n as u8).collect();
        assert_eq!(got, want);
        assert_eq!(net.nodes[0].s.queued_bytes, 0);
        // The queue went out: no keepalive was needed.
        assert_eq!(net.stats(0).keepalives_tx, 0);
    }

    #[test]
    fn the_responder_never_sends_on_an_unconfirmed_session() {
        let mut net = Net::new(2);
        net.send(0, 1, b"x").unwrap();
        let (f, t, init) = net.wire.pop_front().unwrap();
        net.deliver(f, t, &init).unwrap();
        // B answered; the Response has not reached A yet.
        assert_eq!(net.wire.len(), 1);
        assert_eq!(net.wire[0].2.len(), RESPONSE_LEN);
        net.send(1, 0, b"y").unwrap();
        // B does not use the answered session: it starts its own handshake.
        assert_eq!(net.wire.len(), 2);
        assert_eq!(net.wire[1].2.len(), INIT_LEN);
        assert_eq!(net.stats(1).tx_packets, 0);
        net.pump();
        let mut got = net.take_got();
        got.sort();
        let mut want = vec![(1, net.id(0), b"x".to_vec()), (0, net.id(1), b"y".to_vec())];
        want.sort();
        assert_eq!(got, want);
        assert!(net.errors.is_empty(), "{:?}", net.errors);
        // Both handshakes completed; traffic flows both ways afterwards.
        for n in 0..5u8 {
            net.send(0, 1, &[n]).unwrap();
            net.send(1, 0, &[n]).unwrap();
        }
        net.pump();
        assert_eq!(net.take_got().len(), 10);
        assert!(net.errors.is_empty(), "{:?}", net.errors);
    }

    #[test]
    fn replayed_data_is_refused() {
        let mut net = Net::new(2);
        net.connect(0, 1);
        net.send(0, 1, b"once").unwrap();
        let (f, t, m) = net.wire.pop_front().unwrap();
        net.deliver(f, t, &m).unwrap();
        assert_eq!(net.deliver(f, t, &m), Err(RecvError::Replay));
        assert_eq!(net.deliver(f, t, &m), Err(RecvError::Replay));
        assert_eq!(net.take_got().len(), 1);
        assert_eq!(net.stats(1).rx_replay, 2);
    }

    #[test]
    fn reordering_within_the_window_is_accepted_and_older_is_not() {
        let mut net = Net::new(2);
        net.connect(0, 1);
        for n in 0..100u8 {
            net.send(0, 1, &[n]).unwrap();
        }
        let msgs: Vec<_> = net.wire.drain(..).collect();
        // Odd ones first, then the even ones backwards.
        let order: Vec<usize> = (0..100)
            .filter(|n| n % 2 == 1)
            .chain((0..100).rev().filter(|n| n % 2 == 0))
            .collect();
        for &n in &order {
            let (f, t, m) = &msgs[n];
            net.deliver(*f, *t, m).unwrap();
        }
        let got: Vec<usize> = net
            .take_got()
            .iter()
            .map(|(_, _, p)| p[0] as usize)
            .collect();
        assert_eq!(got, order);

        // A message further back than the window is refused.
        let w = ReplayWindow::<{ crate::replay::DEFAULT_WORDS }>::WINDOW as usize;
        for _ in 0..w + 1 {
            net.send(0, 1, b"z").unwrap();
        }
        let msgs: Vec<_> = net.wire.drain(..).collect();
        let (f, t, last) = msgs.last().unwrap();
        net.deliver(*f, *t, last).unwrap();
        let (f, t, first) = &msgs[0];
        assert_eq!(net.deliver(*f, *t, first), Err(RecvError::Replay));
        let (f, t, second) = &msgs[1];
        net.deliver(*f, *t, second).unwrap();
    }

    #[test]
    fn a_tampered_byte_anywhere_is_dropped() {
        let mut net = Net::new(2);
        net.send(0, 1, b"secret").unwrap();
        let (f, t, init) = net.wire.pop_front().unwrap();
        for i in 0..init.len() {
            for bit in [0x01, 0x80] {
                let mut m = init.clone();
                m[i] ^= bit;
                assert!(is_drop(net.deliver(f, t, &m)), "init byte {i}");
                assert!(net.wire.is_empty(), "tampered init byte {i} answered");
            }
        }
        assert_eq!(net.stats(1).handshakes_answered, 0);
        net.deliver(f, t, &init).unwrap();
        let (f, t, resp) = net.wire.pop_front().unwrap();
        for i in 0..resp.len() {
            for bit in [0x01, 0x80] {
                let mut m = resp.clone();
                m[i] ^= bit;
                assert!(is_drop(net.deliver(f, t, &m)), "response byte {i}");
                assert!(net.wire.is_empty());
            }
        }
        // The genuine Response still completes the handshake.
        net.deliver(f, t, &resp).unwrap();
        let (f, t, data) = net.wire.pop_front().unwrap();
        for i in 0..data.len() {
            for bit in [0x01, 0x80] {
                let mut m = data.clone();
                m[i] ^= bit;
                assert!(is_drop(net.deliver(f, t, &m)), "data byte {i}");
            }
        }
        assert!(net.take_got().is_empty());
        net.deliver(f, t, &data).unwrap();
        assert_eq!(net.take_got(), vec![(1, net.id(0), b"secret".to_vec())]);
        let s = net.stats(1).clone();
        assert!(s.rx_decrypt > 0 && s.rx_malformed > 0 && s.rx_unknown_index > 0);
        assert_eq!(
            s.rx_decrypt + s.rx_malformed + s.rx_unknown_index,
            2 * (INIT_LEN + data.len()) as u64
        );
    }

    #[test]
    fn truncated_messages_are_dropped_at_every_length() {
        let mut net = Net::new(2);
        net.send(0, 1, b"payload").unwrap();
        let (f, t, init) = net.wire.pop_front().unwrap();
        for n in 0..init.len() {
            assert!(is_drop(net.deliver(f, t, &init[..n])), "init cut at {n}");
        }
        let mut long = init.clone();
        long.push(0);
        assert_eq!(net.deliver(f, t, &long), Err(RecvError::Malformed));
        net.deliver(f, t, &init).unwrap();
        let (f, t, resp) = net.wire.pop_front().unwrap();
        for n in 0..resp.len() {
            assert!(
                is_drop(net.deliver(f, t, &resp[..n])),
                "response cut at {n}"
            );
        }
        net.deliver(f, t, &resp).unwrap();
        let (f, t, data) = net.wire.pop_front().unwrap();
        for n in 0..data.len() {
            assert!(is_drop(net.deliver(f, t, &data[..n])), "data cut at {n}");
        }
        let mut long = data.clone();
        long.push(0);
        assert_eq!(net.deliver(f, t, &long), Err(RecvError::Decrypt));
        assert!(net.wire.is_empty() && net.got.is_empty());
        net.deliver(f, t, &data).unwrap();
        assert_eq!(net.take_got().len(), 1);
        // Oversized and foreign messages too.
        let mut huge = data.clone();
        huge.resize(OVERHEAD + MAX_PACKET + 1, 0);
        assert_eq!(net.deliver(f, t, &huge), Err(RecvError::Malformed));
        for ty in [0u8, 4, 0xff] {
            assert_eq!(net.deliver(f, t, &[ty; 64]), Err(RecvError::Malformed));
        }
    }

    #[test]
    fn rekeying_with_traffic_flowing_loses_nothing() {
        let mut net = Net::new(2);
        let ticks = 1_000u32; // 500 s, half a second apart
        for tick in 0..ticks {
            // Messages sent last tick arrive now.
            let inflight: Vec<_> = net.wire.drain(..).collect();
            for (f, t, m) in inflight {
                let _ = net.deliver(f, t, &m);
            }
            net.send(0, 1, format!("a{tick}").as_bytes()).unwrap();
            net.send(1, 0, format!("b{tick}").as_bytes()).unwrap();
            net.advance(500, false);
        }
        for _ in 0..4 {
            let inflight: Vec<_> = net.wire.drain(..).collect();
            for (f, t, m) in inflight {
                let _ = net.deliver(f, t, &m);
            }
        }
        assert!(net.errors.is_empty(), "{:?}", net.errors);
        let got = net.take_got();
        let at = |i: usize| -> Vec<String> {
            got.iter()
                .filter(|g| g.0 == i)
                .map(|g| String::from_utf8(g.2.clone()).unwrap())
                .collect()
        };
        assert_eq!(
            at(1),
            (0..ticks).map(|n| format!("a{n}")).collect::<Vec<_>>()
        );
        assert_eq!(
            at(0),
            (0..ticks).map(|n| format!("b{n}")).collect::<Vec<_>>()
        );
        let rekeys = net.stats(0).rekeys + net.stats(1).rekeys;
        assert!(rekeys >= 3, "{rekeys} rekeys in 500 s");
        for i in 0..2 {
            let s = net.stats(i);
            assert_eq!(
                s.queue_overflow + s.queue_dropped_gave_up + s.outputs_dropped,
                0
            );
            // No session ever ran out under the traffic.
            let info = &net.nodes[i].s.sessions()[0];
            assert!(net.now - info.established_ms.unwrap() < REJECT_AFTER_MS);
        }
    }

    /// Both sides start a handshake in the same tick, again and again,
    /// with traffic both ways and half a second or a second on the wire
    /// (so messages overtake each other).
    #[test]
    fn crossed_handshakes_converge_and_lose_nothing() {
        let mut net = Net::new(2);
        net.now = 1_000_000;
        let (a, b) = (net.id(0), net.id(1));
        let mut n = 0u32;
        let mut late: Vec<(usize, usize, Vec<u8>)> = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut tick = |net: &mut Net, late: &mut Vec<(usize, usize, Vec<u8>)>| {
            // What was held back arrives after what was sent since.
            let held = std::mem::take(late);
            let mut arriving = Vec::new();
            for m in net.wire.drain(..) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x % 3 == 2 {
                    late.push(m);
                } else {
                    arriving.push(m);
                }
            }
            for (f, t, m) in arriving.into_iter().chain(held) {
                let _ = net.deliver(f, t, &m);
            }
        };
        for round in 0..6 {
            if round > 0 {
                // Both current sessions old enough for either side to
                // rekey on its next send.
                for (i, peer) in [(0, b), (1, a)] {
                    let p = net.nodes[i].s.peers.get_mut(&peer).unwrap();
                    p.current.as_mut().unwrap().created_ms = net.now - RESPONDER_REKEY_AFTER_MS;
                }
            }
            for _ in 0..20 {
                tick(&mut net, &mut late);
                net.send(0, 1, &n.to_be_bytes()).unwrap();
                net.send(1, 0, &n.to_be_bytes()).unwrap();
                n += 1;
                net.advance(500, false);
            }
        }
        for _ in 0..8 {
            tick(&mut net, &mut late);
        }
        assert!(late.is_empty() && net.wire.is_empty());
        assert!(net.errors.is_empty(), "{:?}", net.errors);
        let got = net.take_got();
        for (i, from) in [(0, b), (1, a)] {
            let mut seq: Vec<u32> = got
                .iter()
                .filter(|g| g.0 == i)
                .map(|g| {
                    assert_eq!(g.1, from);
                    u32::from_be_bytes(g.2[..].try_into().unwrap())
                })
                .collect();
            seq.sort_unstable();
            assert_eq!(seq, (0..n).collect::<Vec<_>>());
        }
        // Every round both sides initiated; both now send on one pair, the
        // one the lower node ID initiated.
        for i in 0..2 {
            assert_eq!(net.stats(i).handshakes_initiated, 6);
        }
        let ca = net.nodes[0].s.peers[&b].current.as_ref().unwrap();
        let cb = net.nodes[1].s.peers[&a].current.as_ref().unwrap();
        assert_eq!(ca.remote_index, cb.local_index);
        assert_eq!(cb.remote_index, ca.local_index);
        assert_eq!(ca.initiator, a < b);
        assert!(net.nodes[0].s.peers[&b].receiving.len() <= MAX_RECEIVING);
    }

    #[test]
    fn the_message_count_limits_rekey_and_then_refuse() {
        let mut net = Net::new(2);
        net.connect(0, 1);
        let b = net.id(1);
        // (The responder answers one Init per peer and interval.)
        net.advance(INIT_ANSWER_INTERVAL_MS, true);
        let set_counter = |net: &mut Net, c: u64| {
            let p = net.nodes[0].s.peers.get_mut(&b).unwrap();
            p.current.as_mut().unwrap().send_counter = c;
        };
        set_counter(&mut net, REKEY_AFTER_MESSAGES);
        net.send(0, 1, b"one").unwrap();
        // Sent on the old session, with a new handshake behind it.
        assert_eq!(net.wire.len(), 2);
        assert_eq!(net.wire[1].2.len(), INIT_LEN);
        assert_eq!(net.stats(0).rekeys, 1);
        net.pump();
        assert_eq!(net.take_got(), vec![(1, net.id(0), b"one".to_vec())]);
        let info = &net.nodes[0].s.sessions()[0];
        assert!(info.receiving == 1 && !info.handshake_pending);
        // A session at the hard limit is not used: the packet waits.
        net.advance(INIT_ANSWER_INTERVAL_MS, true);
        set_counter(&mut net, REJECT_AFTER_MESSAGES);
        net.send(0, 1, b"two").unwrap();
        assert_eq!(net.wire.len(), 1);
        assert_eq!(net.wire[0].2.len(), INIT_LEN);
        net.pump();
        assert_eq!(net.take_got(), vec![(1, net.id(0), b"two".to_vec())]);
        // The last counter allowed is accepted by the receiver (and, past
        // the soft limit, the sender rekeys once more).
        net.advance(INIT_ANSWER_INTERVAL_MS, true);
        set_counter(&mut net, REJECT_AFTER_MESSAGES - 1);
        net.send(0, 1, b"three").unwrap();
        net.pump();
        assert_eq!(net.take_got().len(), 1);
        assert_eq!(net.stats(0).rekeys, 2);
        assert_eq!(net.stats(0).handshakes_completed, 4);
        assert!(net.errors.is_empty(), "{:?}", net.errors);
        // A counter at the hard limit is refused by the receiver too.
        let p = net.nodes[0].s.peers.get_mut(&b).unwrap();
        let s = p.current.as_mut().unwrap();
        s.send_counter = REJECT_AFTER_MESSAGES;
        let over = s.seal(b"over");
        assert_eq!(net.deliver(0, 1, &over), Err(RecvError::Expired));
        assert_eq!(net.stats(1).rx_expired, 1);
    }

    #[test]
    fn a_restarted_peer_recovers_in_one_round_trip_via_the_hint() {
        let mut net = Net::new(2);
        net.connect(0, 1);
        // B restarts with the same keys and no sessions.
        let keys = net.nodes[1].keys.clone();
        net.nodes[1].s = Sessions::new(net.id(1));
        net.nodes[1].s.set_local_keys(keys);
        net.send(0, 1, b"lost").unwrap();
        let (f, t, m) = net.wire.pop_front().unwrap();
        assert_eq!(net.deliver(f, t, &m), Err(RecvError::UnknownIndex));
        assert_eq!(net.stats(1).hint_handshakes, 1);
        // Init from B, Response from A, keepalive from B: one round trip.
        let mut kinds = Vec::new();
        while let Some((f, t, m)) = net.wire.pop_front() {
            kinds.push((f, m.len()));
            net.deliver(f, t, &m).unwrap();
        }
        assert_eq!(kinds, vec![(1, INIT_LEN), (0, RESPONSE_LEN), (1, OVERHEAD)]);
        net.send(0, 1, b"found").unwrap();
        net.send(1, 0, b"back").unwrap();
        net.pump();
        assert_eq!(
            net.take_got(),
            vec![
                (1, net.id(0), b"found".to_vec()),
                (0, net.id(1), b"back".to_vec())
            ]
        );
        // More garbage with the same hint starts nothing new.
        let before = net.stats(1).handshakes_initiated;
        assert_eq!(net.deliver(0, 1, &m), Err(RecvError::UnknownIndex));
        assert_eq!(net.stats(1).handshakes_initiated, before);
        // Without a hint, or with one the directory does not know, nothing.
        net.advance(HINT_INTERVAL_MS, true);
        assert_eq!(
            net.deliver_hinted(None, 1, &m),
            Err(RecvError::UnknownIndex)
        );
        assert_eq!(
            net.deliver_hinted(Some([9; 32]), 1, &m),
            Err(RecvError::UnknownIndex)
        );
        assert!(net.wire.is_empty());
    }

    #[test]
    fn an_initiator_unknown_to_the_directory_is_refused() {
        let mut net = Net::new(2);
        net.send(0, 1, b"who am i").unwrap();
        let a = net.id(0);
        net.dir.remove(&a);
        let (f, t, init) = net.wire.pop_front().unwrap();
        assert_eq!(net.deliver(f, t, &init), Err(RecvError::UnknownPeer));
        assert!(net.wire.is_empty());
        assert_eq!(net.stats(1).rx_unknown_peer, 1);
        assert!(net.nodes[1].s.handshakes.is_empty());
        assert!(net.nodes[1].s.rate.is_empty());
    }

    #[test]
    fn an_initiator_static_key_not_listed_for_its_id_is_refused() {
        let mut net = Net::new(3);
        net.send(0, 1, b"x").unwrap();
        let (a, c) = (net.id(0), net.id(2));
        // The directory lists another key (C's) for A.
        let other = net.dir[&c].onion.clone();
        net.dir.get_mut(&a).unwrap().onion = other;
        let (f, t, init) = net.wire.pop_front().unwrap();
        assert_eq!(net.deliver(f, t, &init), Err(RecvError::KeyNotListed));
        assert!(net.wire.is_empty());
        // Listed as the previous key is fine.
        let mine = net.nodes[0].keys[0].public();
        net.dir.get_mut(&a).unwrap().onion.push(mine);
        net.deliver(f, t, &init).unwrap();
        assert_eq!(net.wire.len(), 1);
    }

    #[test]
    fn a_replayed_init_does_not_break_the_live_session() {
        let mut net = Net::new(2);
        net.send(0, 1, b"first").unwrap();
        let (f, t, init) = net.wire.front().cloned().unwrap();
        net.pump();
        assert_eq!(net.take_got().len(), 1);
        // At once: rate-limited.
        assert_eq!(net.deliver(f, t, &init), Err(RecvError::RateLimited));
        assert!(net.wire.is_empty());
        // Later: answered, but the Response leads nowhere and the session
        // in use is untouched.
        net.advance(INIT_ANSWER_INTERVAL_MS, true);
        net.deliver(f, t, &init).unwrap();
        assert_eq!(net.stats(1).handshakes_answered, 2);
        net.pump();
        assert_eq!(net.stats(0).rx_unknown_index, 1);
        assert_eq!(net.stats(0).hint_handshakes, 0);
        for n in 0..3u8 {
            net.send(1, 0, &[n]).unwrap();
            net.send(0, 1, &[n]).unwrap();
        }
        net.pump();
        assert_eq!(net.take_got().len(), 6);
        assert_eq!(net.stats(1).sessions_confirmed, 1);
        assert_eq!(net.stats(0).handshakes_initiated, 1);
        // A flood of replays is answered at most once per interval.
        for _ in 0..100 {
            let _ = net.deliver(f, t, &init);
        }
        assert!(net.stats(1).handshakes_answered <= 3);
        assert!(net.stats(1).rx_rate_limited >= 99);
        net.pump();
        net.send(1, 0, b"still").unwrap();
        net.pump();
        assert_eq!(net.take_got(), vec![(0, net.id(1), b"still".to_vec())]);
    }

    #[test]
    fn a_rotated_responder_key_in_its_grace_period_still_answers() {
        let mut net = Net::new(3);
        let b = net.id(1);
        let old = net.nodes[1].keys[0].clone();
        let new = OnionKey::generate(&net.nodes[1].identity, &mut Counter(555), 0, 86_400);
        net.nodes[1].keys = vec![new.clone(), old.clone()];
        net.nodes[1]
            .s
            .set_local_keys(vec![new.clone(), old.clone()]);
        // A's directory is stale: only the old key.
        net.send(0, 1, b"to the old key").unwrap();
        net.pump();
        assert_eq!(
            net.take_got(),
            vec![(1, net.id(0), b"to the old key".to_vec())]
        );
        // C knows the new one.
        net.dir.get_mut(&b).unwrap().onion = vec![new.public(), old.public()];
        net.send(2, 1, b"to the new key").unwrap();
        net.pump();
        assert_eq!(
            net.take_got(),
            vec![(1, net.id(2), b"to the new key".to_vec())]
        );
        // After the grace period the old key is gone: a stale Init fails.
        net.nodes[1].keys = vec![new.clone()];
        net.nodes[1].s.set_local_keys(vec![new]);
        let mut stale = Sessions::new(net.id(0));
        stale.set_local_keys(net.nodes[0].keys.clone());
        let old_keys = PeerKeys {
            id: b,
            onion: vec![old.public()],
        };
        stale.send(net.now, &mut net.rng, &old_keys, b"x").unwrap();
        let Some(Output::Transmit { bytes, .. }) = stale.poll_output() else {
            panic!("no Init");
        };
        assert_eq!(net.deliver(0, 1, &bytes), Err(RecvError::Decrypt));
        // Sessions set up before the rotation carry on.
        net.send(0, 1, b"still here").unwrap();
        net.pump();
        assert_eq!(net.take_got().len(), 1);
    }

    #[test]
    fn three_nodes_deliver_the_authenticated_sender_never_the_hint() {
        let mut net = Net::new(3);
        net.connect(0, 1);
        net.connect(1, 2);
        net.connect(2, 0);
        let ids = [net.id(0), net.id(1), net.id(2)];
        // B's message to A, with a hint naming C.
        net.send(1, 0, b"from b").unwrap();
        let (_, t, m) = net.wire.pop_front().unwrap();
        net.deliver_hinted(Some(ids[2]), t, &m).unwrap();
        assert_eq!(net.take_got(), vec![(0, ids[1], b"from b".to_vec())]);
        // A's message to B means nothing to C.
        net.send(0, 1, b"for b only").unwrap();
        let (f, _, m) = net.wire.pop_front().unwrap();
        assert_eq!(net.deliver(f, 2, &m), Err(RecvError::UnknownIndex));
        // (C's session with A was just receiving, so it starts nothing.)
        assert!(net.wire.is_empty());
        assert!(net.take_got().is_empty());
        net.deliver(f, 1, &m).unwrap();
        assert_eq!(net.take_got(), vec![(1, ids[0], b"for b only".to_vec())]);
        for i in 0..3 {
            assert_eq!(net.nodes[i].s.sessions().len(), 2);
        }
    }

    #[test]
    fn a_handshake_is_retried_then_given_up() {
        let mut net = Net::new(2);
        net.send(0, 1, b"into the void").unwrap();
        let mut inits = 0;
        for _ in 0..200 {
            inits += net.wire.drain(..).filter(|m| m.2.len() == INIT_LEN).count();
            net.advance(1_000, false);
        }
        let s = net.stats(0);
        assert_eq!(inits as u64, 1 + REKEY_ATTEMPT_MS / REKEY_TIMEOUT_MS - 1);
        assert_eq!(s.handshake_retries, REKEY_ATTEMPT_MS / REKEY_TIMEOUT_MS - 1);
        assert_eq!((s.handshakes_gave_up, s.queue_dropped_gave_up), (1, 1));
        assert!(net.nodes[0].s.peers.is_empty() && net.nodes[0].s.handshakes.is_empty());
        assert_eq!(net.nodes[0].s.queued_bytes, 0);
        assert_eq!(net.nodes[0].s.poll_timeout(), None);
        // The next packet starts over, and gets through.
        net.send(0, 1, b"again").unwrap();
        net.pump();
        assert_eq!(net.take_got().len(), 1);
    }

    #[test]
    fn sessions_expire_and_are_set_up_again() {
        let mut net = Net::new(2);
        net.connect(0, 1);
        net.send(0, 1, b"late").unwrap();
        let (f, t, late) = net.wire.pop_front().unwrap();
        net.advance(REJECT_AFTER_MS, true);
        for i in 0..2 {
            assert!(net.nodes[i].s.peers.is_empty());
            assert!(net.nodes[i].s.by_index.is_empty());
            assert_eq!(net.nodes[i].s.poll_timeout(), None);
            assert!(net.stats(i).sessions_expired >= 1);
        }
        // A message of the dead session: unknown now (and B starts a
        // handshake to A on the hint, which A answers).
        assert_eq!(net.deliver(f, t, &late), Err(RecvError::UnknownIndex));
        net.pump();
        net.send(0, 1, b"new").unwrap();
        net.pump();
        assert_eq!(net.take_got(), vec![(1, net.id(0), b"new".to_vec())]);
    }

    #[test]
    fn an_expired_session_is_not_used_even_before_its_timer_runs() {
        let mut net = Net::new(2);
        net.connect(0, 1);
        net.send(0, 1, b"old").unwrap();
        let (f, t, old) = net.wire.pop_front().unwrap();
        // Skip the timers.
        net.now += REJECT_AFTER_MS;
        assert_eq!(net.deliver(f, t, &old), Err(RecvError::Expired));
        net.send(0, 1, b"fresh").unwrap();
        assert_eq!(net.wire[0].2.len(), INIT_LEN);
        net.pump();
        assert_eq!(net.take_got(), vec![(1, net.id(0), b"fresh".to_vec())]);
    }

    #[test]
    fn send_refuses_what_it_cannot_do() {
        let mut net = Net::new(2);
        let b = net.dir[&net.id(1)].clone();
        let s = &mut net.nodes[0].s;
        let rng = &mut net.rng;
        assert_eq!(
            s.send(0, rng, &b, &vec![0; MAX_PACKET + 1]),
            Err(SendError::TooBig(MAX_PACKET + 1))
        );
        let me = PeerKeys {
            id: s.local_id(),
            onion: b.onion.clone(),
        };
        assert_eq!(s.send(0, rng, &me, b"x"), Err(SendError::ToSelf));
        let nokeys = PeerKeys {
            id: b.id,
            onion: vec![],
        };
        assert_eq!(s.send(0, rng, &nokeys, b"x"), Err(SendError::UnknownPeer));
        let zero = PeerKeys {
            id: b.id,
            onion: vec![[0; 32]],
        };
        assert_eq!(s.send(0, rng, &zero, b"x"), Err(SendError::BadPeerKey));
        assert!(s.peers.is_empty() && s.handshakes.is_empty());
        assert!(s.poll_output().is_none());
        let st = s.stats();
        assert_eq!(
            (
                st.send_too_big,
                st.send_to_self,
                st.send_unknown_peer,
                st.send_bad_peer_key
            ),
            (1, 1, 1, 1)
        );
        s.send(0, rng, &b, &vec![0; MAX_PACKET]).unwrap();
        // A node without onion keys can neither start nor answer.
        let mut bare = Sessions::new([3; 32]);
        assert_eq!(bare.send(0, rng, &b, b"x"), Err(SendError::NoLocalKeys));
        assert_eq!(bare.stats().send_no_local_keys, 1);
        let Some(Output::Transmit { bytes, .. }) = s.poll_output() else {
            panic!("no Init");
        };
        let lookup = |_: &NodeId| None;
        assert_eq!(
            bare.handle(0, rng, &bytes, None, &lookup),
            Err(RecvError::NoLocalKeys)
        );
    }

    #[test]
    fn caps_hold_under_a_flood() {
        // Peers: sending to more distinct nodes than fit evicts the least
        // recently used ones.
        let mut net = Net::new(1);
        let extra = 40;
        let mut rng = Counter(4242);
        for n in 0..MAX_PEERS + extra {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&(n as u64).to_be_bytes());
            let mut sk = [0u8; 32];
            rng.fill_bytes(&mut sk);
            let pk = PublicKey::from(&StaticSecret::from(sk)).to_bytes();
            let keys = PeerKeys {
                id,
                onion: vec![pk],
            };
            let s = &mut net.nodes[0].s;
            s.send(net.now, &mut net.rng, &keys, &[1; 10]).unwrap();
            while s.poll_output().is_some() {}
            net.now += 1;
        }
        let s = &net.nodes[0].s;
        assert_eq!(s.peers.len(), MAX_PEERS);
        assert_eq!(s.stats().peers_evicted, extra as u64);
        assert_eq!(s.stats().queue_dropped_evicted, extra as u64);
        assert!(s.handshakes.len() <= MAX_HANDSHAKES);
        assert_eq!(s.queued_bytes, 10 * MAX_PEERS);
        // The oldest went first.
        let mut first = [0u8; 32];
        first[..8].copy_from_slice(&0u64.to_be_bytes());
        assert!(!s.peers.contains_key(&first));

        // Queued bytes: big packets to many unanswering peers.
        let mut net = Net::new(1);
        let mut full = 0;
        for n in 0..40u8 {
            let keys = PeerKeys {
                id: [n + 1; 32],
                onion: vec![net.nodes[0].keys[0].public()],
            };
            let s = &mut net.nodes[0].s;
            for _ in 0..3 {
                if s.send(net.now, &mut net.rng, &keys, &[0; 60_000]) == Err(SendError::QueueFull) {
                    full += 1;
                }
            }
            while s.poll_output().is_some() {}
            assert!(s.queued_bytes <= MAX_QUEUED_BYTES);
        }
        let s = &net.nodes[0].s;
        let queued: usize = s.peers.values().flat_map(|p| &p.queue).map(Vec::len).sum();
        assert_eq!(queued, s.queued_bytes);
        assert!(full > 0);
        // Every packet was queued or refused; refusals count as overflow,
        // as do the older packets dropped to make room.
        assert_eq!(s.stats().queued + full, 40 * 3);
        let in_queues: usize = s.peers.values().map(|p| p.queue.len()).sum();
        assert_eq!(
            s.stats().queued - (s.stats().queue_overflow - full),
            in_queues as u64
        );

        // Handshakes and rate entries: garbage hinting at many known nodes.
        let mut net = Net::new(2);
        let target_key = net.dir[&net.id(0)].onion.clone();
        let lookup = move |id: &NodeId| {
            Some(PeerKeys {
                id: *id,
                onion: target_key.clone(),
            })
        };
        let junk = {
            let mut m = vec![0u8; OVERHEAD + 10];
            m[0] = TYPE_DATA;
            m
        };
        for n in 0..1_000u32 {
            let mut hint = [0u8; 32];
            hint[..4].copy_from_slice(&(n % 500).to_be_bytes());
            let s = &mut net.nodes[1].s;
            assert_eq!(
                s.handle(net.now, &mut net.rng, &junk, Some(hint), &lookup),
                Err(RecvError::UnknownIndex)
            );
            while s.poll_output().is_some() {}
            assert!(s.handshakes.len() <= MAX_HANDSHAKES);
            assert!(s.rate.len() <= MAX_RATE_ENTRIES);
            assert!(s.peers.is_empty());
        }
        let st = net.stats(1).clone();
        // Once per hinted node within the interval, for no more nodes than
        // the rate table holds.
        assert_eq!(st.hint_handshakes, MAX_RATE_ENTRIES as u64);
        // (Hints at nodes with a handshake of ours in flight are not even
        // looked at.)
        assert_eq!(
            st.hints_rate_limited,
            (1_000 - MAX_RATE_ENTRIES - MAX_HANDSHAKES) as u64
        );
        assert_eq!(
            st.handshakes_evicted,
            (MAX_RATE_ENTRIES - MAX_HANDSHAKES) as u64
        );
        // Later, hints are acted on again.
        net.now += HINT_INTERVAL_MS;
        let s = &mut net.nodes[1].s;
        let _ = s.handle(net.now, &mut net.rng, &junk, Some([7; 32]), &lookup);
        assert_eq!(s.stats().hint_handshakes, st.hint_handshakes + 1);

        // Outputs meshd does not poll: bounded, the oldest dropped.
        let mut net = Net::new(2);
        net.connect(0, 1);
        let b = net.dir[&net.id(1)].clone();
        for _ in 0..3_000 {
            net.nodes[0]
                .s
                .send(net.now, &mut net.rng, &b, &[5; 1_000])
                .unwrap();
        }
        let s = &net.nodes[0].s;
        assert!(s.outbox.bytes <= MAX_OUTPUT_BYTES);
        assert!(s.stats().outputs_dropped > 0);
        let kept = s.outbox.queue.len() as u64;
        assert_eq!(kept + s.stats().outputs_dropped, 3_000);
    }

    #[test]
    fn the_heap_bound_fits_a_small_router() {
        let b = Sessions::heap_bound();
        assert!(
            b > MAX_QUEUED_BYTES + MAX_OUTPUT_BYTES + MAX_PEERS * 1_000,
            "{b}"
        );
        assert!(b < 16 << 20, "{b}");
    }

    /// The first Init of a fixed node, taken apart at its documented
    /// offsets and checked with a second derivation written from the
    /// module docs (not with the functions above).
    #[test]
    fn init_vector() {
        let a = node(1);
        let b = node(2);
        let mut s = Sessions::new(a.id);
        s.set_local_keys(a.keys.clone());
        let seed = 0x5eed;
        s.send(0, &mut Counter(seed), &keys_of(&b), b"x").unwrap();
        let Some(Output::Transmit { to, bytes: m }) = s.poll_output() else {
            panic!("no Init");
        };
        assert_eq!(to, b.id);
        assert_eq!(m.len(), 136);
        assert_eq!(m[0], 1);
        assert_eq!(&m[1..4], &[0, 0, 0]);
        // The RNG gives the sender index, then the ephemeral secret.
        let mut r = Counter(seed);
        let index = r.next_u32();
        let mut e = [0u8; 32];
        r.fill_bytes(&mut e);
        let e_pub = PublicKey::from(&StaticSecret::from(e)).to_bytes();
        assert_eq!(&m[4..8], &index.to_be_bytes());
        assert_eq!(&m[8..40], &e_pub);

        let sha = |parts: &[&[u8]]| -> [u8; 32] {
            let mut d = Sha256::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().into()
        };
        let step = |ck: &[u8; 32], input: &[u8; 32]| -> ([u8; 32], [u8; 32]) {
            let hk = Hkdf::<Sha256>::new(Some(ck), input);
            let (mut c, mut k) = ([0u8; 32], [0u8; 32]);
            hk.expand(b"meshd e2e v1 chain", &mut c).unwrap();
            hk.expand(b"meshd e2e v1 key", &mut k).unwrap();
            (c, k)
        };
        let b_key = &b.keys[0];
        let a_pub = a.keys[0].public();
        let ck0 = sha(&[b"meshd e2e v1"]);
        let h = sha(&[&ck0, &b.id, &b_key.public()]);
        let h = sha(&[&h, &m[..40]]);
        let (ck1, k1) = step(&ck0, &b_key.agree(&e_pub));
        let plain = ChaCha20Poly1305::new(&k1.into())
            .decrypt(
                &[0u8; 12].into(),
                Payload {
                    msg: &m[40..120],
                    aad: &h,
                },
            )
            .expect("the responder's derivation opens the static field");
        assert_eq!(&plain[..32], &a.id);
        assert_eq!(&plain[32..], &a_pub);
        let h = sha(&[&h, &m[40..120]]);
        let (_, k2) = step(&ck1, &b_key.agree(&a_pub));
        let empty = ChaCha20Poly1305::new(&k2.into())
            .decrypt(
                &[0u8; 12].into(),
                Payload {
                    msg: &m[120..136],
                    aad: &h,
                },
            )
            .expect("the auth tag verifies");
        assert!(empty.is_empty());

        // The Response and the first data message, at their offsets.
        let mut bs = Sessions::new(b.id);
        bs.set_local_keys(b.keys.clone());
        let dir = keys_of(&a);
        let lookup = move |id: &NodeId| (*id == dir.id).then(|| dir.clone());
        bs.handle(0, &mut Counter(7), &m, None, &lookup).unwrap();
        let Some(Output::Transmit { to, bytes: resp }) = bs.poll_output() else {
            panic!("no Response");
        };
        assert_eq!(to, a.id);
        assert_eq!(resp.len(), 60);
        assert_eq!(&resp[..4], &[2, 0, 0, 0]);
        let mut r = Counter(7);
        let b_index = r.next_u32();
        assert_eq!(&resp[4..8], &b_index.to_be_bytes());
        assert_eq!(&resp[8..12], &index.to_be_bytes());
        let mut e = [0u8; 32];
        r.fill_bytes(&mut e);
        assert_eq!(
            &resp[12..44],
            PublicKey::from(&StaticSecret::from(e)).as_bytes()
        );
        s.handle(0, &mut Counter(8), &resp, None, &lookup).unwrap();
        let Some(Output::Transmit { bytes: data, .. }) = s.poll_output() else {
            panic!("no data");
        };
        assert_eq!(data.len(), OVERHEAD + 1);
        assert_eq!(&data[..4], &[3, 0, 0, 0]);
        assert_eq!(&data[4..8], &b_index.to_be_bytes());
        assert_eq!(&data[8..16], &0u64.to_be_bytes());
        bs.handle(0, &mut Counter(9), &data, None, &lookup).unwrap();
        assert_eq!(
            bs.poll_output(),
            Some(Output::Deliver {
                from: a.id,
                packet: b"x".to_vec()
            })
        );
    }
}

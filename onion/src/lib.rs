//! onion: node identities, key-derived addresses, the verified directory,
//! end-to-end sessions, and onion circuits.
//!
//! ## Contract
//! Sans-IO and deterministic like the `batman` core: randomness comes in as
//! an `RngCore + CryptoRng`, time as Unix seconds or monotonic
//! milliseconds, files and packets as bytes; meshd does the I/O (key files
//! of mode 0600 written atomically, TVLVs in OGMs, meshd frames).
//!
//! ## Layers
//! - [`identity`]: the long-term ed25519 identity (the node ID is its
//!   public key), the x25519 onion key it certifies for a validity period,
//!   signatures, and the checksummed key file format.
//! - [`addr`]: self-certifying addresses derived from a node ID: the node
//!   address in fd00::/8, the LAN /64, the IPv4 /24 claim from a pool with a
//!   deterministic collision rule, and the `.mesh` name.
//! - [`announce`]: the signed announcement (node ID, originator, seqno,
//!   onion keys, IPv4 claim, name) and the TVLVs that carry it.
//! - [`directory`]: the bounded, verified directory of the other nodes;
//!   refusals counted; owner lookups by address, /24 and name.
//! - [`replay`]: the sliding anti-replay window.
//! - [`session`]: end-to-end sessions between two nodes (mesh0): 1-RTT
//!   handshake on the onion keys, ChaCha20-Poly1305, rekey.
//! - [`ntor`]: the one-way-authenticated, forward-secret handshake that
//!   extends an onion circuit to a relay and gives the hop its keys.
//! - [`cell`]: fixed-size onion cells: one cell's layers forward
//!   (Sphinx-style slots and fillers) and backward, no circuit state.
//! - [`pseudo`]: pseudonym addresses and in-place IPv6 source/destination
//!   rewriting with incremental checksum fixing, for circuit ends.
//! - [`circuit`]: the circuit state machine of a node as client, relay and
//!   destination (telescoping build, relay table with limits, pseudonym
//!   groups, rotation, dead-circuit detection), cells in and out as bytes;
//!   design in docs/onion.md.
#![forbid(unsafe_code)]

pub mod addr;
pub mod announce;
pub mod cell;
pub mod circuit;
pub mod directory;
pub mod identity;
pub mod ntor;
pub mod pseudo;
pub mod replay;
pub mod session;

pub use identity::{Identity, KeyFileError, NodeId, OnionKey};

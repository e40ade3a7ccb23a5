//! onion: node identities, key-derived addresses and (next) onion circuits.
//!
//! ## Contract
//! Sans-IO and deterministic like the `batman` core: randomness comes in as
//! an `RngCore + CryptoRng`, time as Unix seconds, files as bytes; meshd
//! does the I/O (key files of mode 0600 written atomically).
//!
//! ## Layers
//! - [`identity`]: the long-term ed25519 identity (the node ID is its
//!   public key), the x25519 onion key it certifies for a validity period,
//!   signatures, and the checksummed key file format.
//! - [`addr`]: self-certifying addresses derived from a node ID: the node
//!   address in fd00::/8, the LAN /64, the IPv4 /24 claim from a pool with a
//!   deterministic collision rule, and the `.mesh` name.
//! - [`ntor`]: the one-way-authenticated, forward-secret handshake that
//!   extends an onion circuit to a relay and gives the hop its keys.
//!
//! Still to come (issues "Identities and decentralized addresses" and
//! "Onion circuits over the mesh"): signed announcements and the verified
//! directory, the end-to-end encrypted mesh0 path, and circuits through N
//! relays with fixed-size cells carried as batman unicast payloads.
#![forbid(unsafe_code)]

pub mod addr;
pub mod announce;
pub mod directory;
pub mod identity;
pub mod ntor;
pub mod replay;
pub mod session;

pub use identity::{Identity, KeyFileError, NodeId, OnionKey};

//! onion: node identities, key-derived addresses and onion circuits.
//!
//! **Status: empty.** This crate holds no code yet. It reserves the place in
//! the workspace that the issues "Identities and decentralized addresses" and
//! "Onion circuits over the mesh" fill: a sans-IO core (`#![forbid(unsafe_code)]`)
//! that builds circuits through N relays with fixed-size cells carried as
//! batman unicast payloads (see docs/architecture in the shared docs and
//! `docs/design.md`). Nothing in meshd depends on it today.
#![forbid(unsafe_code)]

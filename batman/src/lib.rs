//! batman: a sans-IO BATMAN IV routing core that speaks Linux batman-adv's
//! compat-15 wire format.
//!
//! ## Contract
//! [`Node`] is a deterministic state machine. It does no I/O, reads no clock
//! and owns no thread: the driver (meshd's tokio loop, or hwtest's
//! simulator) passes time in as [`Instant`] and randomness as a seeded
//! `rand_core::RngCore`, feeds inputs with the `handle_*`, `set_carrier`,
//! `neighbour_lost` and `send_*` methods, and drains outputs with
//! [`Node::poll_transmit`] (Ethernet frames to send, ethertype 0x4305),
//! [`Node::poll_event`] (frames for the soft interface, ICMP answers,
//! TVLVs, route and neighbour changes) and [`Node::poll_timeout`] (when to
//! call [`Node::handle_timeout`] next). The same inputs give the same
//! outputs, so two or hundreds of cores can be wired together in a test.
//!
//! ## Layers
//! - [`wire`]: zero-copy views and `Repr`s for every compat-15 packet
//!   (OGM + TVLVs, BCAST, UNICAST, UNICAST_4ADDR, UNICAST_FRAG, ICMP with
//!   route record, UNICAST_TVLV) and the registered TVLV payloads. Every
//!   parse of bad bytes is a typed [`wire::Error`], never a panic.
//! - [`seqno`]: sliding seqno windows and reset protection.
//! - tables (`neigh`, `orig`, `table`): neighbour links with echo windows,
//!   originators with their candidate next hops, all in bounded slabs with
//!   documented eviction (see [`Node::memory_bound`]).
//! - protocol (`ogm`, `data`): BATMAN IV OGM processing with batman-adv's
//!   rules, a loss-aware route score and a feasibility condition that keeps
//!   next hops loop-free at every step; unicast forwarding with TTL,
//!   broadcast flooding with duplicate detection, batman ICMP.
//! - [`Node`] (`node`): the public API, timers, purges, route selection.
//!
//! ## Faster than batman-adv without changing the wire
//! [`Node::set_carrier`] and [`Node::neighbour_lost`] drop the affected
//! neighbours at once and move routes to feasible alternatives in the same
//! step; the loss-aware score notices a silent cut about one OGM interval
//! after it. See `docs/design.md`.
#![forbid(unsafe_code)]
pub mod api;
pub mod config;
mod data;
pub mod frag;
mod gw;
mod iface;
mod neigh;
pub mod node;
mod ogm;
mod orig;
pub mod seqno;
pub mod stats;
mod table;
pub mod time;
pub mod tt;
mod txq;
pub mod wire;
pub mod withdraw;

pub use api::*;
pub use config::{Config, ConfigError, Limits};
pub use node::Node;
/// The randomness trait the core takes (re-exported so that drivers use the same version).
pub use rand_core::{self, RngCore};
pub use stats::Stats;
pub use time::Instant;
pub use wire::Mac;
#[cfg(test)]
mod tests;

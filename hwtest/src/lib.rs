//! `hwtest`: meshd's test harness.
//!
//! The harness is layered from cheapest and most deterministic to most real;
//! each layer runs the same scenarios (convergence, reroute after silent and
//! carrier-down cuts, loss, forged-originator floods) one step closer to the
//! routers people flash:
//!
//! - [`sim`] (today): many `batman::Node` cores in one process, one virtual
//!   clock, lossy point-to-point and radio links, everything drawn from one
//!   seed, so a failure reproduces exactly. It checks routes for loops after
//!   every input and measures reroute gaps with pings as the anchors do.
//! - [`bench`] (today): the performance tables (convergence, reroute gaps,
//!   control bytes, memory per originator), printed by `hwtest bench sim`.
//! - `netns` (later): real meshd processes in network namespaces joined by
//!   veth pairs, nftables for loss and silent cuts.
//! - `qemu` (later): the cross-built binaries under qemu-user in the same
//!   namespaces.
//! - `hw` (later): real routers over SSH from a hosts file (skipped, saying
//!   so, when none is configured).

#![forbid(unsafe_code)]

pub mod bench;
pub mod demo;
pub mod netns;
pub mod sim;

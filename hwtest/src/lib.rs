//! `hwtest`: meshd's test harness.
//!
//! The harness is layered from cheapest and most deterministic to most real;
//! each layer runs the same scenarios (convergence, reroute after silent and
//! carrier-down cuts, loss, forged-originator floods) one step closer to the
//! routers people flash:
//!
//! - [`sim`]: many `batman::Node` cores in one process, one virtual
//!   clock, lossy point-to-point and radio links, everything drawn from one
//!   seed, so a failure reproduces exactly. It checks routes for loops after
//!   every input and measures reroute gaps with pings as the anchors do.
//! - [`bench`](mod@bench): the performance tables, printed by `hwtest bench sim`
//!   (the simulator: convergence, reroute gaps, control bytes, memory per
//!   originator) and `hwtest bench netns` (real meshd next to babeld and
//!   batmand on a 3x3 grid of namespaces, plus iperf3 over bat0).
//! - [`netns`]: namespace, veth and process guards (cleaned up on drop, and
//!   stale ones of dead test processes swept), used by meshd's tests in
//!   `meshd/tests/` and by `bench netns`: real meshd processes joined by
//!   veth pairs, nftables for loss and silent cuts.
//! - qemu-user: the cross-built router binaries as nodes of a netns mesh
//!   (`meshd/tests/mixed_arch.rs`).
//! - [`hw`]: real routers over SSH from a hosts file (`hwtest hw`; says so
//!   and does nothing when none is configured).

#![forbid(unsafe_code)]

pub mod bench;
pub mod demo;
pub mod hw;
pub mod netns;
pub mod sim;

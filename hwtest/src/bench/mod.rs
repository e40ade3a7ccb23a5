//! `bench`: the performance tables.
//!
//! - [`sim`]: convergence, reroute gaps, control overhead and memory of the
//!   batman core in the simulator (`hwtest bench sim`).
//! - [`netns`]: meshd, babeld and batmand on a 3x3 grid of network
//!   namespaces, measured in the same run (`hwtest bench netns`, root).
//! - [`addr`]: the node layer: join time, mesh0 throughput against bat0
//!   and boringtun, announcement overhead (`hwtest bench addr`, root).
//! - [`table`]: summary statistics and plain-text / JSON output.

pub mod addr;
pub mod netns;
pub mod sim;
pub mod size;
pub mod table;

//! `bench`: the performance tables.
//!
//! - [`sim`]: convergence, reroute gaps, control overhead and memory of the
//!   batman core in the simulator (`hwtest bench sim`).
//! - [`table`]: summary statistics and plain-text / JSON output.

pub mod sim;
pub mod table;

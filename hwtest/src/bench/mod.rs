//! `bench`: the performance tables.
//!
//! - [`sim`]: convergence, reroute gaps, control overhead and memory of the
//!   batman core in the simulator (`hwtest bench sim`).
//! - [`netns`]: meshd, babeld and batmand on a 3x3 grid of network
//!   namespaces, measured in the same run (`hwtest bench netns`, root).
//! - [`addr`]: the node layer: join time, mesh0 throughput against bat0
//!   and boringtun, announcement overhead (`hwtest bench addr`, root).
//! - [`onion`]: onion circuits: per-cell crypto of relays, client and
//!   destination against a raw AEAD seal, the ntor handshake
//!   (`hwtest bench onion`; the `cells` part runs in-process).
//! - [`table`]: summary statistics and plain-text / JSON output.

pub mod addr;
pub mod netns;
pub mod onion;
pub mod sim;
pub mod size;
pub mod table;

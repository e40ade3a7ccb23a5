//! `sim`: many routing cores in one process, one virtual clock, lossy links,
//! everything seeded.
//!
//! One concern per file:
//! - [`rng`]: the seeded PRNG (xoshiro256** / SplitMix64) every random choice
//!   comes from;
//! - [`clock`]: the virtual clock and the discrete-event queue;
//! - [`link`]: per-direction loss/delay/jitter and link states (up, silent
//!   drop, down);
//! - [`topology`]: line, ring, grid, random geometric and two-interface
//!   networks, deterministic MACs;
//! - [`router`]: the sans-IO contract the simulator drives, implemented for
//!   `batman::Node`;
//! - [`world`]: [`Sim`], the event loop and the inspection helpers;
//! - [`traffic`]: the ping generator and gap measurement;
//! - [`routes`]: the loop checker;
//! - [`trace`]: run hash, counters, contract violations;
//! - [`toy`]: a trivially predictable router used to test the harness itself.
//!
//! ```no_run
//! use hwtest::sim::{LinkParams, Sim, Topology};
//! use std::time::Duration;
//!
//! let mut sim = Sim::batman(Topology::grid(3, 3, LinkParams::wired()), 1).unwrap();
//! let t = sim.run_until_converged(sim.at(Duration::from_secs(30)));
//! println!("converged at {t:?}, loops: {:?}", sim.check_routes().loops);
//! ```

pub mod clock;
pub mod link;
pub mod rng;
pub mod router;
pub mod routes;
pub mod topology;
pub mod toy;
pub mod trace;
pub mod traffic;
pub mod world;

pub use clock::{at, secs, Clock, EventQueue};
pub use link::{Dir, Endpoint, Link, LinkId, LinkParams, LinkState};
pub use rng::{SimRng, SplitMix64};
pub use router::{BatNode, Router};
pub use routes::{walk_dest, DeadEnd, DeadEndReason, DestReport, Loop, Step};
pub use topology::{mac_of, parse_mac, Geometric, NotConnected, Topology};
pub use toy::ToyRouter;
pub use trace::{Anomaly, Counters, Trace};
pub use traffic::{Gap, PingFrame, PingLog, Pinger, PING_INTERVAL};
pub use world::{LoopWatch, Port, RouteReport, Sim, SimError};

#[cfg(test)]
mod tests;

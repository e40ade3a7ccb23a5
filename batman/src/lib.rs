//! batman: a sans-IO BATMAN IV routing core (overview filled in below).
#![forbid(unsafe_code)]
pub mod api;
pub mod config;
mod data;
mod iface;
mod neigh;
pub mod node;
mod ogm;
mod orig;
pub mod seqno;
pub mod stats;
mod table;
pub mod time;
mod txq;
pub mod wire;

pub use api::*;
pub use config::{Config, ConfigError, Limits};
pub use node::Node;
pub use stats::Stats;
pub use time::Instant;
pub use wire::Mac;
#[cfg(test)]
mod tests;

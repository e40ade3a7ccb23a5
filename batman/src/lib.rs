//! batman: a sans-IO BATMAN IV routing core (overview filled in below).
#![forbid(unsafe_code)]
pub mod api;
pub mod config;
pub mod node;
pub mod stats;
pub mod time;
pub mod wire;

pub use api::*;
pub use config::{Config, ConfigError, Limits};
pub use node::Node;
pub use stats::Stats;
pub use time::Instant;
pub use wire::Mac;

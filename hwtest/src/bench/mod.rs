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

/// Helpers shared by the benches' option parsers.
pub(crate) mod args {
    use std::slice::Iter;

    /// The value after option `opt`.
    pub fn value(opt: &str, it: &mut Iter<String>) -> Result<String, String> {
        it.next().cloned().ok_or(format!("{opt} needs a value"))
    }

    /// A whole number of at least 1.
    pub fn count(opt: &str, s: &str) -> Result<u64, String> {
        s.parse::<u64>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or(format!("{opt}: not a number >= 1: {s}"))
    }

    /// A finite number of seconds of at least `min`.
    pub fn secs(opt: &str, s: &str, min: f64) -> Result<f64, String> {
        s.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x >= min)
            .ok_or(format!("{opt}: not a number of seconds >= {min}: {s}"))
    }

    /// `["a", "b"]` as owned arguments (tests).
    #[cfg(test)]
    pub fn owned(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }
}

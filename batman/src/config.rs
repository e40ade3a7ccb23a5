//! Protocol constants (batman-adv defaults), caps and the runtime [`Config`].
//!
//! Every timer and limit is a named constant with its unit in the name or
//! doc; [`Config`] and [`Limits`] carry the values a node actually uses, so
//! that a daemon can override them from its config file.

use core::time::Duration;

/// Own OGM interval (`orig_interval`), batman-adv default.
pub const ORIG_INTERVAL: Duration = Duration::from_millis(1000);
/// Own OGMs are sent `ORIG_INTERVAL` +- this.
pub const ORIG_JITTER: Duration = Duration::from_millis(20);
/// Forwarded OGMs are delayed by a random 0..this.
pub const FWD_JITTER: Duration = Duration::from_millis(10);
/// Hop penalty applied on every OGM rebroadcast (out of 255).
pub const HOP_PENALTY: u8 = 30;
/// TTL of own primary OGMs and own broadcasts.
pub const TTL: u8 = 50;
/// TTL of a secondary interface's own OGM (it reaches one or two hops).
pub const SECONDARY_TTL: u8 = 2;
/// Sliding window of seqnos counted per neighbour (`TQ_LOCAL_WINDOW_SIZE`).
pub const TQ_LOCAL_WINDOW: u32 = 64;
/// Ring of received TQ values averaged per neighbour (`TQ_GLOBAL_WINDOW_SIZE`).
pub const TQ_GLOBAL_WINDOW: usize = 5;
/// A seqno this far ahead or further is taken as a restart.
pub const EXPECTED_SEQNO_RANGE: u32 = 65536;
/// After a seqno jump, old seqnos are refused for this long.
pub const RESET_PROTECTION: Duration = Duration::from_secs(30);
/// A neighbour not heard for this long is purged (`PURGE_TIMEOUT`).
pub const PURGE_NEIGHBOUR: Duration = Duration::from_secs(200);
/// An originator not heard for this long is purged (2 x `PURGE_TIMEOUT`).
pub const PURGE_ORIGINATOR: Duration = Duration::from_secs(400);
/// How often the purge sweep runs (`ORIG_WORK_PERIOD`).
pub const PURGE_PERIOD: Duration = Duration::from_millis(1000);
/// Broadcast duplicate window per originator, in seqnos (`BCAST_MAX_AGE`).
pub const BCAST_WINDOW: u32 = 64;
/// Copies of each broadcast sent on a wireless interface.
pub const NUM_BCASTS_WIRELESS: u8 = 3;
/// Copies of each broadcast sent on a wired interface.
pub const NUM_BCASTS_WIRED: u8 = 1;
/// Gap between the copies of a repeated broadcast.
pub const BCAST_REPEAT_DELAY: Duration = Duration::from_millis(5);
/// At most this many OGMs in one aggregate.
pub const MAX_AGGREGATION_PACKETS: usize = 32;
/// At most this many bytes in one aggregate (and never more than the MTU).
pub const MAX_AGGREGATION_BYTES: usize = 512;
/// An OGM may wait at most this long to ride in an aggregate.
pub const MAX_AGGREGATION_DELAY: Duration = Duration::from_millis(100);
/// Route choice waits this long after the first copy of a new seqno before
/// counting a neighbour that has not delivered it as having missed it.
pub const ROUTE_GRACE: Duration = Duration::from_millis(150);
/// A route moves to another next hop only if that one scores more than
/// this much higher (TQ units of 255): equal-cost paths do not swap on
/// every missed OGM, which would reorder packets for nothing.
pub const ROUTE_HYSTERESIS: u8 = 8;
/// An originator that carried unicast traffic within this is never evicted.
pub const TRAFFIC_PROTECTION: Duration = Duration::from_secs(60);
/// Distinct seqnos an originator must show before it leaves probation.
pub const PROBATION_SEQNOS: u8 = 3;

/// Default cap: originators (own secondaries and remote ones) kept.
pub const MAX_ORIGINATORS: usize = 1024;
/// Default cap: neighbour links (interface, neighbour MAC) kept.
pub const MAX_NEIGHBOURS: usize = 128;
/// Candidate next hops remembered per originator: the default and the
/// most (they are stored inline in each originator entry).
pub const MAX_VIAS_PER_ORIGINATOR: usize = 8;
/// Default cap: hard interfaces.
pub const MAX_INTERFACES: usize = 16;
/// Default cap: frames waiting in the transmit queue.
pub const MAX_TX_QUEUE: usize = 1024;
/// Default cap: events waiting to be polled.
pub const MAX_EVENT_QUEUE: usize = 1024;

/// Table and queue caps. Memory is bounded by these whatever arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_originators: usize,
    pub max_neighbours: usize,
    pub max_vias_per_originator: usize,
    pub max_interfaces: usize,
    pub max_tx_queue: usize,
    pub max_event_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_originators: MAX_ORIGINATORS,
            max_neighbours: MAX_NEIGHBOURS,
            max_vias_per_originator: MAX_VIAS_PER_ORIGINATOR,
            max_interfaces: MAX_INTERFACES,
            max_tx_queue: MAX_TX_QUEUE,
            max_event_queue: MAX_EVENT_QUEUE,
        }
    }
}

/// Runtime configuration of a node. `Default` gives batman-adv's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub orig_interval: Duration,
    pub orig_jitter: Duration,
    pub fwd_jitter: Duration,
    pub hop_penalty: u8,
    pub ttl: u8,
    /// Aggregate OGMs (batman-adv default: on).
    pub aggregation: bool,
    pub max_aggregation_delay: Duration,
    pub purge_neighbour: Duration,
    pub purge_originator: Duration,
    pub route_grace: Duration,
    pub num_bcasts_wireless: u8,
    pub num_bcasts_wired: u8,
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            orig_interval: ORIG_INTERVAL,
            orig_jitter: ORIG_JITTER,
            fwd_jitter: FWD_JITTER,
            hop_penalty: HOP_PENALTY,
            ttl: TTL,
            aggregation: true,
            max_aggregation_delay: MAX_AGGREGATION_DELAY,
            purge_neighbour: PURGE_NEIGHBOUR,
            purge_originator: PURGE_ORIGINATOR,
            route_grace: ROUTE_GRACE,
            num_bcasts_wireless: NUM_BCASTS_WIRELESS,
            num_bcasts_wired: NUM_BCASTS_WIRED,
            limits: Limits::default(),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("orig_interval must be between 50 ms and 60 s, got {0:?}")]
    OrigInterval(Duration),
    #[error("orig_jitter ({jitter:?}) must be less than half of orig_interval ({interval:?})")]
    Jitter {
        jitter: Duration,
        interval: Duration,
    },
    #[error("ttl must be at least 2, got {0}")]
    Ttl(u8),
    #[error("limit {0} must be at least 1")]
    Limit(&'static str),
    #[error("max_vias_per_originator must be at most {MAX_VIAS_PER_ORIGINATOR}, got {0}")]
    TooManyVias(usize),
    #[error("max_interfaces must be at most 255, got {0}")]
    TooManyInterfaces(usize),
}

impl Config {
    /// Check that the values make sense together.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.orig_interval < Duration::from_millis(50)
            || self.orig_interval > Duration::from_secs(60)
        {
            return Err(ConfigError::OrigInterval(self.orig_interval));
        }
        if self.orig_jitter * 2 >= self.orig_interval {
            return Err(ConfigError::Jitter {
                jitter: self.orig_jitter,
                interval: self.orig_interval,
            });
        }
        if self.ttl < 2 {
            return Err(ConfigError::Ttl(self.ttl));
        }
        let l = &self.limits;
        for (v, name) in [
            (l.max_originators, "max_originators"),
            (l.max_neighbours, "max_neighbours"),
            (l.max_vias_per_originator, "max_vias_per_originator"),
            (l.max_interfaces, "max_interfaces"),
            (l.max_tx_queue, "max_tx_queue"),
            (l.max_event_queue, "max_event_queue"),
        ] {
            if v == 0 {
                return Err(ConfigError::Limit(name));
            }
        }
        if l.max_vias_per_originator > MAX_VIAS_PER_ORIGINATOR {
            return Err(ConfigError::TooManyVias(l.max_vias_per_originator));
        }
        if l.max_interfaces > 255 {
            return Err(ConfigError::TooManyInterfaces(l.max_interfaces));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_refused() {
        Config::default().validate().unwrap();
        let mut c = Config {
            orig_interval: Duration::from_millis(10),
            ..Config::default()
        };
        assert!(matches!(c.validate(), Err(ConfigError::OrigInterval(_))));
        c.orig_interval = ORIG_INTERVAL;
        c.orig_jitter = Duration::from_millis(600);
        assert!(matches!(c.validate(), Err(ConfigError::Jitter { .. })));
        c.orig_jitter = ORIG_JITTER;
        c.limits.max_neighbours = 0;
        assert_eq!(c.validate(), Err(ConfigError::Limit("max_neighbours")));
    }
}

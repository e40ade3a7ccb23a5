//! Hard interfaces: their own-OGM schedule and seqno counter.

use crate::api::{IfaceConfig, IfaceKind};
use crate::time::Instant;

/// One hard interface as the core tracks it.
#[derive(Debug, Clone)]
pub(crate) struct Iface {
    pub cfg: IfaceConfig,
    /// Carrier up: the interface sends and receives.
    pub up: bool,
    /// Seqno the next own OGM of this interface gets.
    pub seqno: u32,
    /// Seqno of the last own OGM queued (echoes are counted against it).
    pub last_sent: u32,
    /// When the next own OGM is due.
    pub next_ogm: Instant,
}

impl Iface {
    pub fn is_wireless(&self) -> bool {
        self.cfg.kind == IfaceKind::Wireless
    }
    /// Largest OGM aggregate this interface may carry.
    pub fn aggregate_limit(&self) -> usize {
        (self.cfg.mtu as usize).min(crate::config::MAX_AGGREGATION_BYTES)
    }
}

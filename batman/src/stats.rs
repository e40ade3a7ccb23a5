//! Counters, as `batctl s` / `meshctl s` show them. Every frame that is
//! dropped is counted under the reason it was dropped for.

/// Per-node counters. All are totals since the node was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// OGM frames (aggregates) sent, and their bytes (control overhead).
    pub tx_ogm_frames: u64,
    pub tx_ogm_bytes: u64,
    pub rx_ogm: u64,
    pub own_ogm: u64,
    pub fwd_ogm: u64,
    pub tx_unicast: u64,
    pub rx_unicast: u64,
    pub fwd_unicast: u64,
    pub tx_bcast: u64,
    pub rx_bcast: u64,
    pub fwd_bcast: u64,
    pub rx_icmp: u64,
    pub tx_icmp: u64,
    pub rx_unicast_tvlv: u64,
    /// Fragments sent and received, and packets reassembled from them.
    pub tx_frag: u64,
    pub rx_frag: u64,
    pub frag_merged: u64,
    /// Forwarded packets cut into fragments for a narrower next link.
    pub fwd_fragmented: u64,
    /// Route withdrawals (meshd TVLV 0xa1) sent and received.
    pub tx_withdrawals: u64,
    pub rx_withdrawals: u64,
    /// Frames that failed to parse (truncated, bad lengths, bad fields).
    pub drop_malformed: u64,
    /// Frames larger than the receiving interface's MTU, and forwarded
    /// packets too big to fragment for the next link.
    pub drop_oversize: u64,
    /// Frames with a compat version other than 15.
    pub drop_version: u64,
    /// Frames of a packet type we do not handle (BATMAN V, coded, ...).
    pub drop_unknown_type: u64,
    /// Frames from one of our own MACs, or our own OGMs/broadcasts echoed.
    pub drop_own: u64,
    /// Duplicate OGMs and broadcasts.
    pub drop_duplicate: u64,
    /// OGMs refused by seqno-reset protection.
    pub drop_protected: u64,
    /// OGMs ignored by the routing rules (tq 0, not bidirectional, unknown
    /// or infeasible neighbour, NOT_BEST_NEXT_HOP).
    pub drop_ogm_rules: u64,
    pub drop_ttl: u64,
    /// Unicast frames whose Ethernet destination is not the receiving
    /// interface.
    pub drop_not_for_us: u64,
    pub drop_no_route: u64,
    /// Frames dropped because a queue was full.
    pub drop_queue_full: u64,
    /// Frames from an originator we do not know (broadcasts need one).
    pub drop_unknown_orig: u64,
    /// Events dropped because nobody polled them.
    pub drop_events: u64,
    /// New originators refused because the table was full of protected entries.
    pub refused_originators: u64,
    pub evicted_originators: u64,
    pub refused_neighbours: u64,
    pub evicted_neighbours: u64,
    pub purged_originators: u64,
    pub purged_neighbours: u64,
    pub route_changes: u64,
}

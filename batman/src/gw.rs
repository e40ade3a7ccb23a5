//! Gateway announcements (batman-adv's GW TVLV, `batctl gw_mode` / `gwl`).
//!
//! A node with an uplink announces its bandwidth in a GW TVLV in every own
//! OGM ([`Node::set_gateway`]). Every node keeps the newest announcement of
//! each originator on the originator's entry, so the list is bounded by the
//! originator table and purged with it. As in batman-adv, an OGM of a new
//! seqno without a GW TVLV withdraws the announcement, and a bandwidth of
//! zero in either direction means "not a gateway".

use crate::api::GatewayInfo;
use crate::wire::tvlv_data::{GwData, TvlvData};
use crate::wire::{TvlvIter, TvlvType};
use crate::Node;
use rand_core::RngCore;

impl<R: RngCore> Node<R> {
    /// Announce this node as a gateway with these bandwidths (units of
    /// [`GwData::UNIT_KBIT`]), or stop announcing with `None` (or a zero
    /// bandwidth). Takes effect with the next own OGM.
    pub fn set_gateway(&mut self, gw: Option<GwData>) {
        self.gateway = gw.filter(|g| g.bandwidth_down > 0 && g.bandwidth_up > 0);
    }

    /// What this node announces, if it is a gateway.
    pub fn gateway(&self) -> Option<GwData> {
        self.gateway
    }

    /// The gateways known from the others' OGMs (`batctl gwl`), in table
    /// order, each with the current route to it.
    pub fn gateways(&self) -> Vec<GatewayInfo> {
        self.origs
            .iter()
            .filter_map(|(oid, mac, o)| {
                let gw = o.gw?;
                Some(GatewayInfo {
                    orig: *mac,
                    bandwidth_down: gw.bandwidth_down,
                    bandwidth_up: gw.bandwidth_up,
                    router: self.router_of(oid),
                })
            })
            .collect()
    }

    /// The GW TVLV of our own OGMs (empty when not a gateway).
    pub(crate) fn gw_tvlv(&self) -> Vec<u8> {
        self.gateway
            .and_then(|g| g.to_tvlv().ok())
            .unwrap_or_default()
    }

    /// Record the GW announcement (or its absence) in a new OGM of `orig`.
    /// A malformed GW TVLV counts as malformed and leaves the entry as it
    /// was.
    pub(crate) fn recv_gw(&mut self, orig: usize, area: &[u8]) {
        let mut found = None;
        for t in TvlvIter::new(area).flatten() {
            if t.tvlv_type == TvlvType::Gw && t.version == GwData::VERSION {
                match GwData::parse_value(t.value) {
                    Ok(g) => found = Some(g),
                    Err(_) => {
                        self.stats.drop_malformed += 1;
                        return;
                    }
                }
            }
        }
        if let Some(o) = self.origs.get_mut(orig) {
            o.gw = found.filter(|g| g.bandwidth_down > 0 && g.bandwidth_up > 0);
        }
    }
}

//! Route withdrawal: a meshd-only TVLV that tells neighbours "I no longer
//! have a route to these originators", so that a neighbour routing through
//! us moves to its own alternative at once instead of waiting for our
//! silence to show in its scores (about one OGM round).
//!
//! ```text
//! UNICAST_TVLV (dst = the neighbour's interface MAC, src = our primary)
//!   TVLV type 0xa1, version 1, len = 6 * n
//!   +---------------------------------------------+
//!   | originator MAC (6 bytes) ... n times        |
//!   +---------------------------------------------+
//! ```
//!
//! It is sent to every neighbour, one hop, whenever originators lose their
//! last feasible route during one input. Kernel batman-adv nodes skip the
//! unknown TVLV type. A receiver only forgets what *the sender's* link told
//! it about those originators, so a hostile neighbour can only withdraw
//! routes through itself, which it could do by staying silent anyway.
//! Withdrawing only removes candidates, so loop freedom is untouched.

use rand_core::RngCore;

use crate::api::IfaceId;
use crate::node::Node;
use crate::wire::{self, tvlv::TvlvRepr, tvlv::TvlvType, Mac, UnicastTvlvRepr};

/// TVLV type of a route withdrawal (meshd's range is 0xa0..=0xaf).
pub const TVLV_WITHDRAW: u8 = 0xa1;
/// Its version.
pub const TVLV_WITHDRAW_VERSION: u8 = 1;

/// Parse the value of a withdrawal TVLV into originator MACs.
pub fn parse(value: &[u8]) -> Result<impl Iterator<Item = Mac> + '_, wire::Error> {
    if !value.len().is_multiple_of(6) {
        return Err(wire::Error::Malformed(
            "withdrawal length is not a multiple of 6",
        ));
    }
    Ok(value.chunks_exact(6).map(Mac::from_bytes))
}

impl<R: RngCore> Node<R> {
    /// Send withdrawals for every originator queued by `set_router` that
    /// still has no route. Called at the end of each input.
    pub(crate) fn flush_withdrawals(&mut self) {
        if self.withdrawn.is_empty() {
            return;
        }
        let mut lost: Vec<Mac> = core::mem::take(&mut self.withdrawn);
        lost.retain(|m| self.next_hop(*m).is_none() && !self.is_own_mac(*m));
        lost.sort_unstable();
        lost.dedup();
        let Some(me) = self.primary_mac() else { return };
        if lost.is_empty() {
            return;
        }
        let targets: Vec<(IfaceId, Mac, usize)> = self
            .links
            .iter()
            .filter_map(|(_, _, l)| {
                let mtu = self.iface(l.iface).filter(|i| i.up)?.cfg.mtu as usize;
                Some((l.iface, l.mac, mtu))
            })
            .collect();
        for (iface, mac, mtu) in targets {
            let per = (mtu.saturating_sub(wire::unicast_tvlv::HEADER_LEN + 4) / 6).max(1);
            for chunk in lost.chunks(per) {
                let value: Vec<u8> = chunk.iter().flat_map(|m| m.0).collect();
                let mut area = Vec::with_capacity(value.len() + 4);
                TvlvRepr {
                    tvlv_type: TvlvType::Unknown(TVLV_WITHDRAW),
                    version: TVLV_WITHDRAW_VERSION,
                    value: &value,
                }
                .append_to(&mut area);
                let repr = UnicastTvlvRepr {
                    ttl: 1,
                    dst: mac,
                    src: me,
                    tvlv_len: 0,
                };
                let Ok(pkt) = repr.to_vec(&area) else {
                    continue;
                };
                if self.txq.queue(iface, mac, pkt, self.now) {
                    self.stats.tx_withdrawals += 1;
                } else {
                    self.stats.drop_queue_full += 1;
                }
            }
        }
        // Keep the buffer's allocation for next time.
        lost.clear();
        self.withdrawn = lost;
    }

    /// A neighbour on `iface` with MAC `from` withdrew its routes to `origs`.
    pub(crate) fn recv_withdrawal(&mut self, iface: IfaceId, from: Mac, value: &[u8]) {
        let Ok(origs) = parse(value) else {
            self.stats.drop_malformed += 1;
            return;
        };
        self.stats.rx_withdrawals += 1;
        let Some(link) = self.links.find(&(iface.0, from)) else {
            return;
        };
        let link = link as u32;
        let origs: Vec<Mac> = origs.collect();
        for m in origs {
            let Some(oid) = self.origs.find(&m) else {
                continue;
            };
            let o = self.origs.get_mut(oid).expect("live id");
            let Some(v) = o.via_mut(link) else { continue };
            v.forget_routes();
            if o.router == Some(link) {
                self.select_route(oid);
            }
        }
    }
}

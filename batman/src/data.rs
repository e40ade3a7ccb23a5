//! The data path: unicast, broadcast, ICMP and unicast TVLV.
//! (Being written: waits for the wire views of these packet types.)

use rand_core::RngCore;

use crate::api::*;
use crate::node::Node;
use crate::time::Instant;
use crate::wire::{Mac, PacketType};

impl<R: RngCore> Node<R> {
    pub(crate) fn recv_data(
        &mut self,
        _iface: IfaceId,
        _src: Mac,
        _dst: Mac,
        _ty: PacketType,
        _payload: &[u8],
    ) {
        self.stats.drop_unknown_type += 1;
    }
    /// Send an inner Ethernet frame to originator `dest` as UNICAST.
    pub fn send_unicast(
        &mut self,
        now: Instant,
        dest: Mac,
        ttvn: u8,
        frame: &[u8],
    ) -> Result<(), SendError> {
        let _ = (now, ttvn, frame);
        Err(SendError::NoRoute(dest))
    }
    /// Flood an inner Ethernet frame to the whole mesh as BCAST.
    pub fn send_broadcast(&mut self, now: Instant, frame: &[u8]) -> Result<(), SendError> {
        let _ = (now, frame);
        Err(SendError::NoInterface)
    }
    /// Send a batman ICMP echo request (ping / traceroute).
    pub fn send_icmp(&mut self, now: Instant, req: IcmpRequest) -> Result<(), SendError> {
        let _ = now;
        Err(SendError::NoRoute(req.dst))
    }
    /// Send a UNICAST_TVLV with the TVLV area `tvlvs` to originator `dst`.
    pub fn send_unicast_tvlv(
        &mut self,
        now: Instant,
        dst: Mac,
        tvlvs: &[u8],
    ) -> Result<(), SendError> {
        let _ = (now, tvlvs);
        Err(SendError::NoRoute(dst))
    }
}

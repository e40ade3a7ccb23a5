//! The data path: unicast kinds routed hop by hop with TTL, broadcast
//! flooding with duplicate detection and per-interface repeat rules, batman
//! ICMP (echo, TTL exceeded, destination unreachable, route record) and
//! unicast TVLV.
//!
//! Every unicast kind (UNICAST, UNICAST_4ADDR, UNICAST_FRAG, ICMP,
//! UNICAST_TVLV) starts with `type, version, ttl, x, dest[6]`, so a node
//! forwards any of them the same way, as batman-adv does; it only looks
//! further into the ones addressed to it.

use rand_core::RngCore;

use crate::api::*;
use crate::config::{BCAST_REPEAT_DELAY, BCAST_WINDOW, RESET_PROTECTION};
use crate::frag::Added;
use crate::node::Node;
use crate::seqno::{self, Protection};
use crate::time::Instant;
use crate::wire::{
    self, BcastPacket, BcastRepr, IcmpMsgType, IcmpPacket, IcmpRepr, Mac, PacketType, RouteRecord,
    Subtype, Unicast4AddrPacket, UnicastPacket, UnicastRepr, UnicastTvlvPacket, UnicastTvlvRepr,
};

/// Offsets shared by every unicast kind.
const TTL: usize = 2;
const DEST: usize = 4;

impl<R: RngCore> Node<R> {
    pub(crate) fn recv_data(
        &mut self,
        iface: IfaceId,
        src: Mac,
        dst: Mac,
        ty: PacketType,
        payload: &[u8],
    ) {
        match ty {
            PacketType::Bcast => self.recv_bcast(iface, src, payload),
            PacketType::Unicast
            | PacketType::Unicast4Addr
            | PacketType::UnicastFrag
            | PacketType::Icmp
            | PacketType::UnicastTvlv => self.recv_unicast_kind(iface, src, dst, ty, payload),
            // BATMAN V, network coding, batman multicast: not spoken here.
            _ => self.stats.drop_unknown_type += 1,
        }
    }

    /// Validate the header of a unicast kind with its own view.
    fn check_unicast_kind(ty: PacketType, payload: &[u8]) -> Result<(), wire::Error> {
        match ty {
            PacketType::Unicast => UnicastPacket::new_checked(payload).map(|_| ()),
            PacketType::Unicast4Addr => Unicast4AddrPacket::new_checked(payload).map(|_| ()),
            PacketType::UnicastFrag => wire::FragPacket::new_checked(payload).map(|_| ()),
            PacketType::Icmp => IcmpPacket::new_checked(payload).map(|_| ()),
            PacketType::UnicastTvlv => UnicastTvlvPacket::new_checked(payload).map(|_| ()),
            _ => Err(wire::Error::PacketType(ty as u8)),
        }
    }

    fn recv_unicast_kind(
        &mut self,
        iface: IfaceId,
        src: Mac,
        dst: Mac,
        ty: PacketType,
        payload: &[u8],
    ) {
        if let Err(e) = Self::check_unicast_kind(ty, payload) {
            return self.count_parse_error(e);
        }
        // Unicast frames are sent to one neighbour: ours must be the
        // receiving interface's MAC.
        if self.iface(iface).map(|i| i.cfg.mac) != Some(dst) {
            self.stats.drop_not_for_us += 1;
            return;
        }
        let mut buf = payload.to_vec();
        if ty == PacketType::Icmp {
            let mut p = IcmpPacket::new_unchecked(&mut buf[..]);
            if p.records_route() && p.push_rr(dst).is_err() {
                self.stats.drop_malformed += 1;
                return;
            }
        }
        let dest = wire::mac_at(&buf, DEST);
        if self.is_own_mac(dest) {
            return self.deliver_local(iface, src, ty, &buf);
        }
        let ttl = buf[TTL];
        if ttl < 2 {
            self.stats.drop_ttl += 1;
            if ty == PacketType::Icmp {
                self.icmp_bounce(&buf, IcmpMsgType::TtlExceeded);
            }
            return;
        }
        buf[TTL] = ttl - 1;
        match self.route_to(dest) {
            Some((hop, oid)) => {
                self.touch_traffic(oid);
                let mtu = self.iface(hop.iface).map_or(0, |i| usize::from(i.cfg.mtu));
                if buf.len() > mtu && ty != PacketType::UnicastFrag {
                    // The next link is narrower than the packet: fragment
                    // here, as batman-adv does when it forwards.
                    return self.forward_fragmented(hop, dest, ttl - 1, &buf, mtu);
                }
                if self.txq.queue(hop.iface, hop.mac, buf, self.now) {
                    self.stats.fwd_unicast += 1;
                } else {
                    self.stats.drop_queue_full += 1;
                }
            }
            None => {
                self.stats.drop_no_route += 1;
                if ty == PacketType::Icmp {
                    self.icmp_bounce(&buf, IcmpMsgType::DestinationUnreachable);
                }
            }
        }
    }

    fn deliver_local(&mut self, iface: IfaceId, src: Mac, ty: PacketType, buf: &[u8]) {
        match ty {
            PacketType::Unicast => {
                let p = UnicastPacket::new_unchecked(buf);
                self.deliver(None, DeliverKind::Unicast, p.payload());
            }
            PacketType::Unicast4Addr => {
                let p = Unicast4AddrPacket::new_unchecked(buf);
                if p.subtype() == Subtype::Data {
                    let src = p.src();
                    self.deliver(Some(src), DeliverKind::Unicast, p.payload());
                } else {
                    // Distributed ARP table messages: not spoken here.
                    self.stats.drop_unknown_type += 1;
                }
            }
            PacketType::Icmp => self.icmp_local(buf),
            PacketType::UnicastTvlv => {
                let p = UnicastTvlvPacket::new_unchecked(buf);
                self.stats.rx_unicast_tvlv += 1;
                if wire::tvlv::check_area(p.tvlv()).is_err() {
                    self.stats.drop_malformed += 1;
                    return;
                }
                // meshd's own one-hop TVLVs are handled here; anything else
                // goes to the upper layers.
                let mut other = false;
                for t in p.tvlv_iter().flatten() {
                    if u8::from(t.tvlv_type) == crate::withdraw::TVLV_WITHDRAW
                        && t.version == crate::withdraw::TVLV_WITHDRAW_VERSION
                    {
                        self.recv_withdrawal(iface, src, t.value);
                    } else if t.tvlv_type == wire::TvlvType::Tt && t.version == 1 {
                        match wire::tvlv_data::TtData::parse(t.value) {
                            Ok(tt) => {
                                let act = self.tt.on_unicast(p.src(), &tt);
                                self.tt_act(act);
                            }
                            Err(_) => self.stats.drop_malformed += 1,
                        }
                    } else {
                        other = true;
                    }
                }
                if other {
                    let (orig, data) = (p.src(), p.tvlv().to_vec());
                    self.push_event(Event::Tvlv {
                        orig,
                        unicast: true,
                        data,
                    });
                }
            }
            PacketType::UnicastFrag => {
                let p = wire::FragPacket::new_unchecked(buf);
                self.stats.rx_frag += 1;
                if self.origs.find(&p.orig()).is_none() {
                    self.stats.drop_unknown_orig += 1;
                    return;
                }
                match self.frags.add(&p, self.now) {
                    Added::Pending => {}
                    Added::Dropped => self.stats.drop_malformed += 1,
                    Added::Complete(pkt) => {
                        self.stats.frag_merged += 1;
                        match wire::peek_type(&pkt) {
                            // A merged packet is never itself a fragment.
                            Ok(ty)
                                if ty != PacketType::UnicastFrag
                                    && PacketType::is_unicast(ty as u8) =>
                            {
                                let dst = self.iface(iface).map_or(Mac::ZERO, |i| i.cfg.mac);
                                self.recv_unicast_kind(iface, src, dst, ty, &pkt);
                            }
                            Ok(_) => self.stats.drop_unknown_type += 1,
                            Err(e) => self.count_parse_error(e),
                        }
                    }
                }
            }
            _ => self.stats.drop_unknown_type += 1,
        }
    }

    fn deliver(&mut self, orig: Option<Mac>, kind: DeliverKind, frame: &[u8]) {
        if frame.len() < wire::ETH_HLEN {
            self.stats.drop_malformed += 1;
            return;
        }
        match kind {
            DeliverKind::Unicast => self.stats.rx_unicast += 1,
            DeliverKind::Broadcast => self.stats.rx_bcast += 1,
        }
        self.push_event(Event::Deliver {
            orig,
            kind,
            frame: frame.to_vec(),
        });
    }

    /// Forward `pkt` to `dest` via `hop` in fragments of at most `mtu`
    /// (headed by our own originator address, as batman-adv's are).
    fn forward_fragmented(&mut self, hop: NextHop, dest: Mac, ttl: u8, pkt: &[u8], mtu: usize) {
        let Some(me) = self.primary_mac() else {
            return;
        };
        let seqno = self.frag_seqno;
        let Some(frags) = crate::frag::split(pkt, mtu, me, dest, seqno, ttl) else {
            self.stats.drop_oversize += 1;
            return;
        };
        self.frag_seqno = seqno.wrapping_add(1);
        for f in frags {
            if !self.txq.queue(hop.iface, hop.mac, f, self.now) {
                self.stats.drop_queue_full += 1;
                return;
            }
            self.stats.tx_frag += 1;
        }
        self.stats.fwd_fragmented += 1;
        self.stats.fwd_unicast += 1;
    }

    /// The next hop and originator slot towards `dest`.
    fn route_to(&self, dest: Mac) -> Option<(NextHop, usize)> {
        let oid = self.origs.find(&dest)?;
        Some((self.router_of(oid)?, oid))
    }

    /// Queue a packet we originate towards `dest`, in fragments when it is
    /// larger than the outgoing interface's MTU (up to 16 x 1280 bytes).
    fn send_routed(&mut self, dest: Mac, pkt: Vec<u8>) -> Result<(), SendError> {
        let (hop, oid) = self.route_to(dest).ok_or(SendError::NoRoute(dest))?;
        let mtu = self.iface(hop.iface).map_or(0, |i| i.cfg.mtu as usize);
        if pkt.len() > mtu {
            let me = self.primary_mac().ok_or(SendError::NoInterface)?;
            let seqno = self.frag_seqno;
            let frags = crate::frag::split(&pkt, mtu, me, dest, seqno, self.config.ttl).ok_or(
                SendError::TooBig {
                    len: pkt.len(),
                    mtu: crate::frag::MAX_TOTAL,
                },
            )?;
            self.frag_seqno = seqno.wrapping_add(1);
            self.touch_traffic(oid);
            for f in frags {
                if !self.txq.queue(hop.iface, hop.mac, f, self.now) {
                    self.stats.drop_queue_full += 1;
                    return Err(SendError::QueueFull);
                }
                self.stats.tx_frag += 1;
            }
            return Ok(());
        }
        self.touch_traffic(oid);
        if !self.txq.queue(hop.iface, hop.mac, pkt, self.now) {
            self.stats.drop_queue_full += 1;
            return Err(SendError::QueueFull);
        }
        Ok(())
    }

    /// Send an inner Ethernet frame to originator `dest` as UNICAST with
    /// translation-table version `ttvn`.
    pub fn send_unicast(
        &mut self,
        now: Instant,
        dest: Mac,
        ttvn: u8,
        frame: &[u8],
    ) -> Result<(), SendError> {
        self.advance(now);
        if frame.len() < wire::ETH_HLEN {
            return Err(SendError::BadFrame);
        }
        let repr = UnicastRepr {
            ttl: self.config.ttl,
            ttvn,
            dest,
        };
        self.send_routed(dest, repr.to_vec(frame))?;
        self.stats.tx_unicast += 1;
        Ok(())
    }

    /// A frame from the soft interface (`bat0`): its source becomes a local
    /// client in the translation table; it goes as UNICAST to the
    /// originator that announced its destination, or as BCAST when the
    /// destination is a group address or unknown (as batman-adv does).
    pub fn send_frame(&mut self, now: Instant, frame: &[u8]) -> Result<(), SendError> {
        self.advance(now);
        if frame.len() < wire::ETH_HLEN {
            return Err(SendError::BadFrame);
        }
        let dst = Mac::from_bytes(&frame[0..6]);
        let src = Mac::from_bytes(&frame[6..12]);
        let vid = frame_vid(frame);
        self.tt.learn(self.now, src, vid, false);
        if !dst.is_multicast() {
            if let Some((orig, ttvn)) = self.tt.lookup(dst, vid) {
                if self.send_unicast(now, orig, ttvn, frame).is_ok() {
                    return Ok(());
                }
            }
        }
        self.send_broadcast(now, frame)
    }

    /// The soft interface's own MAC: announced as a client that never
    /// times out.
    pub fn set_soft_mac(&mut self, now: Instant, mac: Mac) {
        self.advance(now);
        self.tt.learn(self.now, mac, 0, true);
    }

    /// Carry out what the translation table asked for.
    pub(crate) fn tt_act(&mut self, act: crate::tt::TtAction) {
        if let crate::tt::TtAction::Send(to, area) = act {
            let now = self.now;
            if self.send_unicast_tvlv(now, to, &area).is_err() {
                self.stats.drop_no_route += 1;
                self.tt.request_failed(to);
            }
        }
    }

    /// Flood an inner Ethernet frame to the whole mesh as BCAST.
    pub fn send_broadcast(&mut self, now: Instant, frame: &[u8]) -> Result<(), SendError> {
        self.advance(now);
        if frame.len() < wire::ETH_HLEN {
            return Err(SendError::BadFrame);
        }
        let orig = self.primary_mac().ok_or(SendError::NoInterface)?;
        let seqno = self.bcast_seqno;
        self.bcast_seqno = seqno.wrapping_add(1);
        let pkt = BcastRepr {
            ttl: self.config.ttl,
            seqno,
            orig,
        }
        .to_vec(frame);
        self.flood(&pkt, None, orig);
        self.stats.tx_bcast += 1;
        Ok(())
    }

    /// Queue a broadcast on every interface that has someone to hear it:
    /// not on an interface without neighbours, nor on one whose only
    /// neighbour is the originator or the one we got it from; wireless
    /// interfaces repeat it.
    fn flood(&mut self, pkt: &[u8], from: Option<(IfaceId, Mac)>, orig: Mac) {
        let outs: Vec<IfaceId> = self.up_ifaces().collect();
        for out in outs {
            let mut neigh = self.links.iter().filter(|(_, _, l)| l.iface == out);
            let Some((_, _, first)) = neigh.next() else {
                continue;
            };
            let only = neigh.next().is_none();
            let sender = from.is_some_and(|(i, m)| i == out && m == first.mac);
            if only && (first.mac == orig || sender) {
                continue;
            }
            let copies = if self.iface(out).is_some_and(|i| i.is_wireless()) {
                self.config.num_bcasts_wireless
            } else {
                self.config.num_bcasts_wired
            };
            for k in 0..copies {
                let due = self.now + BCAST_REPEAT_DELAY * k as u32;
                if !self.txq.queue(out, Mac::BROADCAST, pkt.to_vec(), due) {
                    self.stats.drop_queue_full += 1;
                }
            }
        }
    }

    fn recv_bcast(&mut self, iface: IfaceId, src: Mac, payload: &[u8]) {
        let p = match BcastPacket::new_checked(payload) {
            Ok(p) => p,
            Err(e) => return self.count_parse_error(e),
        };
        let (orig, seqno, ttl) = (p.orig(), p.seqno(), p.ttl());
        if self.is_own_mac(orig) {
            self.stats.drop_own += 1;
            return;
        }
        if ttl < 2 {
            self.stats.drop_ttl += 1;
            return;
        }
        let Some(oid) = self.origs.find(&orig) else {
            self.stats.drop_unknown_orig += 1;
            return;
        };
        let now = self.now;
        let o = self.origs.get_mut(oid).expect("live id");
        match o.bcast_last {
            None => {
                o.bcast_last = Some(seqno);
                o.bcast_bits = 1;
            }
            Some(last) => {
                if seqno::test_bit(o.bcast_bits, last, seqno) {
                    self.stats.drop_duplicate += 1;
                    return;
                }
                let d = seqno::diff(seqno, last);
                if seqno::protect(d, BCAST_WINDOW, &mut o.bcast_reset, RESET_PROTECTION, now)
                    == Protection::Drop
                {
                    self.stats.drop_protected += 1;
                    return;
                }
                if seqno::advance(&mut o.bcast_bits, d, BCAST_WINDOW, true) {
                    o.bcast_last = Some(seqno);
                }
            }
        }
        let mut fwd = payload.to_vec();
        fwd[TTL] = ttl - 1;
        self.flood(&fwd, Some((iface, src)), orig);
        self.stats.fwd_bcast += 1;
        self.deliver(Some(orig), DeliverKind::Broadcast, p.payload());
    }

    /// Send a batman ICMP echo request (ping / traceroute). With
    /// `record_route`, the 116-byte route-record variant starting with our
    /// outgoing interface, as batctl's `ping -R` sends it.
    pub fn send_icmp(&mut self, now: Instant, req: IcmpRequest) -> Result<(), SendError> {
        self.advance(now);
        let orig = self.primary_mac().ok_or(SendError::NoInterface)?;
        let (hop, _) = self.route_to(req.dst).ok_or(SendError::NoRoute(req.dst))?;
        let rr = if req.record_route {
            let out = self.iface(hop.iface).map(|i| i.cfg.mac).unwrap_or(orig);
            let mut r = RouteRecord::new();
            r.push(out).expect("empty record has room");
            Some(r)
        } else {
            None
        };
        let repr = IcmpRepr {
            msg_type: IcmpMsgType::EchoRequest,
            ttl: req.ttl,
            dst: req.dst,
            orig,
            uid: req.uid,
            seqno: req.seqno,
            rr,
        };
        let mut pkt = vec![0u8; repr.buffer_len()];
        repr.emit(&mut pkt);
        self.send_routed(req.dst, pkt)?;
        self.stats.tx_icmp += 1;
        Ok(())
    }

    /// An ICMP message addressed to us.
    fn icmp_local(&mut self, buf: &[u8]) {
        self.stats.rx_icmp += 1;
        let p = IcmpPacket::new_unchecked(buf);
        let repr = match IcmpRepr::parse(&p) {
            Ok(r) => r,
            Err(e) => return self.count_parse_error(e),
        };
        match repr.msg_type {
            IcmpMsgType::EchoRequest => {
                let Some(me) = self.primary_mac() else { return };
                let mut out = buf.to_vec();
                let mut q = IcmpPacket::new_unchecked(&mut out[..]);
                q.set_msg_type(IcmpMsgType::EchoReply);
                q.set_dst(repr.orig);
                q.set_orig(me);
                q.set_ttl(self.config.ttl);
                if self.send_routed(repr.orig, out).is_err() {
                    self.stats.drop_no_route += 1;
                } else {
                    self.stats.tx_icmp += 1;
                }
            }
            IcmpMsgType::EchoReply
            | IcmpMsgType::TtlExceeded
            | IcmpMsgType::DestinationUnreachable => {
                let route = repr.rr.map(|r| r.as_slice().to_vec()).unwrap_or_default();
                self.push_event(Event::Icmp(IcmpReply {
                    msg_type: repr.msg_type,
                    from: repr.orig,
                    seqno: repr.seqno,
                    uid: repr.uid,
                    ttl: repr.ttl,
                    route,
                }));
            }
            _ => self.stats.drop_unknown_type += 1,
        }
    }

    /// Answer an echo request we cannot pass on (TTL exceeded, no route),
    /// as batman-adv does for traceroute.
    fn icmp_bounce(&mut self, buf: &[u8], why: IcmpMsgType) {
        let p = IcmpPacket::new_unchecked(buf);
        if p.msg_type() != IcmpMsgType::EchoRequest {
            return;
        }
        let Some(me) = self.primary_mac() else { return };
        let to = p.orig();
        let mut out = buf.to_vec();
        let mut q = IcmpPacket::new_unchecked(&mut out[..]);
        q.set_msg_type(why);
        q.set_dst(to);
        q.set_orig(me);
        q.set_ttl(self.config.ttl);
        if self.send_routed(to, out).is_ok() {
            self.stats.tx_icmp += 1;
        }
    }

    /// Send a UNICAST_TVLV carrying the TVLV area `tvlvs` to `dst`.
    pub fn send_unicast_tvlv(
        &mut self,
        now: Instant,
        dst: Mac,
        tvlvs: &[u8],
    ) -> Result<(), SendError> {
        self.advance(now);
        if wire::tvlv::check_area(tvlvs).is_err() {
            return Err(SendError::BadFrame);
        }
        let src = self.primary_mac().ok_or(SendError::NoInterface)?;
        let repr = UnicastTvlvRepr {
            ttl: self.config.ttl,
            dst,
            src,
            tvlv_len: tvlvs.len() as u16,
        };
        let pkt = repr.to_vec(tvlvs).map_err(|_| SendError::BadFrame)?;
        self.send_routed(dst, pkt)
    }
}

/// The VLAN of an Ethernet frame as batman-adv keys it: 0 when untagged,
/// `vid | VLAN_HAS_TAG` for an 802.1Q tag.
fn frame_vid(frame: &[u8]) -> u16 {
    if frame.len() >= 18 && frame[12..14] == [0x81, 0x00] {
        (u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff) | wire::tvlv_data::VLAN_HAS_TAG
    } else {
        0
    }
}

//! batman ICMP, packet type 0x43: ping (echo request/reply), traceroute
//! (TTL exceeded), destination unreachable, and the route-record variant.
//!
//! Plain ICMP packet, 20 bytes:
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +---------------+---------------+---------------+---------------+
//! |  packet_type  |    version    |      ttl      |   msg_type    |  0
//! +---------------+---------------+---------------+---------------+
//! |                      dst (6 bytes) ...                        |  4
//! +                               +---------------+---------------+
//! |                               |      orig (6 bytes) ...       |  8
//! +---------------+---------------+                               +
//! |                                                               | 12
//! +---------------+---------------+---------------+---------------+
//! |      uid      |reserved/rr_cur|         seqno (be16)          | 16
//! +---------------+---------------+---------------+---------------+
//! ```
//!
//! Route-record variant (`batadv_icmp_packet_rr`), 116 bytes: the same
//! header, with byte 17 holding `rr_cur` (number of recorded hops), then
//! 16 six-byte hop slots:
//!
//! ```text
//! +---------------+---------------+---------------+---------------+
//! |                 rr[0] .. rr[15] (16 x 6 bytes) ...            | 20
//! +---------------+---------------+---------------+---------------+
//! ```
//!
//! batman-adv has no flag for the variant: a packet is a route record when
//! it is at least [`RR_PACKET_LEN`] bytes long (and not a throughput-meter
//! packet, whose bytes after `uid` have another layout). A node that
//! receives an echo request or reply addressed to one of its interfaces
//! appends that interface's MAC at `rr[rr_cur]` and increments `rr_cur`;
//! batman-adv drops the packet instead when `rr_cur >= 16`.
//!
//! `uid` identifies the sending socket, `seqno` the ping. The facts sheet in
//! `docs/` once listed `seqno` before `uid`; the order above is the one in
//! batman-adv's `batadv_packet.h`.

use super::{
    be16, check_len, check_type_version, mac_at, put16, put_mac, Error, Mac, PacketType, Result,
    COMPAT_VERSION,
};

/// Length of the plain ICMP header.
pub const HEADER_LEN: usize = 20;
/// Number of hop slots in a route-record packet.
pub const RR_LEN: usize = 16;
/// Length of the route-record variant.
pub const RR_PACKET_LEN: usize = 116;

mod field {
    pub const TTL: usize = 2;
    pub const MSG_TYPE: usize = 3;
    pub const DST: usize = 4;
    pub const ORIG: usize = 10;
    pub const UID: usize = 16;
    /// `reserved` in the plain packet, `rr_cur` in the route-record one.
    pub const RR_CUR: usize = 17;
    pub const SEQNO: usize = 18;
    pub const RR: usize = 20;
}

// The layouts have no holes and end where the headers do.
const _: () = assert!(field::SEQNO + 2 == HEADER_LEN);
const _: () = assert!(field::DST + 6 == field::ORIG);
const _: () = assert!(field::ORIG + 6 == field::UID);
const _: () = assert!(field::RR == HEADER_LEN);
const _: () = assert!(field::RR + RR_LEN * 6 == RR_PACKET_LEN);
// rr_cur is a u8 and must be able to count every slot.
const _: () = assert!(RR_LEN <= u8::MAX as usize);

/// ICMP message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpMsgType {
    EchoReply,
    DestinationUnreachable,
    EchoRequest,
    TtlExceeded,
    ParameterProblem,
    /// Throughput meter (not handled by the core; carried).
    Tp,
    Unknown(u8),
}

impl From<u8> for IcmpMsgType {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::EchoReply,
            3 => Self::DestinationUnreachable,
            8 => Self::EchoRequest,
            11 => Self::TtlExceeded,
            12 => Self::ParameterProblem,
            15 => Self::Tp,
            o => Self::Unknown(o),
        }
    }
}

impl From<IcmpMsgType> for u8 {
    fn from(t: IcmpMsgType) -> u8 {
        match t {
            IcmpMsgType::EchoReply => 0,
            IcmpMsgType::DestinationUnreachable => 3,
            IcmpMsgType::EchoRequest => 8,
            IcmpMsgType::TtlExceeded => 11,
            IcmpMsgType::ParameterProblem => 12,
            IcmpMsgType::Tp => 15,
            IcmpMsgType::Unknown(o) => o,
        }
    }
}

/// The hops recorded in a route-record packet: at most [`RR_LEN`].
///
/// Slots past `len` are not carried (they are zero here and emitted as
/// zero), so two records with the same hops compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouteRecord {
    len: u8,
    hops: [Mac; RR_LEN],
}

impl RouteRecord {
    /// An empty record (what a ping with route recording starts with).
    pub const fn new() -> Self {
        RouteRecord {
            len: 0,
            hops: [Mac::ZERO; RR_LEN],
        }
    }

    /// A record holding `hops`; more than [`RR_LEN`] is `Malformed`.
    pub fn from_hops(hops: &[Mac]) -> Result<Self> {
        let mut r = Self::new();
        for h in hops {
            r.push(*h)?;
        }
        Ok(r)
    }

    /// Append a hop; `Malformed` when all [`RR_LEN`] slots are used.
    pub fn push(&mut self, hop: Mac) -> Result<()> {
        let i = self.len as usize;
        let slot = self
            .hops
            .get_mut(i)
            .ok_or(Error::Malformed("route record full"))?;
        *slot = hop;
        self.len += 1;
        Ok(())
    }

    /// Number of recorded hops (0..=16).
    pub fn len(&self) -> usize {
        self.len as usize
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// All slots used: batman-adv drops such a packet rather than extend it.
    pub fn is_full(&self) -> bool {
        self.len() == RR_LEN
    }
    /// The recorded hops, in path order.
    pub fn as_slice(&self) -> &[Mac] {
        &self.hops[..self.len()]
    }
    /// Iterate over the recorded hops, in path order.
    pub fn iter(&self) -> core::slice::Iter<'_, Mac> {
        self.as_slice().iter()
    }
}

impl<'a> IntoIterator for &'a RouteRecord {
    type Item = &'a Mac;
    type IntoIter = core::slice::Iter<'a, Mac>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// A read/write view of an ICMP packet, plain or route-record.
#[derive(Debug, Clone)]
pub struct IcmpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpPacket<T> {
    /// Wrap without checks; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        IcmpPacket { buffer }
    }

    /// Wrap and validate type, version and the 20-byte header length.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate what `new_checked` validates. (`rr_cur` is checked by
    /// [`IcmpRepr::parse`] and [`push_rr`](Self::push_rr); the raw
    /// accessors never index with it.)
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        check_type_version(b, PacketType::Icmp)?;
        check_len(b, HEADER_LEN)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn msg_type(&self) -> IcmpMsgType {
        self.buffer.as_ref()[field::MSG_TYPE].into()
    }
    /// Destination originator.
    pub fn dst(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::DST)
    }
    /// Originator that sent the message.
    pub fn orig(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::ORIG)
    }
    /// Identifier of the sending socket.
    pub fn uid(&self) -> u8 {
        self.buffer.as_ref()[field::UID]
    }
    /// Byte 17: the number of recorded hops in a route-record packet, the
    /// reserved byte otherwise. Not range-checked.
    pub fn rr_cur(&self) -> u8 {
        self.buffer.as_ref()[field::RR_CUR]
    }
    pub fn seqno(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SEQNO)
    }

    /// At least [`RR_PACKET_LEN`] bytes and not a throughput-meter packet.
    pub fn is_route_record(&self) -> bool {
        self.buffer.as_ref().len() >= RR_PACKET_LEN && self.msg_type() != IcmpMsgType::Tp
    }

    /// A route-record echo request or reply: the kind of packet a node
    /// appends itself to on receipt (as batman-adv does).
    pub fn records_route(&self) -> bool {
        self.is_route_record()
            && matches!(
                self.msg_type(),
                IcmpMsgType::EchoRequest | IcmpMsgType::EchoReply
            )
    }

    /// Hop slot `i` of a route-record packet; `None` when the packet is not
    /// one or `i >= RR_LEN`. Slots at or past `rr_cur` are returned as
    /// they are on the wire.
    pub fn rr(&self, i: usize) -> Option<Mac> {
        if i < RR_LEN && self.is_route_record() {
            Some(mac_at(self.buffer.as_ref(), field::RR + 6 * i))
        } else {
            None
        }
    }

    /// Length of the header this packet uses: [`RR_PACKET_LEN`] for a
    /// route record, [`HEADER_LEN`] otherwise.
    pub fn header_len(&self) -> usize {
        if self.is_route_record() {
            RR_PACKET_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Bytes after [`header_len`](Self::header_len) (usually none; the
    /// throughput meter carries its data here).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<T> {
    fn b(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.b()[field::TTL] = v
    }
    pub fn set_msg_type(&mut self, v: IcmpMsgType) {
        self.b()[field::MSG_TYPE] = v.into()
    }
    pub fn set_dst(&mut self, v: Mac) {
        put_mac(self.b(), field::DST, v)
    }
    pub fn set_orig(&mut self, v: Mac) {
        put_mac(self.b(), field::ORIG, v)
    }
    pub fn set_uid(&mut self, v: u8) {
        self.b()[field::UID] = v
    }
    /// Set byte 17 (`rr_cur`, or the reserved byte of a plain packet).
    pub fn set_rr_cur(&mut self, v: u8) {
        self.b()[field::RR_CUR] = v
    }
    pub fn set_seqno(&mut self, v: u16) {
        put16(self.b(), field::SEQNO, v)
    }

    /// Write hop slot `i`.
    ///
    /// # Panics
    /// If `i >= RR_LEN` or the buffer is shorter than [`RR_PACKET_LEN`].
    pub fn set_rr(&mut self, i: usize, v: Mac) {
        assert!(i < RR_LEN, "route record slot {i} out of range");
        put_mac(self.b(), field::RR + 6 * i, v)
    }

    /// Append `hop` at `rr[rr_cur]` and increment `rr_cur`. `Malformed`
    /// if this is not a route-record packet or `rr_cur >= RR_LEN` (the
    /// record is full or corrupt: batman-adv drops such packets).
    pub fn push_rr(&mut self, hop: Mac) -> Result<()> {
        if !self.is_route_record() {
            return Err(Error::Malformed("not a route-record ICMP packet"));
        }
        let cur = self.rr_cur();
        if cur as usize >= RR_LEN {
            return Err(Error::Malformed("route record full"));
        }
        self.set_rr(cur as usize, hop);
        self.set_rr_cur(cur + 1);
        Ok(())
    }

    /// Mutable bytes after [`header_len`](IcmpPacket::header_len).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len();
        &mut self.b()[at..]
    }
}

/// Decoded ICMP header, with the recorded route for the route-record
/// variant.
///
/// `rr` is `Some` exactly when the packet is a route record
/// ([`IcmpPacket::is_route_record`]); emitting a repr with `rr: Some`
/// produces the 116-byte variant. A throughput-meter message (`Tp`) is
/// decoded as a plain header: its bytes 17.. have their own layout and
/// are best forwarded through the view untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpRepr {
    pub msg_type: IcmpMsgType,
    pub ttl: u8,
    pub dst: Mac,
    pub orig: Mac,
    pub uid: u8,
    pub seqno: u16,
    pub rr: Option<RouteRecord>,
}

impl IcmpRepr {
    /// Decode a view. A route record with `rr_cur > 16` is `Malformed`.
    pub fn parse<T: AsRef<[u8]>>(p: &IcmpPacket<T>) -> Result<Self> {
        p.check_len()?;
        let rr = if p.is_route_record() {
            let cur = p.rr_cur() as usize;
            if cur > RR_LEN {
                return Err(Error::Malformed("ICMP rr_cur past the 16 route slots"));
            }
            let b = p.buffer.as_ref();
            let mut r = RouteRecord::new();
            for i in 0..cur {
                r.push(mac_at(b, field::RR + 6 * i))?;
            }
            Some(r)
        } else {
            None
        };
        Ok(IcmpRepr {
            msg_type: p.msg_type(),
            ttl: p.ttl(),
            dst: p.dst(),
            orig: p.orig(),
            uid: p.uid(),
            seqno: p.seqno(),
            rr,
        })
    }

    /// [`RR_PACKET_LEN`] with a route record, [`HEADER_LEN`] without.
    pub const fn buffer_len(&self) -> usize {
        if self.rr.is_some() {
            RR_PACKET_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Write the header (and route record) into the first `buffer_len()`
    /// bytes of `buf`. Unused route slots and the reserved byte are zero.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = PacketType::Icmp as u8;
        buf[1] = COMPAT_VERSION;
        let mut p = IcmpPacket::new_unchecked(buf);
        p.set_ttl(self.ttl);
        p.set_msg_type(self.msg_type);
        p.set_dst(self.dst);
        p.set_orig(self.orig);
        p.set_uid(self.uid);
        p.set_seqno(self.seqno);
        match &self.rr {
            None => p.set_rr_cur(0),
            Some(r) => {
                p.set_rr_cur(r.len);
                for (i, hop) in r.hops.iter().enumerate() {
                    p.set_rr(i, *hop);
                }
            }
        }
    }

    /// Emit header (and route record) followed by `payload`.
    pub fn to_vec(&self, payload: &[u8]) -> Vec<u8> {
        let n = self.buffer_len();
        let mut v = vec![0u8; n + payload.len()];
        self.emit(&mut v);
        v[n..].copy_from_slice(payload);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request: ttl 50, dst ..:08, orig ..:09, uid 7, seqno 99.
    const ECHO_REQUEST: [u8; 20] = [
        0x43, 0x0f, 0x32, 0x08, // type ver ttl msg_type
        0x02, 0x00, 0x00, 0x00, 0x00, 0x08, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // orig
        0x07, 0x00, 0x00, 0x63, // uid reserved seqno
    ];

    fn rr_packet() -> Vec<u8> {
        // Echo reply with two recorded hops (..:09 then ..:0a), seqno 100.
        let mut v = vec![
            0x43, 0x0f, 0x32, 0x00, // type ver ttl msg_type
            0x02, 0x00, 0x00, 0x00, 0x00, 0x08, // dst
            0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // orig
            0x07, 0x02, 0x00, 0x64, // uid rr_cur seqno
            0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // rr[0]
            0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, // rr[1]
        ];
        v.resize(RR_PACKET_LEN, 0);
        v
    }

    fn mac(last: u8) -> Mac {
        Mac([2, 0, 0, 0, 0, last])
    }

    #[test]
    fn parse_known_echo_request() {
        let p = IcmpPacket::new_checked(&ECHO_REQUEST[..]).unwrap();
        assert!(!p.is_route_record());
        assert_eq!(p.rr(0), None);
        assert_eq!(p.header_len(), HEADER_LEN);
        let r = IcmpRepr::parse(&p).unwrap();
        assert_eq!(
            r,
            IcmpRepr {
                msg_type: IcmpMsgType::EchoRequest,
                ttl: 50,
                dst: mac(8),
                orig: mac(9),
                uid: 7,
                seqno: 99,
                rr: None,
            }
        );
        assert_eq!(r.to_vec(&[]), ECHO_REQUEST.to_vec());
        assert_eq!(r.buffer_len(), 20);
    }

    #[test]
    fn field_order_is_uid_then_seqno() {
        // The facts sheet had seqno at 16; the kernel header has uid there.
        let mut v = ECHO_REQUEST;
        v[16] = 0xaa;
        v[17] = 0x00;
        v[18] = 0x12;
        v[19] = 0x34;
        let p = IcmpPacket::new_checked(&v[..]).unwrap();
        assert_eq!((p.uid(), p.seqno()), (0xaa, 0x1234));
    }

    #[test]
    fn reserved_byte_is_ignored_and_zeroed() {
        let mut v = ECHO_REQUEST;
        v[17] = 0x5a;
        let p = IcmpPacket::new_checked(&v[..]).unwrap();
        let r = IcmpRepr::parse(&p).unwrap();
        assert_eq!(r.rr, None);
        assert_eq!(r.to_vec(&[]), ECHO_REQUEST.to_vec());
    }

    #[test]
    fn parse_and_emit_route_record() {
        let bytes = rr_packet();
        let p = IcmpPacket::new_checked(&bytes[..]).unwrap();
        assert!(p.is_route_record());
        assert!(p.records_route());
        assert_eq!(p.rr_cur(), 2);
        assert_eq!(p.rr(1), Some(mac(0x0a)));
        assert_eq!(p.rr(2), Some(Mac::ZERO));
        assert_eq!(p.rr(16), None);
        assert!(p.payload().is_empty());
        let r = IcmpRepr::parse(&p).unwrap();
        assert_eq!(r.msg_type, IcmpMsgType::EchoReply);
        assert_eq!(r.seqno, 100);
        let rec = r.rr.unwrap();
        assert_eq!(rec.len(), 2);
        assert_eq!(rec.as_slice(), &[mac(9), mac(0x0a)]);
        assert_eq!(
            rec.iter().copied().collect::<Vec<_>>(),
            vec![mac(9), mac(10)]
        );
        assert_eq!(r.buffer_len(), RR_PACKET_LEN);
        assert_eq!(r.to_vec(&[]), bytes);
    }

    #[test]
    fn stale_slots_past_rr_cur_are_not_carried() {
        let mut bytes = rr_packet();
        bytes[32..38].copy_from_slice(&[2, 0, 0, 0, 0, 0x0b]); // rr[2], unused
        let r = IcmpRepr::parse(&IcmpPacket::new_checked(&bytes[..]).unwrap()).unwrap();
        assert_eq!(r.rr.unwrap().len(), 2);
        assert_eq!(r.to_vec(&[]), rr_packet());
    }

    #[test]
    fn route_record_bounds() {
        let mut bytes = rr_packet();
        bytes[17] = 16; // full: valid
        let r = IcmpRepr::parse(&IcmpPacket::new_checked(&bytes[..]).unwrap()).unwrap();
        assert!(r.rr.unwrap().is_full());
        bytes[17] = 17;
        assert_eq!(
            IcmpRepr::parse(&IcmpPacket::new_checked(&bytes[..]).unwrap()).unwrap_err(),
            Error::Malformed("ICMP rr_cur past the 16 route slots")
        );
        bytes[17] = 0xff;
        assert!(IcmpRepr::parse(&IcmpPacket::new_checked(&bytes[..]).unwrap()).is_err());
        // one byte short of the RR variant: a plain packet with trailing data
        let short = &rr_packet()[..RR_PACKET_LEN - 1];
        let p = IcmpPacket::new_checked(short).unwrap();
        assert!(!p.is_route_record());
        assert_eq!(p.payload().len(), RR_PACKET_LEN - 1 - HEADER_LEN);
        assert_eq!(IcmpRepr::parse(&p).unwrap().rr, None);
    }

    #[test]
    fn push_rr_appends_until_full() {
        let mut bytes = rr_packet();
        let mut p = IcmpPacket::new_checked(&mut bytes[..]).unwrap();
        p.push_rr(mac(0x0b)).unwrap();
        assert_eq!(p.rr_cur(), 3);
        assert_eq!(p.rr(2), Some(mac(0x0b)));
        for i in 3..RR_LEN {
            p.push_rr(mac(i as u8)).unwrap();
        }
        assert_eq!(p.rr_cur(), 16);
        assert_eq!(
            p.push_rr(mac(1)).unwrap_err(),
            Error::Malformed("route record full")
        );
        p.set_rr_cur(200);
        assert!(p.push_rr(mac(1)).is_err());

        let mut plain = ECHO_REQUEST;
        let mut p = IcmpPacket::new_checked(&mut plain[..]).unwrap();
        assert!(p.push_rr(mac(1)).is_err());
    }

    #[test]
    fn route_record_type() {
        let mut r = RouteRecord::new();
        assert!(r.is_empty());
        for i in 0..RR_LEN {
            r.push(mac(i as u8)).unwrap();
        }
        assert!(r.is_full());
        assert!(r.push(mac(0)).is_err());
        assert_eq!((&r).into_iter().count(), 16);
        let hops = [mac(1), mac(2)];
        assert_eq!(RouteRecord::from_hops(&hops).unwrap().as_slice(), &hops);
        assert!(RouteRecord::from_hops(&[mac(1); 17]).is_err());
        assert_eq!(RouteRecord::default(), RouteRecord::new());
    }

    #[test]
    fn emit_route_record_from_repr() {
        let r = IcmpRepr {
            msg_type: IcmpMsgType::EchoReply,
            ttl: 50,
            dst: mac(8),
            orig: mac(9),
            uid: 7,
            seqno: 100,
            rr: Some(RouteRecord::from_hops(&[mac(9), mac(10)]).unwrap()),
        };
        let mut buf = vec![0xeeu8; RR_PACKET_LEN];
        r.emit(&mut buf);
        assert_eq!(buf, rr_packet());
    }

    #[test]
    fn throughput_meter_is_never_a_route_record() {
        let mut bytes = rr_packet();
        bytes[3] = 15; // TP
        bytes[17] = 0xff; // TP subtype/session bytes, not rr_cur
        let p = IcmpPacket::new_checked(&bytes[..]).unwrap();
        assert!(!p.is_route_record());
        assert_eq!(p.header_len(), HEADER_LEN);
        let r = IcmpRepr::parse(&p).unwrap();
        assert_eq!((r.msg_type, r.rr), (IcmpMsgType::Tp, None));
    }

    #[test]
    fn ttl_exceeded_keeps_its_route_record() {
        let mut bytes = rr_packet();
        bytes[3] = 11;
        let p = IcmpPacket::new_checked(&bytes[..]).unwrap();
        assert!(p.is_route_record());
        assert!(!p.records_route());
        assert_eq!(IcmpRepr::parse(&p).unwrap().rr.unwrap().len(), 2);
    }

    #[test]
    fn setters() {
        let mut v = ECHO_REQUEST;
        let mut p = IcmpPacket::new_checked(&mut v[..]).unwrap();
        p.set_ttl(1);
        p.set_msg_type(IcmpMsgType::TtlExceeded);
        p.set_dst(mac(1));
        p.set_orig(mac(2));
        p.set_uid(3);
        p.set_seqno(4);
        let r = IcmpRepr::parse(&p).unwrap();
        assert_eq!(
            (r.ttl, r.msg_type, r.dst, r.orig, r.uid, r.seqno),
            (1, IcmpMsgType::TtlExceeded, mac(1), mac(2), 3, 4)
        );
        assert!(p.payload_mut().is_empty());
    }

    #[test]
    fn msg_type_values() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(IcmpMsgType::from(v)), v);
        }
        assert_eq!(IcmpMsgType::from(3), IcmpMsgType::DestinationUnreachable);
        assert_eq!(IcmpMsgType::from(12), IcmpMsgType::ParameterProblem);
    }

    #[test]
    fn rejects_truncated_version_and_type() {
        assert_eq!(
            IcmpPacket::new_checked(&ECHO_REQUEST[..19]).unwrap_err(),
            Error::Truncated { need: 20, have: 19 }
        );
        let mut v = ECHO_REQUEST;
        v[1] = 14;
        assert_eq!(
            IcmpPacket::new_checked(&v[..]).unwrap_err(),
            Error::Version(14)
        );
        v[1] = 15;
        v[0] = 0x02; // batman-adv v14's ICMP type: not ours
        assert_eq!(
            IcmpPacket::new_checked(&v[..]).unwrap_err(),
            Error::PacketType(0x02)
        );
        assert!(IcmpRepr::parse(&IcmpPacket::new_unchecked(&ECHO_REQUEST[..3])).is_err());
    }
}

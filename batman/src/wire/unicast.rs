//! Unicast payload packets: UNICAST (0x40) and UNICAST_4ADDR (0x42).
//!
//! UNICAST, 10 bytes, followed by the inner Ethernet frame:
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +---------------+---------------+---------------+---------------+
//! |  packet_type  |    version    |      ttl      |     ttvn      |  0
//! +---------------+---------------+---------------+---------------+
//! |                     dest (6 bytes) ...                        |  4
//! +                               +---------------+---------------+
//! |                               |  inner Ethernet frame ...     |  8
//! +---------------+---------------+                               +
//! ```
//!
//! UNICAST_4ADDR, 18 bytes: the same first 10 bytes (with packet type
//! 0x42), then the sender's originator address and a subtype:
//!
//! ```text
//! +---------------+---------------+---------------+---------------+
//! |  packet_type  |    version    |      ttl      |     ttvn      |  0
//! +---------------+---------------+---------------+---------------+
//! |                     dest (6 bytes) ...                        |  4
//! +                               +---------------+---------------+
//! |                               |      src (6 bytes) ...        |  8
//! +---------------+---------------+                               +
//! |                                                               | 12
//! +---------------+---------------+---------------+---------------+
//! |    subtype    |   reserved    |  inner Ethernet frame ...     | 16
//! +---------------+---------------+                               +
//! ```
//!
//! `dest` is the originator the packet is routed to, `ttvn` the
//! translation-table version the sender knew for it. Both headers are 4n+2
//! bytes so the inner frame's IP header stays 4-byte aligned.

use super::{
    check_len, check_type_version, mac_at, put_mac, Mac, PacketType, Result, COMPAT_VERSION,
};

/// Length of the UNICAST header.
pub const HEADER_LEN: usize = 10;
/// Length of the UNICAST_4ADDR header.
pub const HEADER_4ADDR_LEN: usize = 18;

mod field {
    pub const TTL: usize = 2;
    pub const TTVN: usize = 3;
    pub const DEST: usize = 4;
    // UNICAST_4ADDR only:
    pub const SRC: usize = 10;
    pub const SUBTYPE: usize = 16;
    pub const RESERVED: usize = 17;
}

// The layouts have no holes and end where the headers do.
const _: () = assert!(field::DEST + 6 == HEADER_LEN);
const _: () = assert!(field::SRC == HEADER_LEN);
const _: () = assert!(field::SRC + 6 == field::SUBTYPE);
const _: () = assert!(field::RESERVED + 1 == HEADER_4ADDR_LEN);
// 4n+2: the inner Ethernet payload stays 4-byte aligned.
const _: () = assert!(HEADER_LEN % 4 == 2 && HEADER_4ADDR_LEN % 4 == 2);

/// UNICAST_4ADDR subtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subtype {
    /// User payload.
    Data,
    /// Distributed ARP table: DHT get request.
    DatDhtGet,
    /// Distributed ARP table: DHT store.
    DatDhtPut,
    /// ARP reply generated from the DAT cache.
    DatCacheReply,
    /// Any other value: carried unchanged.
    Unknown(u8),
}

impl From<u8> for Subtype {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Data,
            2 => Self::DatDhtGet,
            3 => Self::DatDhtPut,
            4 => Self::DatCacheReply,
            o => Self::Unknown(o),
        }
    }
}

impl From<Subtype> for u8 {
    fn from(s: Subtype) -> u8 {
        match s {
            Subtype::Data => 1,
            Subtype::DatDhtGet => 2,
            Subtype::DatDhtPut => 3,
            Subtype::DatCacheReply => 4,
            Subtype::Unknown(o) => o,
        }
    }
}

/// A read/write view of a UNICAST packet.
#[derive(Debug, Clone)]
pub struct UnicastPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UnicastPacket<T> {
    /// Wrap without checks; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        UnicastPacket { buffer }
    }

    /// Wrap and validate type (0x40 only), version and header length.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate what `new_checked` validates.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        check_type_version(b, PacketType::Unicast)?;
        check_len(b, HEADER_LEN)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn ttvn(&self) -> u8 {
        self.buffer.as_ref()[field::TTVN]
    }
    pub fn dest(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::DEST)
    }
    /// Everything after the header (the inner Ethernet frame).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UnicastPacket<T> {
    fn b(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.b()[field::TTL] = v
    }
    pub fn set_ttvn(&mut self, v: u8) {
        self.b()[field::TTVN] = v
    }
    pub fn set_dest(&mut self, v: Mac) {
        put_mac(self.b(), field::DEST, v)
    }
    /// Mutable bytes after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.b()[HEADER_LEN..]
    }
}

/// Decoded UNICAST header fields (the payload stays in the buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnicastRepr {
    pub ttl: u8,
    pub ttvn: u8,
    pub dest: Mac,
}

impl UnicastRepr {
    /// Decode a view (validated again, so an unchecked view is fine).
    pub fn parse<T: AsRef<[u8]>>(p: &UnicastPacket<T>) -> Result<Self> {
        p.check_len()?;
        Ok(UnicastRepr {
            ttl: p.ttl(),
            ttvn: p.ttvn(),
            dest: p.dest(),
        })
    }

    /// Bytes the header needs (the payload is not part of the repr).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the first `HEADER_LEN` bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = PacketType::Unicast as u8;
        buf[1] = COMPAT_VERSION;
        let mut p = UnicastPacket::new_unchecked(buf);
        p.set_ttl(self.ttl);
        p.set_ttvn(self.ttvn);
        p.set_dest(self.dest);
    }

    /// Emit the header followed by `payload` into a new vector.
    pub fn to_vec(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; HEADER_LEN + payload.len()];
        self.emit(&mut v);
        v[HEADER_LEN..].copy_from_slice(payload);
        v
    }
}

/// A read/write view of a UNICAST_4ADDR packet.
#[derive(Debug, Clone)]
pub struct Unicast4AddrPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Unicast4AddrPacket<T> {
    /// Wrap without checks; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        Unicast4AddrPacket { buffer }
    }

    /// Wrap and validate type (0x42 only), version and header length.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate what `new_checked` validates.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        check_type_version(b, PacketType::Unicast4Addr)?;
        check_len(b, HEADER_4ADDR_LEN)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn ttvn(&self) -> u8 {
        self.buffer.as_ref()[field::TTVN]
    }
    pub fn dest(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::DEST)
    }
    /// Originator address of the sender.
    pub fn src(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::SRC)
    }
    pub fn subtype(&self) -> Subtype {
        self.buffer.as_ref()[field::SUBTYPE].into()
    }
    /// Everything after the header (the inner Ethernet frame).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_4ADDR_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Unicast4AddrPacket<T> {
    fn b(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.b()[field::TTL] = v
    }
    pub fn set_ttvn(&mut self, v: u8) {
        self.b()[field::TTVN] = v
    }
    pub fn set_dest(&mut self, v: Mac) {
        put_mac(self.b(), field::DEST, v)
    }
    pub fn set_src(&mut self, v: Mac) {
        put_mac(self.b(), field::SRC, v)
    }
    pub fn set_subtype(&mut self, v: Subtype) {
        self.b()[field::SUBTYPE] = v.into()
    }
    /// Mutable bytes after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.b()[HEADER_4ADDR_LEN..]
    }
}

/// Decoded UNICAST_4ADDR header fields (the payload stays in the buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unicast4AddrRepr {
    pub ttl: u8,
    pub ttvn: u8,
    pub dest: Mac,
    pub src: Mac,
    pub subtype: Subtype,
}

impl Unicast4AddrRepr {
    /// Decode a view (validated again, so an unchecked view is fine).
    pub fn parse<T: AsRef<[u8]>>(p: &Unicast4AddrPacket<T>) -> Result<Self> {
        p.check_len()?;
        Ok(Unicast4AddrRepr {
            ttl: p.ttl(),
            ttvn: p.ttvn(),
            dest: p.dest(),
            src: p.src(),
            subtype: p.subtype(),
        })
    }

    /// Bytes the header needs (the payload is not part of the repr).
    pub const fn buffer_len(&self) -> usize {
        HEADER_4ADDR_LEN
    }

    /// Write the header into the first `HEADER_4ADDR_LEN` bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = PacketType::Unicast4Addr as u8;
        buf[1] = COMPAT_VERSION;
        let mut p = Unicast4AddrPacket::new_unchecked(buf);
        p.set_ttl(self.ttl);
        p.set_ttvn(self.ttvn);
        p.set_dest(self.dest);
        p.set_src(self.src);
        p.set_subtype(self.subtype);
        p.b()[field::RESERVED] = 0;
    }

    /// Emit the header followed by `payload` into a new vector.
    pub fn to_vec(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; HEADER_4ADDR_LEN + payload.len()];
        self.emit(&mut v);
        v[HEADER_4ADDR_LEN..].copy_from_slice(payload);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Error;

    // ttl 48, ttvn 5, dest 02:00:00:00:00:08, then two payload bytes.
    const UNICAST: [u8; 12] = [
        0x40, 0x0f, 0x30, 0x05, // type ver ttl ttvn
        0x02, 0x00, 0x00, 0x00, 0x00, 0x08, // dest
        0xab, 0xcd, // payload
    ];

    // ttl 47, ttvn 6, dest ..:08, src ..:09, subtype DAT_DHT_GET.
    const UNICAST_4ADDR: [u8; 20] = [
        0x42, 0x0f, 0x2f, 0x06, // type ver ttl ttvn
        0x02, 0x00, 0x00, 0x00, 0x00, 0x08, // dest
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // src
        0x02, 0x00, // subtype reserved
        0xab, 0xcd, // payload
    ];

    #[test]
    fn unicast_parse_known_bytes() {
        let p = UnicastPacket::new_checked(&UNICAST[..]).unwrap();
        let r = UnicastRepr::parse(&p).unwrap();
        assert_eq!(
            r,
            UnicastRepr {
                ttl: 48,
                ttvn: 5,
                dest: Mac([2, 0, 0, 0, 0, 8]),
            }
        );
        assert_eq!(p.payload(), &[0xab, 0xcd]);
        assert_eq!(r.buffer_len(), 10);
    }

    #[test]
    fn unicast_emit_matches_known_bytes() {
        let p = UnicastPacket::new_checked(&UNICAST[..]).unwrap();
        let r = UnicastRepr::parse(&p).unwrap();
        assert_eq!(r.to_vec(p.payload()), UNICAST.to_vec());
    }

    #[test]
    fn unicast_setters() {
        let mut v = UNICAST;
        let mut p = UnicastPacket::new_checked(&mut v[..]).unwrap();
        p.set_ttl(1);
        p.set_ttvn(2);
        p.set_dest(Mac([2, 0, 0, 0, 0, 3]));
        p.payload_mut()[1] = 0;
        assert_eq!(&v[2..4], &[1, 2]);
        assert_eq!(&v[4..10], &[2, 0, 0, 0, 0, 3]);
        assert_eq!(v[11], 0);
    }

    #[test]
    fn unicast_rejects_truncated_version_and_type() {
        assert_eq!(
            UnicastPacket::new_checked(&UNICAST[..9]).unwrap_err(),
            Error::Truncated { need: 10, have: 9 }
        );
        assert!(UnicastPacket::new_checked(&UNICAST[..10]).is_ok());
        assert_eq!(
            UnicastPacket::new_checked(&[][..]).unwrap_err(),
            Error::Truncated { need: 2, have: 0 }
        );
        let mut v = UNICAST;
        v[1] = 16;
        assert_eq!(
            UnicastPacket::new_checked(&v[..]).unwrap_err(),
            Error::Version(16)
        );
        // a 4ADDR packet is not a plain UNICAST
        assert_eq!(
            UnicastPacket::new_checked(&UNICAST_4ADDR[..]).unwrap_err(),
            Error::PacketType(0x42)
        );
    }

    #[test]
    fn unicast_4addr_parse_known_bytes() {
        let p = Unicast4AddrPacket::new_checked(&UNICAST_4ADDR[..]).unwrap();
        let r = Unicast4AddrRepr::parse(&p).unwrap();
        assert_eq!(
            r,
            Unicast4AddrRepr {
                ttl: 47,
                ttvn: 6,
                dest: Mac([2, 0, 0, 0, 0, 8]),
                src: Mac([2, 0, 0, 0, 0, 9]),
                subtype: Subtype::DatDhtGet,
            }
        );
        assert_eq!(p.payload(), &[0xab, 0xcd]);
        assert_eq!(r.buffer_len(), 18);
    }

    #[test]
    fn unicast_4addr_emit_matches_known_bytes() {
        let p = Unicast4AddrPacket::new_checked(&UNICAST_4ADDR[..]).unwrap();
        let r = Unicast4AddrRepr::parse(&p).unwrap();
        assert_eq!(r.to_vec(p.payload()), UNICAST_4ADDR.to_vec());
        // reserved is zeroed on emit, ignored on parse
        let mut v = UNICAST_4ADDR;
        v[17] = 0x77;
        let p = Unicast4AddrPacket::new_checked(&v[..]).unwrap();
        assert_eq!(Unicast4AddrRepr::parse(&p).unwrap(), r);
        let mut out = [0xffu8; HEADER_4ADDR_LEN];
        r.emit(&mut out);
        assert_eq!(&out[..], &UNICAST_4ADDR[..HEADER_4ADDR_LEN]);
    }

    #[test]
    fn unicast_4addr_setters_and_unknown_subtype() {
        let mut v = UNICAST_4ADDR;
        let mut p = Unicast4AddrPacket::new_checked(&mut v[..]).unwrap();
        p.set_src(Mac([2, 0, 0, 0, 0, 0x0a]));
        p.set_subtype(Subtype::Unknown(0x99));
        p.set_ttl(3);
        p.set_ttvn(4);
        p.set_dest(Mac([2, 0, 0, 0, 0, 0x0b]));
        p.payload_mut()[0] = 0;
        let r = Unicast4AddrRepr::parse(&p).unwrap();
        assert_eq!(r.subtype, Subtype::Unknown(0x99));
        assert_eq!(r.src, Mac([2, 0, 0, 0, 0, 0x0a]));
        assert_eq!((r.ttl, r.ttvn), (3, 4));
        assert_eq!(v[16], 0x99);
        assert_eq!(v[18], 0);
    }

    #[test]
    fn subtype_values_round_trip() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(Subtype::from(v)), v);
        }
        assert_eq!(Subtype::from(1), Subtype::Data);
        assert_eq!(Subtype::from(3), Subtype::DatDhtPut);
        assert_eq!(Subtype::from(4), Subtype::DatCacheReply);
        assert_eq!(Subtype::from(0), Subtype::Unknown(0));
    }

    #[test]
    fn unicast_4addr_rejects_truncated_version_and_type() {
        assert_eq!(
            Unicast4AddrPacket::new_checked(&UNICAST_4ADDR[..17]).unwrap_err(),
            Error::Truncated { need: 18, have: 17 }
        );
        // a plain UNICAST header is too short and has the wrong type
        assert_eq!(
            Unicast4AddrPacket::new_checked(&UNICAST[..]).unwrap_err(),
            Error::PacketType(0x40)
        );
        let mut v = UNICAST_4ADDR;
        v[1] = 14;
        assert_eq!(
            Unicast4AddrPacket::new_checked(&v[..]).unwrap_err(),
            Error::Version(14)
        );
        assert!(
            Unicast4AddrRepr::parse(&Unicast4AddrPacket::new_unchecked(&UNICAST_4ADDR[..12]))
                .is_err()
        );
    }
}

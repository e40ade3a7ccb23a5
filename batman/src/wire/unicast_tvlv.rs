//! Unicast TVLV (UNICAST_TVLV), packet type 0x44: TVLV containers routed
//! to one originator (translation-table requests and responses, roaming
//! advertisements).
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +---------------+---------------+---------------+---------------+
//! |  packet_type  |    version    |      ttl      |   reserved    |  0
//! +---------------+---------------+---------------+---------------+
//! |                      dst (6 bytes) ...                        |  4
//! +                               +---------------+---------------+
//! |                               |      src (6 bytes) ...        |  8
//! +---------------+---------------+                               +
//! |                                                               | 12
//! +---------------+---------------+---------------+---------------+
//! |        tvlv_len (be16)        |         align (2 bytes)       | 16
//! +---------------+---------------+---------------+---------------+
//! |  tvlv_len bytes of TVLV containers (see `tvlv`) ...           | 20
//! ```
//!
//! `dst` is the destination originator, `src` the sending originator.
//! `reserved` and `align` are sent as zero and ignored on receive. Bytes
//! after `tvlv_len` (Ethernet padding of a short frame) are not part of
//! the packet.

use super::tvlv::TvlvIter;
use super::{
    be16, check_len, check_type_version, mac_at, put16, put_mac, Error, Mac, PacketType, Result,
    COMPAT_VERSION,
};

/// Length of the UNICAST_TVLV header.
pub const HEADER_LEN: usize = 20;

mod field {
    pub const TTL: usize = 2;
    pub const RESERVED: usize = 3;
    pub const DST: usize = 4;
    pub const SRC: usize = 10;
    pub const TVLV_LEN: usize = 16;
    pub const ALIGN: usize = 18;
}

// The last field ends where the header does: the layout has no hole.
const _: () = assert!(field::ALIGN + 2 == HEADER_LEN);
const _: () = assert!(field::TVLV_LEN + 2 == field::ALIGN);
const _: () = assert!(field::DST + 6 == field::SRC);
const _: () = assert!(field::SRC + 6 == field::TVLV_LEN);

/// A read/write view of a UNICAST_TVLV packet.
#[derive(Debug, Clone)]
pub struct UnicastTvlvPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UnicastTvlvPacket<T> {
    /// Wrap without checks; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        UnicastTvlvPacket { buffer }
    }

    /// Wrap and validate type, version, header length and `tvlv_len`.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate what `new_checked` validates.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        check_type_version(b, PacketType::UnicastTvlv)?;
        check_len(b, HEADER_LEN)?;
        let tvlv = be16(b, field::TVLV_LEN) as usize;
        if HEADER_LEN + tvlv > b.len() {
            return Err(Error::Overrun {
                len: tvlv,
                avail: b.len() - HEADER_LEN,
            });
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    /// Destination originator.
    pub fn dst(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::DST)
    }
    /// Sending originator.
    pub fn src(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::SRC)
    }
    pub fn tvlv_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TVLV_LEN)
    }
    /// Header plus TVLVs: the bytes the packet occupies.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.tvlv_len() as usize
    }
    /// The TVLV container bytes.
    pub fn tvlv(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.total_len()]
    }
    /// Walk the TVLV containers.
    pub fn tvlv_iter(&self) -> TvlvIter<'_> {
        TvlvIter::new(self.tvlv())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UnicastTvlvPacket<T> {
    fn b(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.b()[field::TTL] = v
    }
    pub fn set_dst(&mut self, v: Mac) {
        put_mac(self.b(), field::DST, v)
    }
    pub fn set_src(&mut self, v: Mac) {
        put_mac(self.b(), field::SRC, v)
    }
    pub fn set_tvlv_len(&mut self, v: u16) {
        put16(self.b(), field::TVLV_LEN, v)
    }
    /// Mutable TVLV bytes (length from `tvlv_len`).
    pub fn tvlv_mut(&mut self) -> &mut [u8] {
        let end = self.total_len();
        &mut self.b()[HEADER_LEN..end]
    }
}

/// Decoded UNICAST_TVLV header fields (the TVLV bytes stay in the buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnicastTvlvRepr {
    pub ttl: u8,
    pub dst: Mac,
    pub src: Mac,
    pub tvlv_len: u16,
}

impl UnicastTvlvRepr {
    /// Decode a view (validated again, so an unchecked view is fine).
    pub fn parse<T: AsRef<[u8]>>(p: &UnicastTvlvPacket<T>) -> Result<Self> {
        p.check_len()?;
        Ok(UnicastTvlvRepr {
            ttl: p.ttl(),
            dst: p.dst(),
            src: p.src(),
            tvlv_len: p.tvlv_len(),
        })
    }

    /// Bytes needed: header plus `tvlv_len`.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.tvlv_len as usize
    }

    /// Write the header; the caller fills `tvlv_mut()` afterwards.
    /// `buf` must hold at least `HEADER_LEN` bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = PacketType::UnicastTvlv as u8;
        buf[1] = COMPAT_VERSION;
        let mut p = UnicastTvlvPacket::new_unchecked(buf);
        p.set_ttl(self.ttl);
        p.b()[field::RESERVED] = 0;
        p.set_dst(self.dst);
        p.set_src(self.src);
        p.set_tvlv_len(self.tvlv_len);
        put16(p.b(), field::ALIGN, 0);
    }

    /// Emit header plus `tvlv` into a new vector (`tvlv_len` is taken from
    /// `tvlv.len()`). `Malformed` if `tvlv` is longer than 65535 bytes.
    pub fn to_vec(&self, tvlv: &[u8]) -> Result<Vec<u8>> {
        let len = u16::try_from(tvlv.len())
            .map_err(|_| Error::Malformed("TVLV area longer than 65535 bytes"))?;
        let r = UnicastTvlvRepr {
            tvlv_len: len,
            ..*self
        };
        let mut v = vec![0u8; r.buffer_len()];
        r.emit(&mut v);
        v[HEADER_LEN..].copy_from_slice(tvlv);
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TvlvType;

    // ttl 44, dst ..:08, src ..:09, one ROAM TVLV (client 0a:..:05,
    // vid 0x8003), then two bytes of Ethernet padding.
    const PKT: [u8; 34] = [
        0x44, 0x0f, 0x2c, 0x00, // type ver ttl reserved
        0x02, 0x00, 0x00, 0x00, 0x00, 0x08, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // src
        0x00, 0x0c, 0x00, 0x00, // tvlv_len=12 align
        0x05, 0x01, 0x00, 0x08, // ROAM v1 len 8
        0x0a, 0x00, 0x00, 0x00, 0x00, 0x05, 0x80, 0x03, // client vid
        0x00, 0x00, // padding
    ];

    fn repr() -> UnicastTvlvRepr {
        UnicastTvlvRepr {
            ttl: 44,
            dst: Mac([2, 0, 0, 0, 0, 8]),
            src: Mac([2, 0, 0, 0, 0, 9]),
            tvlv_len: 12,
        }
    }

    #[test]
    fn parse_known_bytes() {
        let p = UnicastTvlvPacket::new_checked(&PKT[..]).unwrap();
        assert_eq!(UnicastTvlvRepr::parse(&p).unwrap(), repr());
        assert_eq!(p.total_len(), 32);
        assert_eq!(p.tvlv(), &PKT[20..32]);
        let t: Vec<_> = p.tvlv_iter().map(|r| r.unwrap()).collect();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].tvlv_type, TvlvType::Roam);
        assert_eq!(t[0].value.len(), 8);
    }

    #[test]
    fn emit_matches_known_bytes() {
        let v = repr().to_vec(&PKT[20..32]).unwrap();
        assert_eq!(v, PKT[..32].to_vec());
        assert_eq!(repr().buffer_len(), 32);
        // reserved and align are zeroed on emit, ignored on parse
        let mut buf = [0xffu8; 32];
        repr().emit(&mut buf);
        assert_eq!(&buf[..HEADER_LEN], &PKT[..HEADER_LEN]);
        let mut odd = PKT;
        odd[3] = 1;
        odd[18] = 2;
        odd[19] = 3;
        let p = UnicastTvlvPacket::new_checked(&odd[..]).unwrap();
        assert_eq!(UnicastTvlvRepr::parse(&p).unwrap(), repr());
    }

    #[test]
    fn zero_length_tvlv_area() {
        let r = UnicastTvlvRepr {
            tvlv_len: 0,
            ..repr()
        };
        let v = r.to_vec(&[]).unwrap();
        assert_eq!(v.len(), HEADER_LEN);
        let p = UnicastTvlvPacket::new_checked(&v[..]).unwrap();
        assert!(p.tvlv().is_empty());
        assert_eq!(p.tvlv_iter().count(), 0);
    }

    #[test]
    fn setters() {
        let mut v = PKT;
        let mut p = UnicastTvlvPacket::new_checked(&mut v[..]).unwrap();
        p.set_ttl(1);
        p.set_dst(Mac([2, 0, 0, 0, 0, 1]));
        p.set_src(Mac([2, 0, 0, 0, 0, 2]));
        p.tvlv_mut()[0] = 0x04;
        p.set_tvlv_len(4);
        assert_eq!(p.tvlv_mut().len(), 4);
        let r = UnicastTvlvRepr::parse(&p).unwrap();
        assert_eq!((r.ttl, r.tvlv_len), (1, 4));
        assert_eq!(v[20], 0x04);
    }

    #[test]
    fn rejects_truncated_version_type_and_overrun() {
        assert_eq!(
            UnicastTvlvPacket::new_checked(&PKT[..19]).unwrap_err(),
            Error::Truncated { need: 20, have: 19 }
        );
        let mut v = PKT;
        v[1] = 14;
        assert_eq!(
            UnicastTvlvPacket::new_checked(&v[..]).unwrap_err(),
            Error::Version(14)
        );
        v[1] = 15;
        v[0] = 0x43;
        assert_eq!(
            UnicastTvlvPacket::new_checked(&v[..]).unwrap_err(),
            Error::PacketType(0x43)
        );
        // tvlv_len past the end
        assert_eq!(
            UnicastTvlvPacket::new_checked(&PKT[..31]).unwrap_err(),
            Error::Overrun { len: 12, avail: 11 }
        );
        let mut v = PKT;
        v[16] = 0xff;
        v[17] = 0xff;
        assert_eq!(
            UnicastTvlvPacket::new_checked(&v[..]).unwrap_err(),
            Error::Overrun {
                len: 0xffff,
                avail: 14
            }
        );
        assert!(UnicastTvlvRepr::parse(&UnicastTvlvPacket::new_unchecked(&v[..])).is_err());
    }

    #[test]
    fn nested_tvlv_overrun_is_reported_by_the_iterator() {
        // the packet is fine, the container inside claims 255 bytes
        let mut v = PKT;
        v[23] = 0xff;
        let p = UnicastTvlvPacket::new_checked(&v[..]).unwrap();
        let t: Vec<_> = p.tvlv_iter().collect();
        assert_eq!(t, vec![Err(Error::Overrun { len: 255, avail: 8 })]);
    }

    #[test]
    fn to_vec_rejects_oversized_area() {
        let big = vec![0u8; 65536];
        assert!(repr().to_vec(&big).is_err());
        assert!(repr().to_vec(&big[..65535]).is_ok());
    }
}

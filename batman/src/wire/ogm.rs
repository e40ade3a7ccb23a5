//! BATMAN IV originator message (OGM), packet type 0x00.
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +---------------+---------------+---------------+---------------+
//! |  packet_type  |    version    |      ttl      |     flags     |  0
//! +---------------+---------------+---------------+---------------+
//! |                          seqno (be32)                         |  4
//! +---------------+---------------+---------------+---------------+
//! |                     orig (6 bytes) ...                        |  8
//! +                               +---------------+---------------+
//! |                               |   prev_sender (6 bytes) ...   | 12
//! +---------------+---------------+                               +
//! |                                                               | 16
//! +---------------+---------------+---------------+---------------+
//! |   reserved    |      tq       |        tvlv_len (be16)        | 20
//! +---------------+---------------+---------------+---------------+
//! |  tvlv_len bytes of TVLV containers (see `tvlv`) ...           | 24
//! ```
//!
//! Several OGMs may be aggregated back to back in one frame; [`OgmIter`]
//! walks them. As in batman-adv, an OGM with an odd `tvlv_len` is dropped and ends the walk (the next
//! OGM would be misaligned) and trailing bytes too short for a header are
//! Ethernet padding.

use super::{
    be16, be32, check_len, check_type_version, mac_at, put16, put32, put_mac, Error, Mac,
    PacketType, Result, COMPAT_VERSION,
};

/// Length of the OGM header.
pub const HEADER_LEN: usize = 24;

mod field {
    pub const TTL: usize = 2;
    pub const FLAGS: usize = 3;
    pub const SEQNO: usize = 4;
    pub const ORIG: usize = 8;
    pub const PREV_SENDER: usize = 14;
    pub const RESERVED: usize = 20;
    pub const TQ: usize = 21;
    pub const TVLV_LEN: usize = 22;
}

// The last field ends where the header does: the layout has no hole.
const _: () = assert!(field::TVLV_LEN + 2 == HEADER_LEN);
const _: () = assert!(field::PREV_SENDER + 6 == field::RESERVED);

/// OGM flag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OgmFlags(pub u8);

impl OgmFlags {
    /// Forwarded although it did not come from the forwarder's best next hop.
    pub const NOT_BEST_NEXT_HOP: u8 = 0x01;
    /// Defined by batman-adv but unused there ("flag unused"); never set by us.
    pub const PRIMARIES_FIRST_HOP: u8 = 0x02;
    /// First hop, or rebroadcast by a one-hop neighbour on the interface it
    /// was received on.
    pub const DIRECTLINK: u8 = 0x04;

    pub fn contains(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    pub fn with(self, bit: u8) -> Self {
        OgmFlags(self.0 | bit)
    }
    pub fn without(self, bit: u8) -> Self {
        OgmFlags(self.0 & !bit)
    }
}

/// A read/write view of one OGM.
#[derive(Debug, Clone)]
pub struct OgmPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> OgmPacket<T> {
    /// Wrap without checks; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        OgmPacket { buffer }
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
        check_type_version(b, PacketType::IvOgm)?;
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
    pub fn flags(&self) -> OgmFlags {
        OgmFlags(self.buffer.as_ref()[field::FLAGS])
    }
    pub fn seqno(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQNO)
    }
    pub fn orig(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::ORIG)
    }
    pub fn prev_sender(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::PREV_SENDER)
    }
    pub fn tq(&self) -> u8 {
        self.buffer.as_ref()[field::TQ]
    }
    pub fn tvlv_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TVLV_LEN)
    }
    /// Header plus TVLVs: the bytes this OGM occupies in an aggregate.
    pub fn total_len(&self) -> usize {
        HEADER_LEN + self.tvlv_len() as usize
    }
    /// The TVLV container bytes.
    pub fn tvlv(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.total_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> OgmPacket<T> {
    fn b(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.b()[field::TTL] = v
    }
    pub fn set_flags(&mut self, v: OgmFlags) {
        self.b()[field::FLAGS] = v.0
    }
    pub fn set_seqno(&mut self, v: u32) {
        put32(self.b(), field::SEQNO, v)
    }
    pub fn set_orig(&mut self, v: Mac) {
        put_mac(self.b(), field::ORIG, v)
    }
    pub fn set_prev_sender(&mut self, v: Mac) {
        put_mac(self.b(), field::PREV_SENDER, v)
    }
    pub fn set_tq(&mut self, v: u8) {
        self.b()[field::TQ] = v
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

/// Decoded OGM header fields (the TVLV bytes stay in the buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OgmRepr {
    pub ttl: u8,
    pub flags: OgmFlags,
    pub seqno: u32,
    pub orig: Mac,
    pub prev_sender: Mac,
    pub tq: u8,
    pub tvlv_len: u16,
}

impl OgmRepr {
    /// Decode a checked view.
    pub fn parse<T: AsRef<[u8]>>(p: &OgmPacket<T>) -> Result<Self> {
        p.check_len()?;
        Ok(OgmRepr {
            ttl: p.ttl(),
            flags: p.flags(),
            seqno: p.seqno(),
            orig: p.orig(),
            prev_sender: p.prev_sender(),
            tq: p.tq(),
            tvlv_len: p.tvlv_len(),
        })
    }

    /// Bytes needed: header plus `tvlv_len`.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.tvlv_len as usize
    }

    /// Write the header; the caller fills `tvlv_mut()` afterwards.
    /// `buf` must hold `buffer_len()` bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = PacketType::IvOgm as u8;
        buf[1] = COMPAT_VERSION;
        let mut p = OgmPacket::new_unchecked(buf);
        p.set_ttl(self.ttl);
        p.set_flags(self.flags);
        p.set_seqno(self.seqno);
        p.set_orig(self.orig);
        p.set_prev_sender(self.prev_sender);
        p.b()[field::RESERVED] = 0;
        p.set_tq(self.tq);
        p.set_tvlv_len(self.tvlv_len);
    }

    /// Emit header plus `tvlv` into a new vector. `tvlv` must be shorter
    /// than 64 KiB (the node checks its own TVLV area when it is set).
    pub fn to_vec(&self, tvlv: &[u8]) -> Vec<u8> {
        let mut r = *self;
        r.tvlv_len = tvlv.len() as u16;
        let mut v = vec![0u8; r.buffer_len()];
        r.emit(&mut v);
        v[HEADER_LEN..].copy_from_slice(tvlv);
        v
    }
}

/// Walks the OGMs aggregated in one frame payload.
///
/// Yields `Ok(view)` for each complete OGM. Stops (yields `None`) at the end,
/// at trailing padding shorter than a header, or at a byte that is not an
/// OGM type (padding). A header whose version is wrong, whose `tvlv_len` is
/// odd (batman-adv drops it: the next OGM would be misaligned) or runs past
/// the end yields one `Err` and then stops.
#[derive(Debug, Clone)]
pub struct OgmIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> OgmIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        OgmIter {
            buf,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for OgmIter<'a> {
    type Item = Result<OgmPacket<&'a [u8]>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = &self.buf[self.pos..];
        // The first OGM must be complete; later short tails are padding.
        if self.pos > 0 && (rest.len() < HEADER_LEN || rest[0] != PacketType::IvOgm as u8) {
            self.done = true;
            return None;
        }
        match OgmPacket::new_checked(rest) {
            Ok(p) if p.tvlv_len() & 1 == 1 => {
                // batman-adv drops such an OGM and stops: the next one
                // would be misaligned.
                self.done = true;
                Some(Err(Error::Malformed("odd tvlv_len in an OGM")))
            }
            Ok(p) => {
                let len = p.total_len();
                let p = OgmPacket::new_unchecked(&rest[..len]);
                self.pos += len;
                if self.pos >= self.buf.len() {
                    self.done = true;
                }
                Some(Ok(p))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An OGM as batman-adv sends it: ttl 50, DIRECTLINK, seqno 0x01020304,
    // orig 02:00:00:00:00:01, prev_sender 02:00:00:00:00:02, tq 255,
    // one 8-byte GW TVLV.
    const OGM: [u8; 36] = [
        0x00, 0x0f, 0x32, 0x04, 0x01, 0x02, 0x03, 0x04, // type ver ttl flags seqno
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // orig
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // prev_sender
        0x00, 0xff, 0x00, 0x0c, // reserved tq tvlv_len=12
        0x01, 0x01, 0x00, 0x08, // GW tvlv header
        0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x0a,
    ];

    #[test]
    fn parse_known_bytes() {
        let p = OgmPacket::new_checked(&OGM[..]).unwrap();
        let r = OgmRepr::parse(&p).unwrap();
        assert_eq!(r.ttl, 50);
        assert!(r.flags.contains(OgmFlags::DIRECTLINK));
        assert_eq!(r.seqno, 0x0102_0304);
        assert_eq!(r.orig, Mac([2, 0, 0, 0, 0, 1]));
        assert_eq!(r.prev_sender, Mac([2, 0, 0, 0, 0, 2]));
        assert_eq!(r.tq, 255);
        assert_eq!(r.tvlv_len, 12);
        assert_eq!(p.tvlv(), &OGM[24..]);
    }

    #[test]
    fn emit_matches_known_bytes() {
        let p = OgmPacket::new_checked(&OGM[..]).unwrap();
        let r = OgmRepr::parse(&p).unwrap();
        assert_eq!(r.to_vec(p.tvlv()), OGM.to_vec());
    }

    #[test]
    fn rejects_truncated_version_type_and_overrun() {
        assert!(matches!(
            OgmPacket::new_checked(&OGM[..23]),
            Err(Error::Truncated { need: 24, have: 23 })
        ));
        let mut v = OGM;
        v[1] = 14;
        assert_eq!(
            OgmPacket::new_checked(&v[..]).unwrap_err(),
            Error::Version(14)
        );
        v[1] = 15;
        v[0] = 0x01;
        assert_eq!(
            OgmPacket::new_checked(&v[..]).unwrap_err(),
            Error::PacketType(1)
        );
        // tvlv_len past the end
        assert_eq!(
            OgmPacket::new_checked(&OGM[..30]).unwrap_err(),
            Error::Overrun { len: 12, avail: 6 }
        );
        let mut v = OGM;
        v[22] = 0xff;
        v[23] = 0xff;
        assert!(matches!(
            OgmPacket::new_checked(&v[..]),
            Err(Error::Overrun { .. })
        ));
    }

    #[test]
    fn iterates_aggregates_and_padding() {
        let mut agg = OGM.to_vec();
        agg.extend_from_slice(&OGM);
        agg.extend_from_slice(&[0u8; 10]); // Ethernet padding
        let v: Vec<_> = OgmIter::new(&agg).collect();
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|r| r.is_ok()));

        // an odd tvlv_len is an error and ends the walk
        let mut odd = OGM.to_vec();
        odd[23] = 11;
        odd.truncate(35);
        odd.extend_from_slice(&OGM);
        let v: Vec<_> = OgmIter::new(&odd).collect();
        assert_eq!(v.len(), 1);
        assert!(matches!(v[0], Err(Error::Malformed(_))));

        // a broken second header yields one error and stops
        let mut bad = OGM.to_vec();
        let mut second = OGM;
        second[1] = 3;
        bad.extend_from_slice(&second);
        let v: Vec<_> = OgmIter::new(&bad).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].as_ref().unwrap_err(), &Error::Version(3));

        assert!(OgmIter::new(&[]).next().unwrap().is_err());
    }
}

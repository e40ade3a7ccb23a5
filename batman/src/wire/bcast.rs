//! Broadcast (BCAST), packet type 0x01: a payload frame flooded through the
//! mesh.
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +---------------+---------------+---------------+---------------+
//! |  packet_type  |    version    |      ttl      |   reserved    |  0
//! +---------------+---------------+---------------+---------------+
//! |                          seqno (be32)                         |  4
//! +---------------+---------------+---------------+---------------+
//! |                     orig (6 bytes) ...                        |  8
//! +                               +---------------+---------------+
//! |                               |  inner Ethernet frame ...     | 12
//! +---------------+---------------+                               +
//! ```
//!
//! The 14-byte header (4n+2) keeps the IP header inside the inner Ethernet
//! frame 4-byte aligned. `orig` and `seqno` identify a broadcast for the
//! duplicate check; `reserved` is sent as zero and ignored on receive.
//!
//! The view only covers the batman-adv header: [`BcastPacket::payload`]
//! returns whatever follows it (normally an Ethernet frame, possibly
//! followed by nothing else since BCAST carries no length field).

use super::{
    be32, check_len, check_type_version, mac_at, put32, put_mac, Mac, PacketType, Result,
    COMPAT_VERSION,
};

/// Length of the BCAST header.
pub const HEADER_LEN: usize = 14;

mod field {
    pub const TTL: usize = 2;
    pub const RESERVED: usize = 3;
    pub const SEQNO: usize = 4;
    pub const ORIG: usize = 8;
}

// The last field ends where the header does: the layout has no hole.
const _: () = assert!(field::ORIG + 6 == HEADER_LEN);
const _: () = assert!(field::SEQNO + 4 == field::ORIG);
const _: () = assert!(field::RESERVED + 1 == field::SEQNO);
// 4n+2: the inner Ethernet payload stays 4-byte aligned.
const _: () = assert!(HEADER_LEN % 4 == 2);

/// A read/write view of a BCAST packet.
#[derive(Debug, Clone)]
pub struct BcastPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> BcastPacket<T> {
    /// Wrap without checks; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        BcastPacket { buffer }
    }

    /// Wrap and validate type, version and header length.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validate what `new_checked` validates.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        check_type_version(b, PacketType::Bcast)?;
        check_len(b, HEADER_LEN)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn seqno(&self) -> u32 {
        be32(self.buffer.as_ref(), field::SEQNO)
    }
    pub fn orig(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::ORIG)
    }
    /// Everything after the header (the inner Ethernet frame).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> BcastPacket<T> {
    fn b(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.b()[field::TTL] = v
    }
    pub fn set_seqno(&mut self, v: u32) {
        put32(self.b(), field::SEQNO, v)
    }
    pub fn set_orig(&mut self, v: Mac) {
        put_mac(self.b(), field::ORIG, v)
    }
    /// Mutable bytes after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.b()[HEADER_LEN..]
    }
}

/// Decoded BCAST header fields (the payload stays in the buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BcastRepr {
    pub ttl: u8,
    pub seqno: u32,
    pub orig: Mac,
}

impl BcastRepr {
    /// Decode a view (validated again, so an unchecked view is fine).
    pub fn parse<T: AsRef<[u8]>>(p: &BcastPacket<T>) -> Result<Self> {
        p.check_len()?;
        Ok(BcastRepr {
            ttl: p.ttl(),
            seqno: p.seqno(),
            orig: p.orig(),
        })
    }

    /// Bytes the header needs (the payload is not part of the repr).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the first `HEADER_LEN` bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = PacketType::Bcast as u8;
        buf[1] = COMPAT_VERSION;
        let mut p = BcastPacket::new_unchecked(buf);
        p.set_ttl(self.ttl);
        p.b()[field::RESERVED] = 0;
        p.set_seqno(self.seqno);
        p.set_orig(self.orig);
    }

    /// Emit the header followed by `payload` into a new vector.
    pub fn to_vec(&self, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; HEADER_LEN + payload.len()];
        self.emit(&mut v);
        v[HEADER_LEN..].copy_from_slice(payload);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Error;

    // ttl 50, seqno 0x11223344, orig 02:00:00:00:00:07, then the first
    // bytes of an inner Ethernet header.
    const BCAST: [u8; 18] = [
        0x01, 0x0f, 0x32, 0x00, // type ver ttl reserved
        0x11, 0x22, 0x33, 0x44, // seqno
        0x02, 0x00, 0x00, 0x00, 0x00, 0x07, // orig
        0xff, 0xff, 0xff, 0xff, // payload
    ];

    #[test]
    fn parse_known_bytes() {
        let p = BcastPacket::new_checked(&BCAST[..]).unwrap();
        let r = BcastRepr::parse(&p).unwrap();
        assert_eq!(
            r,
            BcastRepr {
                ttl: 50,
                seqno: 0x1122_3344,
                orig: Mac([2, 0, 0, 0, 0, 7]),
            }
        );
        assert_eq!(p.payload(), &[0xff; 4]);
        assert_eq!(r.buffer_len(), HEADER_LEN);
    }

    #[test]
    fn emit_matches_known_bytes() {
        let p = BcastPacket::new_checked(&BCAST[..]).unwrap();
        let r = BcastRepr::parse(&p).unwrap();
        assert_eq!(r.to_vec(p.payload()), BCAST.to_vec());
        // reserved is written as zero even if the buffer held garbage
        let mut buf = [0xaau8; HEADER_LEN];
        r.emit(&mut buf);
        assert_eq!(&buf[..], &BCAST[..HEADER_LEN]);
    }

    #[test]
    fn setters_and_reserved_ignored() {
        let mut v = BCAST;
        v[3] = 0x5a; // reserved: ignored on receive
        let mut p = BcastPacket::new_checked(&mut v[..]).unwrap();
        p.set_ttl(49);
        p.set_seqno(7);
        p.set_orig(Mac([2, 0, 0, 0, 0, 9]));
        p.payload_mut()[0] = 1;
        let r = BcastRepr::parse(&p).unwrap();
        assert_eq!((r.ttl, r.seqno, r.orig), (49, 7, Mac([2, 0, 0, 0, 0, 9])));
        assert_eq!(v[14], 1);
    }

    #[test]
    fn header_only_has_empty_payload() {
        let p = BcastPacket::new_checked(&BCAST[..HEADER_LEN]).unwrap();
        assert!(p.payload().is_empty());
    }

    #[test]
    fn rejects_truncated_version_and_type() {
        assert_eq!(
            BcastPacket::new_checked(&BCAST[..13]).unwrap_err(),
            Error::Truncated { need: 14, have: 13 }
        );
        assert_eq!(
            BcastPacket::new_checked(&BCAST[..1]).unwrap_err(),
            Error::Truncated { need: 2, have: 1 }
        );
        let mut v = BCAST;
        v[1] = 14;
        assert_eq!(
            BcastPacket::new_checked(&v[..]).unwrap_err(),
            Error::Version(14)
        );
        v[1] = 15;
        v[0] = 0x40;
        assert_eq!(
            BcastPacket::new_checked(&v[..]).unwrap_err(),
            Error::PacketType(0x40)
        );
        // parse re-validates an unchecked view
        assert!(BcastRepr::parse(&BcastPacket::new_unchecked(&BCAST[..5])).is_err());
    }
}

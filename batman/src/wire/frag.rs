//! Unicast fragment (UNICAST_FRAG), packet type 0x41.
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +---------------+---------------+---------------+-------+-----+-+
//! |  packet_type  |    version    |      ttl      |  no   |prio |r|  0
//! +---------------+---------------+---------------+-------+-----+-+
//! |                     dest (6 bytes) ...                        |  4
//! +                               +---------------+---------------+
//! |                               |      orig (6 bytes) ...       |  8
//! +---------------+---------------+                               +
//! |                                                               | 12
//! +---------------+---------------+---------------+---------------+
//! |         seqno (be16)          |      total_size (be16)        | 16
//! +---------------+---------------+---------------+---------------+
//! |  fragment bytes ...                                           | 20
//! ```
//!
//! Byte 3 is a C bitfield. batman-adv declares it `no:4, priority:3,
//! reserved:1` for big-endian bitfields (and the mirror order for
//! little-endian ones), which on the wire is, from the most significant bit:
//! `no = byte >> 4`, `priority = (byte >> 1) & 7`, `reserved = byte & 1`.
//!
//! - `dest`: final destination originator (fragments are routed on it);
//! - `orig`: originator that fragmented the packet (key for merging);
//! - `no`: fragment number within `seqno`, 0 for the first fragment;
//! - `priority`: 802.1d priority (0..=7) of the original frame;
//! - `total_size`: size of the merged packet.
//!
//! The fragment payload is a slice of the original unicast packet (its
//! batman-adv header included). This module only parses; reassembly
//! limits (batman-adv keeps at most 16 fragments of at most 1280 bytes and
//! drops chains whose `total_size` disagrees) belong to the reassembler.

use super::{
    be16, check_len, check_type_version, mac_at, put16, put_mac, Mac, PacketType, Result,
    COMPAT_VERSION,
};

/// Length of the UNICAST_FRAG header.
pub const HEADER_LEN: usize = 20;
/// Highest fragment number the 4-bit `no` field holds.
pub const MAX_FRAG_NO: u8 = 0x0f;
/// Highest priority the 3-bit `priority` field holds.
pub const MAX_PRIORITY: u8 = 0x07;

mod field {
    pub const TTL: usize = 2;
    /// `no:4 | priority:3 | reserved:1`, most significant bit first.
    pub const NO_PRIO: usize = 3;
    pub const DEST: usize = 4;
    pub const ORIG: usize = 10;
    pub const SEQNO: usize = 16;
    pub const TOTAL_SIZE: usize = 18;
}

// The last field ends where the header does: the layout has no hole.
const _: () = assert!(field::TOTAL_SIZE + 2 == HEADER_LEN);
const _: () = assert!(field::DEST + 6 == field::ORIG);
const _: () = assert!(field::ORIG + 6 == field::SEQNO);

const NO_SHIFT: u8 = 4;
const PRIO_SHIFT: u8 = 1;

/// A read/write view of a UNICAST_FRAG packet.
#[derive(Debug, Clone)]
pub struct FragPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FragPacket<T> {
    /// Wrap without checks; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        FragPacket { buffer }
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
        check_type_version(b, PacketType::UnicastFrag)?;
        check_len(b, HEADER_LEN)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    /// Fragment number, 0..=15.
    pub fn no(&self) -> u8 {
        self.buffer.as_ref()[field::NO_PRIO] >> NO_SHIFT
    }
    /// 802.1d priority, 0..=7.
    pub fn priority(&self) -> u8 {
        (self.buffer.as_ref()[field::NO_PRIO] >> PRIO_SHIFT) & MAX_PRIORITY
    }
    pub fn dest(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::DEST)
    }
    pub fn orig(&self) -> Mac {
        mac_at(self.buffer.as_ref(), field::ORIG)
    }
    pub fn seqno(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SEQNO)
    }
    pub fn total_size(&self) -> u16 {
        be16(self.buffer.as_ref(), field::TOTAL_SIZE)
    }
    /// The fragment bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> FragPacket<T> {
    fn b(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }
    pub fn set_ttl(&mut self, v: u8) {
        self.b()[field::TTL] = v
    }
    /// Set the fragment number; only the low 4 bits are kept (values above
    /// [`MAX_FRAG_NO`] wrap, as a C bitfield assignment does).
    pub fn set_no(&mut self, v: u8) {
        let b = &mut self.b()[field::NO_PRIO];
        *b = (*b & 0x0f) | ((v & MAX_FRAG_NO) << NO_SHIFT);
    }
    /// Set the priority; only the low 3 bits are kept (values above
    /// [`MAX_PRIORITY`] wrap, as a C bitfield assignment does).
    pub fn set_priority(&mut self, v: u8) {
        let b = &mut self.b()[field::NO_PRIO];
        *b = (*b & !(MAX_PRIORITY << PRIO_SHIFT)) | ((v & MAX_PRIORITY) << PRIO_SHIFT);
    }
    pub fn set_dest(&mut self, v: Mac) {
        put_mac(self.b(), field::DEST, v)
    }
    pub fn set_orig(&mut self, v: Mac) {
        put_mac(self.b(), field::ORIG, v)
    }
    pub fn set_seqno(&mut self, v: u16) {
        put16(self.b(), field::SEQNO, v)
    }
    pub fn set_total_size(&mut self, v: u16) {
        put16(self.b(), field::TOTAL_SIZE, v)
    }
    /// Mutable fragment bytes after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.b()[HEADER_LEN..]
    }
}

/// Decoded UNICAST_FRAG header fields (the fragment bytes stay in the
/// buffer). The reserved bit is dropped on parse and sent as zero.
///
/// `no` must be at most [`MAX_FRAG_NO`] and `priority` at most
/// [`MAX_PRIORITY`]; [`parse`](Self::parse) can only produce such values.
/// [`emit`](Self::emit) debug-asserts them and, in release builds, keeps
/// only the low bits (4 and 3) as the C bitfield would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragRepr {
    pub ttl: u8,
    pub no: u8,
    pub priority: u8,
    pub dest: Mac,
    pub orig: Mac,
    pub seqno: u16,
    pub total_size: u16,
}

impl FragRepr {
    /// Decode a view (validated again, so an unchecked view is fine).
    pub fn parse<T: AsRef<[u8]>>(p: &FragPacket<T>) -> Result<Self> {
        p.check_len()?;
        Ok(FragRepr {
            ttl: p.ttl(),
            no: p.no(),
            priority: p.priority(),
            dest: p.dest(),
            orig: p.orig(),
            seqno: p.seqno(),
            total_size: p.total_size(),
        })
    }

    /// Bytes the header needs (the fragment bytes are not in the repr).
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Write the header into the first `HEADER_LEN` bytes of `buf`.
    pub fn emit(&self, buf: &mut [u8]) {
        debug_assert!(self.no <= MAX_FRAG_NO, "fragment number {} > 15", self.no);
        debug_assert!(
            self.priority <= MAX_PRIORITY,
            "fragment priority {} > 7",
            self.priority
        );
        buf[0] = PacketType::UnicastFrag as u8;
        buf[1] = COMPAT_VERSION;
        let mut p = FragPacket::new_unchecked(buf);
        p.set_ttl(self.ttl);
        p.b()[field::NO_PRIO] = 0; // reserved bit 0
        p.set_no(self.no);
        p.set_priority(self.priority);
        p.set_dest(self.dest);
        p.set_orig(self.orig);
        p.set_seqno(self.seqno);
        p.set_total_size(self.total_size);
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

    // ttl 46, no 3, priority 5 (byte 0x3a), dest ..:08, orig ..:09,
    // seqno 0x1234, total_size 1400, three fragment bytes.
    const FRAG: [u8; 23] = [
        0x41, 0x0f, 0x2e, 0x3a, // type ver ttl no|prio|res
        0x02, 0x00, 0x00, 0x00, 0x00, 0x08, // dest
        0x02, 0x00, 0x00, 0x00, 0x00, 0x09, // orig
        0x12, 0x34, 0x05, 0x78, // seqno total_size
        0x01, 0x02, 0x03, // fragment bytes
    ];

    fn repr() -> FragRepr {
        FragRepr {
            ttl: 46,
            no: 3,
            priority: 5,
            dest: Mac([2, 0, 0, 0, 0, 8]),
            orig: Mac([2, 0, 0, 0, 0, 9]),
            seqno: 0x1234,
            total_size: 1400,
        }
    }

    #[test]
    fn parse_known_bytes() {
        let p = FragPacket::new_checked(&FRAG[..]).unwrap();
        assert_eq!(FragRepr::parse(&p).unwrap(), repr());
        assert_eq!(p.payload(), &[1, 2, 3]);
    }

    #[test]
    fn emit_matches_known_bytes() {
        assert_eq!(repr().to_vec(&[1, 2, 3]), FRAG.to_vec());
        assert_eq!(repr().buffer_len(), 20);
    }

    #[test]
    fn bitfield_extremes_and_reserved_bit() {
        let mut r = repr();
        r.no = 15;
        r.priority = 7;
        let v = r.to_vec(&[]);
        assert_eq!(v[3], 0xfe);
        r.no = 0;
        r.priority = 0;
        assert_eq!(r.to_vec(&[])[3], 0x00);
        r.no = 15;
        assert_eq!(r.to_vec(&[])[3], 0xf0);
        r.no = 0;
        r.priority = 7;
        assert_eq!(r.to_vec(&[])[3], 0x0e);

        // the reserved bit is ignored on parse and cleared on emit
        let mut v = FRAG;
        v[3] |= 1;
        let p = FragPacket::new_checked(&v[..]).unwrap();
        assert_eq!(FragRepr::parse(&p).unwrap(), repr());
        assert_eq!(repr().to_vec(&[1, 2, 3]), FRAG.to_vec());
    }

    #[test]
    fn setters_keep_neighbouring_bits() {
        let mut v = FRAG;
        v[3] |= 1; // reserved bit survives the setters
        let mut p = FragPacket::new_checked(&mut v[..]).unwrap();
        p.set_no(9);
        assert_eq!((p.no(), p.priority()), (9, 5));
        p.set_priority(2);
        assert_eq!((p.no(), p.priority()), (9, 2));
        p.set_no(0x1f); // wraps to 4 bits
        assert_eq!(p.no(), 0x0f);
        p.set_priority(0x0a); // wraps to 3 bits
        assert_eq!(p.priority(), 2);
        p.set_ttl(1);
        p.set_seqno(2);
        p.set_total_size(3);
        p.set_dest(Mac([2, 0, 0, 0, 0, 1]));
        p.set_orig(Mac([2, 0, 0, 0, 0, 2]));
        p.payload_mut()[0] = 0xee;
        assert_eq!(v[3] & 1, 1);
        assert_eq!(v[20], 0xee);
        assert_eq!(&v[16..20], &[0, 2, 0, 3]);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "fragment number 16 > 15")]
    fn emit_debug_asserts_no_range() {
        let mut r = repr();
        r.no = 16;
        let _ = r.to_vec(&[]);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "fragment priority 8 > 7")]
    fn emit_debug_asserts_priority_range() {
        let mut r = repr();
        r.priority = 8;
        let _ = r.to_vec(&[]);
    }

    #[test]
    fn rejects_truncated_version_and_type() {
        assert_eq!(
            FragPacket::new_checked(&FRAG[..19]).unwrap_err(),
            Error::Truncated { need: 20, have: 19 }
        );
        assert!(FragPacket::new_checked(&FRAG[..20]).is_ok());
        let mut v = FRAG;
        v[1] = 0;
        assert_eq!(
            FragPacket::new_checked(&v[..]).unwrap_err(),
            Error::Version(0)
        );
        v[1] = 15;
        v[0] = 0x40;
        assert_eq!(
            FragPacket::new_checked(&v[..]).unwrap_err(),
            Error::PacketType(0x40)
        );
        assert!(FragRepr::parse(&FragPacket::new_unchecked(&FRAG[..4])).is_err());
    }
}

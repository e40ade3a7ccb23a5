//! batman-adv compat-15 wire format: zero-copy packet views and `Repr`s.
//!
//! Every packet kind has the same three layers, as in smoltcp:
//!
//! - a view `XxxPacket<T: AsRef<[u8]>>` over a byte buffer, built with
//!   [`new_checked`](OgmPacket::new_checked) (which validates lengths and the
//!   version byte once, so that the field accessors can never panic), with
//!   getters for every field and setters when `T: AsMut<[u8]>`;
//! - a `XxxRepr` holding the decoded header fields, with `parse` (view ->
//!   repr, validating every field) and `emit` (repr -> view);
//! - byte-vector tests next to the code.
//!
//! All multi-byte fields are big-endian; headers are packed to 2 bytes, so
//! there is no padding anywhere: the offsets below are the wire offsets.
//!
//! Bad input never panics: every parse of untrusted bytes returns a typed
//! [`Error`].

pub mod bcast;
pub mod frag;
pub mod icmp;
pub mod ogm;
pub mod tvlv;
pub mod tvlv_data;
pub mod unicast;
pub mod unicast_tvlv;

pub use bcast::{BcastPacket, BcastRepr};
pub use frag::{FragPacket, FragRepr};
pub use icmp::{IcmpMsgType, IcmpPacket, IcmpRepr, RouteRecord};
pub use ogm::{OgmFlags, OgmIter, OgmPacket, OgmRepr};
pub use tvlv::{TvlvIter, TvlvPacket, TvlvRepr, TvlvType};
pub use tvlv_data::{
    Dat, GwData, McastData, RoamAdv, TtChange, TtData, TtRepr, TtVlan, TvlvData, TvlvValue,
};
pub use unicast::{Subtype, Unicast4AddrPacket, Unicast4AddrRepr, UnicastPacket, UnicastRepr};
pub use unicast_tvlv::{UnicastTvlvPacket, UnicastTvlvRepr};

use core::fmt;

/// Ethertype of batman-adv frames.
pub const ETHERTYPE_BATADV: u16 = 0x4305;
/// The `version` byte every batman-adv header carries (compat 15).
pub const COMPAT_VERSION: u8 = 15;
/// Length of an Ethernet header (dst, src, ethertype).
pub const ETH_HLEN: usize = 14;
/// Highest TQ value (a perfect link).
pub const TQ_MAX: u8 = 255;

/// Result of parsing wire data.
pub type Result<T> = core::result::Result<T, Error>;

/// Why a buffer could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer is shorter than the header (or a length field) requires.
    #[error("truncated: need {need} bytes, have {have}")]
    Truncated { need: usize, have: usize },
    /// The version byte is not compat 15.
    #[error("unsupported compat version {0} (expected 15)")]
    Version(u8),
    /// The packet type byte is not the one this view parses, or unknown.
    #[error("unexpected packet type {0:#04x}")]
    PacketType(u8),
    /// A length field inside the packet points past its end.
    #[error("length field {len} runs past the end ({avail} bytes left)")]
    Overrun { len: usize, avail: usize },
    /// A field holds a value the format forbids.
    #[error("malformed: {0}")]
    Malformed(&'static str),
}

/// batman-adv packet types (first byte of every header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PacketType {
    IvOgm = 0x00,
    Bcast = 0x01,
    Coded = 0x02,
    Elp = 0x03,
    Ogm2 = 0x04,
    Mcast = 0x05,
    Unicast = 0x40,
    UnicastFrag = 0x41,
    Unicast4Addr = 0x42,
    Icmp = 0x43,
    UnicastTvlv = 0x44,
}

impl PacketType {
    /// Decode a packet type byte.
    pub fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            0x00 => Self::IvOgm,
            0x01 => Self::Bcast,
            0x02 => Self::Coded,
            0x03 => Self::Elp,
            0x04 => Self::Ogm2,
            0x05 => Self::Mcast,
            0x40 => Self::Unicast,
            0x41 => Self::UnicastFrag,
            0x42 => Self::Unicast4Addr,
            0x43 => Self::Icmp,
            0x44 => Self::UnicastTvlv,
            _ => return None,
        })
    }

    /// Types 0x40..=0x7f are routed hop by hop towards a destination.
    pub fn is_unicast(v: u8) -> bool {
        (0x40..=0x7f).contains(&v)
    }
}

/// A 48-bit MAC address (originator, neighbour or client address).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl core::hash::Hash for Mac {
    /// One `u64` write: table lookups by MAC are on the per-OGM hot path.
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.to_u64());
    }
}

impl Mac {
    /// ff:ff:ff:ff:ff:ff
    pub const BROADCAST: Mac = Mac([0xff; 6]);
    /// 00:00:00:00:00:00
    pub const ZERO: Mac = Mac([0; 6]);

    /// Copy a MAC from the first six bytes of `b`; `b` must hold 6 bytes.
    pub fn from_bytes(b: &[u8]) -> Mac {
        let mut m = [0u8; 6];
        m.copy_from_slice(&b[..6]);
        Mac(m)
    }

    /// The six bytes as the low 48 bits of a `u64` (big-endian order).
    pub fn to_u64(&self) -> u64 {
        let b = &self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// Group (multicast or broadcast) bit set.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// ff:ff:ff:ff:ff:ff
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// A unicast address other than all-zero.
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl core::str::FromStr for Mac {
    type Err = Error;
    fn from_str(s: &str) -> Result<Mac> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in out.iter_mut() {
            let p = parts
                .next()
                .ok_or(Error::Malformed("MAC needs six hex octets"))?;
            if p.len() != 2 {
                return Err(Error::Malformed("MAC octet must be two hex digits"));
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| Error::Malformed("MAC octet not hex"))?;
        }
        if parts.next().is_some() {
            return Err(Error::Malformed("MAC has more than six octets"));
        }
        Ok(Mac(out))
    }
}

/// Check that `buf` holds at least `need` bytes.
#[inline]
pub(crate) fn check_len(buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::Truncated {
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

/// Check the common `packet_type, version` prefix.
#[inline]
pub(crate) fn check_type_version(buf: &[u8], ty: PacketType) -> Result<()> {
    check_len(buf, 2)?;
    if buf[0] != ty as u8 {
        return Err(Error::PacketType(buf[0]));
    }
    if buf[1] != COMPAT_VERSION {
        return Err(Error::Version(buf[1]));
    }
    Ok(())
}

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn mac_at(b: &[u8], at: usize) -> Mac {
    Mac::from_bytes(&b[at..at + 6])
}

#[inline]
pub(crate) fn put_mac(b: &mut [u8], at: usize, m: Mac) {
    b[at..at + 6].copy_from_slice(&m.0);
}

/// Peek at the packet type and version of a batman-adv frame payload.
pub fn peek_type(buf: &[u8]) -> Result<PacketType> {
    check_len(buf, 2)?;
    let ty = PacketType::from_u8(buf[0]).ok_or(Error::PacketType(buf[0]))?;
    if buf[1] != COMPAT_VERSION {
        return Err(Error::Version(buf[1]));
    }
    Ok(ty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parse_display_roundtrip() {
        let m: Mac = "02:00:5e:10:00:ff".parse().unwrap();
        assert_eq!(m.0, [2, 0, 0x5e, 0x10, 0, 0xff]);
        assert_eq!(m.to_string(), "02:00:5e:10:00:ff");
        assert!("02:00:5e:10:00".parse::<Mac>().is_err());
        assert!("02:00:5e:10:00:ff:01".parse::<Mac>().is_err());
        assert!("zz:00:5e:10:00:ff".parse::<Mac>().is_err());
        assert!(m.is_unicast());
        assert!(Mac::BROADCAST.is_multicast());
    }

    #[test]
    fn peek_rejects_short_unknown_and_wrong_version() {
        assert_eq!(peek_type(&[]), Err(Error::Truncated { need: 2, have: 0 }));
        assert_eq!(peek_type(&[0x99, 15]), Err(Error::PacketType(0x99)));
        assert_eq!(peek_type(&[0x00, 14]), Err(Error::Version(14)));
        assert_eq!(peek_type(&[0x40, 15]), Ok(PacketType::Unicast));
    }
}

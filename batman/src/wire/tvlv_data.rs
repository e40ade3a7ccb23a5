//! Values of the registered TVLV containers (the bytes after the 4-byte
//! TVLV header, see [`tvlv`](super::tvlv)).
//!
//! | type | name | version | value |
//! |---|---|---|---|
//! | 0x01 | GW | 1 | [`GwData`], 8 bytes |
//! | 0x02 | DAT | 1 | none ([`Dat`]): "I take part in the distributed ARP table" |
//! | 0x03 | NC | 1 | none: network coding capability (obsolete; not sent by meshd) |
//! | 0x04 | TT | 1 | [`TtData`] / [`TtRepr`]: header, VLAN entries, change entries |
//! | 0x05 | ROAM | 1 | [`RoamAdv`], 8 bytes (unicast TVLV only) |
//! | 0x06 | MCAST | 2 | [`McastData`], 4 bytes |
//! | 0x07 | MCAST_TRACKER | 1 | carried in BATADV_MCAST packets, which meshd does not implement |
//!
//! GW, value (bandwidths in units of 100 kbit/s):
//!
//! ```text
//! +---------------+---------------+---------------+---------------+
//! |                     bandwidth_down (be32)                     |  0
//! +---------------+---------------+---------------+---------------+
//! |                      bandwidth_up (be32)                      |  4
//! +---------------+---------------+---------------+---------------+
//! ```
//!
//! TT, value: a 4-byte header, `num_vlan` 8-byte VLAN entries, then
//! 12-byte change entries up to the end of the value:
//!
//! ```text
//! +---------------+---------------+---------------+---------------+
//! |     flags     |     ttvn      |        num_vlan (be16)        |  0
//! +---------------+---------------+---------------+---------------+
//! |                           crc (be32)                          |  VLAN
//! +---------------+---------------+---------------+---------------+  entry,
//! |           vid (be16)          |        reserved (2)           |  x num_vlan
//! +---------------+---------------+---------------+---------------+
//! |     flags     |            reserved (3 bytes)                 |  change
//! +---------------+---------------+---------------+---------------+  entry,
//! |                      addr (6 bytes) ...                       |  x n
//! +                               +---------------+---------------+
//! |                               |           vid (be16)          |
//! +---------------+---------------+---------------+---------------+
//! ```
//!
//! ROAM, value: `client[6], vid be16`. MCAST, value: `flags, reserved[3]`.
//!
//! Every fixed-size value is parsed leniently at its end, as batman-adv
//! does: a value shorter than the structure is [`Error::Truncated`], extra
//! trailing bytes are ignored. TT is strict: `num_vlan` entries must fit
//! ([`Error::Overrun`]) and the change area must be a whole number of
//! 12-byte entries ([`Error::Malformed`]; batman-adv silently ignores the
//! remainder). Reserved bytes are ignored on parse and sent as zero.
//!
//! Each value type implements [`TvlvData`], which builds the complete TVLV
//! (header plus value) through [`TvlvRepr`]; [`TvlvValue::parse`] decodes
//! any container an iterator yields.

use super::tvlv::{TvlvRepr, TvlvType};
use super::{be16, be32, check_len, mac_at, put16, put32, put_mac, Error, Mac, Result};

// ---------------------------------------------------------------- trait

/// A TVLV value with a registered type and version.
pub trait TvlvData: Sized {
    /// The container type.
    const TYPE: TvlvType;
    /// The container version this layout belongs to.
    const VERSION: u8;

    /// Decode the value bytes (the TVLV header already stripped).
    fn parse_value(value: &[u8]) -> Result<Self>;

    /// Bytes [`emit_value`](Self::emit_value) writes.
    fn value_len(&self) -> usize;

    /// Write the value into the first `value_len()` bytes of `buf`. Count
    /// fields are only meaningful when [`check`](Self::check) passes.
    fn emit_value(&self, buf: &mut [u8]);

    /// Whether the value can be encoded: it must fit the 16-bit TVLV length.
    fn check(&self) -> Result<()> {
        if self.value_len() > u16::MAX as usize {
            return Err(Error::Malformed("TVLV value longer than 65535 bytes"));
        }
        Ok(())
    }

    /// Decode a container, checking its type and version first.
    fn parse_tvlv(t: &TvlvRepr<'_>) -> Result<Self> {
        if u8::from(t.tvlv_type) != u8::from(Self::TYPE) {
            return Err(Error::Malformed("TVLV type does not match"));
        }
        if t.version != Self::VERSION {
            return Err(Error::Malformed("unsupported TVLV version"));
        }
        Self::parse_value(t.value)
    }

    /// The value bytes alone.
    fn value_to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.value_len()];
        self.emit_value(&mut v);
        v
    }

    /// Append the whole container (4-byte header plus value) to `out`.
    fn append_tvlv(&self, out: &mut Vec<u8>) -> Result<()> {
        self.check()?;
        let value = self.value_to_vec();
        TvlvRepr {
            tvlv_type: Self::TYPE,
            version: Self::VERSION,
            value: &value,
        }
        .append_to(out);
        Ok(())
    }

    /// The whole container (4-byte header plus value).
    fn to_tvlv(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.append_tvlv(&mut out)?;
        Ok(out)
    }
}

// ---------------------------------------------------------------- GW

/// Gateway announcement (GW, type 1, version 1).
///
/// Bandwidths are in units of [`GwData::UNIT_KBIT`] (100 kbit/s): 100 is
/// 10 Mbit/s. batman-adv treats a zero in either direction as "not a
/// gateway".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GwData {
    pub bandwidth_down: u32,
    pub bandwidth_up: u32,
}

impl GwData {
    /// Value length.
    pub const LEN: usize = 8;
    /// kbit/s per bandwidth unit.
    pub const UNIT_KBIT: u32 = 100;
}

impl TvlvData for GwData {
    const TYPE: TvlvType = TvlvType::Gw;
    const VERSION: u8 = 1;

    fn parse_value(value: &[u8]) -> Result<Self> {
        check_len(value, Self::LEN)?;
        Ok(GwData {
            bandwidth_down: be32(value, 0),
            bandwidth_up: be32(value, 4),
        })
    }
    fn value_len(&self) -> usize {
        Self::LEN
    }
    fn emit_value(&self, buf: &mut [u8]) {
        put32(buf, 0, self.bandwidth_down);
        put32(buf, 4, self.bandwidth_up);
    }
}

// ---------------------------------------------------------------- DAT

/// Distributed ARP table capability (DAT, type 2, version 1): an empty
/// value; its presence in an OGM is the announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dat;

impl TvlvData for Dat {
    const TYPE: TvlvType = TvlvType::Dat;
    const VERSION: u8 = 1;

    /// Any value is accepted (batman-adv ignores it).
    fn parse_value(_value: &[u8]) -> Result<Self> {
        Ok(Dat)
    }
    fn value_len(&self) -> usize {
        0
    }
    fn emit_value(&self, _buf: &mut [u8]) {}
}

// ---------------------------------------------------------------- TT

/// TT flags: the data type in the low nibble.
pub const TT_DATA_TYPE_MASK: u8 = 0x0f;
/// TT diff propagated in an OGM.
pub const TT_OGM_DIFF: u8 = 0x01;
/// TT request (unicast TVLV).
pub const TT_REQUEST: u8 = 0x02;
/// TT response (unicast TVLV).
pub const TT_RESPONSE: u8 = 0x04;
/// Request or response for the full table rather than a diff.
pub const TT_FULL_TABLE: u8 = 0x10;

/// TT change / client flag: remove the client.
pub const TT_CLIENT_DEL: u8 = 0x01;
/// TT change / client flag: the client roamed.
pub const TT_CLIENT_ROAM: u8 = 0x02;
/// TT change / client flag: connected over wifi (AP isolation).
pub const TT_CLIENT_WIFI: u8 = 0x10;
/// TT change / client flag: isolated (extended isolation).
pub const TT_CLIENT_ISOLA: u8 = 0x20;

/// High bit of every VID field: the VID carries an 802.1Q tag. A VID
/// without it (0) is the untagged LAN.
pub const VLAN_HAS_TAG: u16 = 0x8000;

/// Length of the TT value header (`flags, ttvn, num_vlan`).
pub const TT_HEADER_LEN: usize = 4;
/// Length of one TT VLAN entry.
pub const TT_VLAN_LEN: usize = 8;
/// Length of one TT change entry.
pub const TT_CHANGE_LEN: usize = 12;

mod tt_field {
    pub const FLAGS: usize = 0;
    pub const TTVN: usize = 1;
    pub const NUM_VLAN: usize = 2;
    // VLAN entry
    pub const VLAN_CRC: usize = 0;
    pub const VLAN_VID: usize = 4;
    pub const VLAN_RESERVED: usize = 6;
    // change entry
    pub const CHANGE_FLAGS: usize = 0;
    pub const CHANGE_RESERVED: usize = 1;
    pub const CHANGE_ADDR: usize = 4;
    pub const CHANGE_VID: usize = 10;
}

const _: () = assert!(tt_field::NUM_VLAN + 2 == TT_HEADER_LEN);
const _: () = assert!(tt_field::FLAGS + 1 == tt_field::TTVN);
const _: () = assert!(tt_field::VLAN_RESERVED + 2 == TT_VLAN_LEN);
const _: () = assert!(tt_field::VLAN_CRC + 4 == tt_field::VLAN_VID);
const _: () = assert!(tt_field::CHANGE_RESERVED + 3 == tt_field::CHANGE_ADDR);
const _: () = assert!(tt_field::CHANGE_VID + 2 == TT_CHANGE_LEN);
const _: () = assert!(tt_field::CHANGE_FLAGS + 1 == tt_field::CHANGE_RESERVED);

/// One TT VLAN entry: the CRC32 of this VLAN's clients and the VID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TtVlan {
    pub crc: u32,
    pub vid: u16,
}

impl TtVlan {
    fn parse(b: &[u8]) -> Self {
        TtVlan {
            crc: be32(b, tt_field::VLAN_CRC),
            vid: be16(b, tt_field::VLAN_VID),
        }
    }
    fn emit(&self, b: &mut [u8]) {
        put32(b, tt_field::VLAN_CRC, self.crc);
        put16(b, tt_field::VLAN_VID, self.vid);
        put16(b, tt_field::VLAN_RESERVED, 0);
    }
}

/// One TT change entry: a client address added or (with
/// [`TT_CLIENT_DEL`]) removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TtChange {
    pub flags: u8,
    pub addr: Mac,
    pub vid: u16,
}

impl TtChange {
    fn parse(b: &[u8]) -> Self {
        TtChange {
            flags: b[tt_field::CHANGE_FLAGS],
            addr: mac_at(b, tt_field::CHANGE_ADDR),
            vid: be16(b, tt_field::CHANGE_VID),
        }
    }
    fn emit(&self, b: &mut [u8]) {
        b[tt_field::CHANGE_FLAGS] = self.flags;
        b[tt_field::CHANGE_RESERVED..tt_field::CHANGE_ADDR].fill(0);
        put_mac(b, tt_field::CHANGE_ADDR, self.addr);
        put16(b, tt_field::CHANGE_VID, self.vid);
    }
}

/// A validated, borrowed TT value: iterate its entries without copying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtData<'a> {
    pub flags: u8,
    pub ttvn: u8,
    vlans: &'a [u8],
    changes: &'a [u8],
}

impl<'a> TtData<'a> {
    /// Validate a TT value: header present, `num_vlan` entries inside the
    /// value (`Overrun`), change area a multiple of 12 bytes (`Malformed`).
    pub fn parse(value: &'a [u8]) -> Result<Self> {
        check_len(value, TT_HEADER_LEN)?;
        let num_vlan = be16(value, tt_field::NUM_VLAN) as usize;
        let vlan_len = num_vlan * TT_VLAN_LEN;
        let avail = value.len() - TT_HEADER_LEN;
        if vlan_len > avail {
            return Err(Error::Overrun {
                len: vlan_len,
                avail,
            });
        }
        let (vlans, changes) = value[TT_HEADER_LEN..].split_at(vlan_len);
        if changes.len() % TT_CHANGE_LEN != 0 {
            return Err(Error::Malformed(
                "TT change area is not a multiple of 12 bytes",
            ));
        }
        Ok(TtData {
            flags: value[tt_field::FLAGS],
            ttvn: value[tt_field::TTVN],
            vlans,
            changes,
        })
    }

    /// `flags & TT_DATA_TYPE_MASK`: [`TT_OGM_DIFF`], [`TT_REQUEST`] or
    /// [`TT_RESPONSE`].
    pub fn data_type(&self) -> u8 {
        self.flags & TT_DATA_TYPE_MASK
    }
    pub fn is_full_table(&self) -> bool {
        self.flags & TT_FULL_TABLE != 0
    }
    pub fn num_vlan(&self) -> usize {
        self.vlans.len() / TT_VLAN_LEN
    }
    pub fn num_changes(&self) -> usize {
        self.changes.len() / TT_CHANGE_LEN
    }
    /// The VLAN entries.
    pub fn vlans(&self) -> TtVlanIter<'a> {
        TtVlanIter {
            chunks: self.vlans.chunks_exact(TT_VLAN_LEN),
        }
    }
    /// The change entries.
    pub fn changes(&self) -> TtChangeIter<'a> {
        TtChangeIter {
            chunks: self.changes.chunks_exact(TT_CHANGE_LEN),
        }
    }
}

/// Iterator over the VLAN entries of a [`TtData`].
#[derive(Debug, Clone)]
pub struct TtVlanIter<'a> {
    chunks: core::slice::ChunksExact<'a, u8>,
}

impl Iterator for TtVlanIter<'_> {
    type Item = TtVlan;
    fn next(&mut self) -> Option<TtVlan> {
        self.chunks.next().map(TtVlan::parse)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for TtVlanIter<'_> {}

/// Iterator over the change entries of a [`TtData`].
#[derive(Debug, Clone)]
pub struct TtChangeIter<'a> {
    chunks: core::slice::ChunksExact<'a, u8>,
}

impl Iterator for TtChangeIter<'_> {
    type Item = TtChange;
    fn next(&mut self) -> Option<TtChange> {
        self.chunks.next().map(TtChange::parse)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

impl ExactSizeIterator for TtChangeIter<'_> {}

/// An owned TT value (translation table, type 4, version 1), for building
/// OGM diffs, requests and responses.
///
/// A TT request carries the VLAN entries (with the CRCs the requester
/// holds) and no changes; a response or OGM diff carries both.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TtRepr {
    pub flags: u8,
    pub ttvn: u8,
    pub vlans: Vec<TtVlan>,
    pub changes: Vec<TtChange>,
}

impl From<TtData<'_>> for TtRepr {
    fn from(d: TtData<'_>) -> Self {
        TtRepr {
            flags: d.flags,
            ttvn: d.ttvn,
            vlans: d.vlans().collect(),
            changes: d.changes().collect(),
        }
    }
}

impl TvlvData for TtRepr {
    const TYPE: TvlvType = TvlvType::Tt;
    const VERSION: u8 = 1;

    fn parse_value(value: &[u8]) -> Result<Self> {
        TtData::parse(value).map(TtRepr::from)
    }
    fn value_len(&self) -> usize {
        TT_HEADER_LEN + self.vlans.len() * TT_VLAN_LEN + self.changes.len() * TT_CHANGE_LEN
    }
    /// `num_vlan` is written modulo 2^16; [`check`](TvlvData::check)
    /// rejects values where that matters.
    fn emit_value(&self, buf: &mut [u8]) {
        buf[tt_field::FLAGS] = self.flags;
        buf[tt_field::TTVN] = self.ttvn;
        put16(buf, tt_field::NUM_VLAN, self.vlans.len() as u16);
        let mut at = TT_HEADER_LEN;
        for v in &self.vlans {
            v.emit(&mut buf[at..at + TT_VLAN_LEN]);
            at += TT_VLAN_LEN;
        }
        for c in &self.changes {
            c.emit(&mut buf[at..at + TT_CHANGE_LEN]);
            at += TT_CHANGE_LEN;
        }
    }
}

// ---------------------------------------------------------------- ROAM

/// Roaming advertisement (ROAM, type 5, version 1), sent in a unicast
/// TVLV to a client's previous node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoamAdv {
    pub client: Mac,
    pub vid: u16,
}

impl RoamAdv {
    /// Value length.
    pub const LEN: usize = 8;
}

impl TvlvData for RoamAdv {
    const TYPE: TvlvType = TvlvType::Roam;
    const VERSION: u8 = 1;

    fn parse_value(value: &[u8]) -> Result<Self> {
        check_len(value, Self::LEN)?;
        Ok(RoamAdv {
            client: mac_at(value, 0),
            vid: be16(value, 6),
        })
    }
    fn value_len(&self) -> usize {
        Self::LEN
    }
    fn emit_value(&self, buf: &mut [u8]) {
        put_mac(buf, 0, self.client);
        put16(buf, 6, self.vid);
    }
}

// ---------------------------------------------------------------- MCAST

/// MCAST flag: wants all packets for 224.0.0.0/24 and ff02::1.
pub const MCAST_WANT_ALL_UNSNOOPABLES: u8 = 0x01;
/// MCAST flag: wants all IPv4 multicast.
pub const MCAST_WANT_ALL_IPV4: u8 = 0x02;
/// MCAST flag: wants all IPv6 multicast.
pub const MCAST_WANT_ALL_IPV6: u8 = 0x04;
/// MCAST flag: has no IPv4 multicast router.
pub const MCAST_WANT_NO_RTR4: u8 = 0x08;
/// MCAST flag: has no IPv6 multicast router.
pub const MCAST_WANT_NO_RTR6: u8 = 0x10;
/// MCAST flag: handles BATADV_MCAST packets (and all MTUs >= 1280).
pub const MCAST_HAVE_MC_PTYPE_CAPA: u8 = 0x20;

/// Multicast capability and wishes (MCAST, type 6, version 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct McastData {
    pub flags: u8,
}

impl McastData {
    /// Value length (flags plus 3 reserved bytes).
    pub const LEN: usize = 4;
}

impl TvlvData for McastData {
    const TYPE: TvlvType = TvlvType::Mcast;
    const VERSION: u8 = 2;

    fn parse_value(value: &[u8]) -> Result<Self> {
        check_len(value, Self::LEN)?;
        Ok(McastData { flags: value[0] })
    }
    fn value_len(&self) -> usize {
        Self::LEN
    }
    fn emit_value(&self, buf: &mut [u8]) {
        buf[0] = self.flags;
        buf[1..Self::LEN].fill(0);
    }
}

// ---------------------------------------------------------------- any

/// A decoded container of any type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TvlvValue<'a> {
    Gw(GwData),
    Dat(Dat),
    Tt(TtData<'a>),
    Roam(RoamAdv),
    Mcast(McastData),
    /// A type or version this module does not decode (batman-adv ignores
    /// those too): carried as is.
    Other(TvlvRepr<'a>),
}

impl<'a> TvlvValue<'a> {
    /// Decode `t` by type and version. Unknown (type, version) pairs give
    /// `Other`; a known pair with a bad value is an error.
    pub fn parse(t: &TvlvRepr<'a>) -> Result<Self> {
        fn is<D: TvlvData>(t: &TvlvRepr<'_>) -> bool {
            u8::from(t.tvlv_type) == u8::from(D::TYPE) && t.version == D::VERSION
        }
        Ok(if is::<GwData>(t) {
            TvlvValue::Gw(GwData::parse_value(t.value)?)
        } else if is::<Dat>(t) {
            TvlvValue::Dat(Dat)
        } else if is::<TtRepr>(t) {
            TvlvValue::Tt(TtData::parse(t.value)?)
        } else if is::<RoamAdv>(t) {
            TvlvValue::Roam(RoamAdv::parse_value(t.value)?)
        } else if is::<McastData>(t) {
            TvlvValue::Mcast(McastData::parse_value(t.value)?)
        } else {
            TvlvValue::Other(*t)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tvlv::TvlvIter;

    const GW: [u8; 12] = [
        0x01, 0x01, 0x00, 0x08, // GW v1 len 8
        0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x0a, // 10 Mbit/s down, 1 up
    ];

    // OGM diff, ttvn 7, one VLAN (crc 0xdeadbeef, vid 1 tagged), one change
    // (WIFI, 0a:0b:0c:0d:0e:0f, vid 1 tagged).
    const TT: [u8; 28] = [
        0x04, 0x01, 0x00, 0x18, // TT v1 len 24
        0x01, 0x07, 0x00, 0x01, // flags ttvn num_vlan
        0xde, 0xad, 0xbe, 0xef, 0x80, 0x01, 0x00, 0x00, // vlan
        0x10, 0x00, 0x00, 0x00, // change flags reserved
        0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x80, 0x01, // addr vid
    ];

    const ROAM: [u8; 12] = [
        0x05, 0x01, 0x00, 0x08, // ROAM v1 len 8
        0x0a, 0x00, 0x00, 0x00, 0x00, 0x05, 0x80, 0x03, // client vid
    ];

    const MCAST: [u8; 8] = [0x06, 0x02, 0x00, 0x04, 0x1f, 0x00, 0x00, 0x00];

    const DAT: [u8; 4] = [0x02, 0x01, 0x00, 0x00];

    fn one(bytes: &[u8]) -> TvlvRepr<'_> {
        let mut it = TvlvIter::new(bytes);
        let t = it.next().unwrap().unwrap();
        assert!(it.next().is_none());
        t
    }

    fn tt_repr() -> TtRepr {
        TtRepr {
            flags: TT_OGM_DIFF,
            ttvn: 7,
            vlans: vec![TtVlan {
                crc: 0xdead_beef,
                vid: VLAN_HAS_TAG | 1,
            }],
            changes: vec![TtChange {
                flags: TT_CLIENT_WIFI,
                addr: Mac([0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f]),
                vid: VLAN_HAS_TAG | 1,
            }],
        }
    }

    #[test]
    fn gw_parse_and_emit_known_bytes() {
        let g = GwData::parse_tvlv(&one(&GW)).unwrap();
        assert_eq!(
            g,
            GwData {
                bandwidth_down: 100,
                bandwidth_up: 10
            }
        );
        assert_eq!(g.to_tvlv().unwrap(), GW.to_vec());
        assert_eq!(g.value_to_vec(), GW[4..].to_vec());
    }

    #[test]
    fn gw_short_long_and_mismatched() {
        assert_eq!(
            GwData::parse_value(&GW[4..11]).unwrap_err(),
            Error::Truncated { need: 8, have: 7 }
        );
        assert_eq!(
            GwData::parse_value(&[]).unwrap_err(),
            Error::Truncated { need: 8, have: 0 }
        );
        // trailing bytes are ignored, as batman-adv does
        let mut long = GW[4..].to_vec();
        long.push(0xff);
        assert_eq!(GwData::parse_value(&long).unwrap().bandwidth_up, 10);
        // wrong type or version
        assert!(GwData::parse_tvlv(&one(&ROAM)).is_err());
        let mut v2 = GW;
        v2[1] = 2;
        assert_eq!(
            GwData::parse_tvlv(&one(&v2)).unwrap_err(),
            Error::Malformed("unsupported TVLV version")
        );
    }

    #[test]
    fn dat_is_empty() {
        assert_eq!(Dat::parse_tvlv(&one(&DAT)).unwrap(), Dat);
        assert_eq!(Dat.to_tvlv().unwrap(), DAT.to_vec());
    }

    #[test]
    fn tt_parse_known_bytes() {
        let t = one(&TT);
        let d = TtData::parse(t.value).unwrap();
        assert_eq!((d.flags, d.ttvn), (TT_OGM_DIFF, 7));
        assert_eq!(d.data_type(), TT_OGM_DIFF);
        assert!(!d.is_full_table());
        assert_eq!((d.num_vlan(), d.num_changes()), (1, 1));
        assert_eq!(d.vlans().len(), 1);
        let v: Vec<_> = d.vlans().collect();
        assert_eq!(v, tt_repr().vlans);
        let c: Vec<_> = d.changes().collect();
        assert_eq!(c, tt_repr().changes);
        assert_eq!(TtRepr::parse_tvlv(&t).unwrap(), tt_repr());
    }

    #[test]
    fn tt_emit_known_bytes() {
        assert_eq!(tt_repr().to_tvlv().unwrap(), TT.to_vec());
        // reserved bytes are zeroed even when the buffer held garbage
        let mut buf = vec![0xffu8; 24];
        tt_repr().emit_value(&mut buf);
        assert_eq!(buf, TT[4..].to_vec());
        // and ignored on parse
        let mut dirty = TT;
        dirty[14] = 0x55; // vlan reserved
        dirty[17] = 0x66; // change reserved
        assert_eq!(TtRepr::parse_tvlv(&one(&dirty)).unwrap(), tt_repr());
    }

    #[test]
    fn tt_request_without_changes() {
        let req = TtRepr {
            flags: TT_REQUEST | TT_FULL_TABLE,
            ttvn: 9,
            vlans: vec![TtVlan {
                crc: 0xcafe_babe,
                vid: 0,
            }],
            changes: vec![],
        };
        let bytes = req.to_tvlv().unwrap();
        assert_eq!(
            bytes,
            vec![
                0x04, 0x01, 0x00, 0x0c, 0x12, 0x09, 0x00, 0x01, 0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00,
                0x00, 0x00
            ]
        );
        let d = TtData::parse(&bytes[4..]).unwrap();
        assert_eq!(d.data_type(), TT_REQUEST);
        assert!(d.is_full_table());
        assert_eq!(d.changes().count(), 0);
    }

    #[test]
    fn tt_zero_vlans_and_header_only() {
        let d = TtData::parse(&[0x01, 0x03, 0x00, 0x00]).unwrap();
        assert_eq!((d.num_vlan(), d.num_changes()), (0, 0));
        // changes without VLAN entries are fine on the wire
        let mut v = vec![0x01, 0x03, 0x00, 0x00];
        v.extend_from_slice(&TT[16..]);
        let d = TtData::parse(&v).unwrap();
        assert_eq!(d.num_changes(), 1);
        assert_eq!(d.changes().next().unwrap().flags, TT_CLIENT_WIFI);
    }

    #[test]
    fn tt_rejects_bad_lengths() {
        assert_eq!(
            TtData::parse(&TT[4..7]).unwrap_err(),
            Error::Truncated { need: 4, have: 3 }
        );
        // num_vlan past the end of the value
        let mut v = TT[4..].to_vec();
        v[2] = 0x00;
        v[3] = 0x04; // 4 VLANs = 32 bytes, only 20 left
        assert_eq!(
            TtData::parse(&v).unwrap_err(),
            Error::Overrun { len: 32, avail: 20 }
        );
        // num_vlan at its maximum: the multiplication must not wrap
        v[2] = 0xff;
        v[3] = 0xff;
        assert_eq!(
            TtData::parse(&v).unwrap_err(),
            Error::Overrun {
                len: 0xffff * 8,
                avail: 20
            }
        );
        // change area not a multiple of 12
        let mut v = TT[4..].to_vec();
        v.push(0);
        assert_eq!(
            TtData::parse(&v).unwrap_err(),
            Error::Malformed("TT change area is not a multiple of 12 bytes")
        );
        v.truncate(23);
        assert!(TtData::parse(&v).is_err());
    }

    #[test]
    fn tt_check_rejects_oversized() {
        let big = TtRepr {
            changes: vec![TtChange::default(); 5461], // 4 + 65532 = 65536 bytes
            ..TtRepr::default()
        };
        assert!(big.check().is_err());
        assert!(big.to_tvlv().is_err());
        let fits = TtRepr {
            changes: vec![TtChange::default(); 5460], // 4 + 65520 bytes
            ..TtRepr::default()
        };
        assert_eq!(fits.to_tvlv().unwrap().len(), 4 + 65524);
    }

    #[test]
    fn roam_parse_and_emit_known_bytes() {
        let r = RoamAdv::parse_tvlv(&one(&ROAM)).unwrap();
        assert_eq!(
            r,
            RoamAdv {
                client: Mac([0x0a, 0, 0, 0, 0, 5]),
                vid: 0x8003
            }
        );
        assert_eq!(r.to_tvlv().unwrap(), ROAM.to_vec());
        assert_eq!(
            RoamAdv::parse_value(&ROAM[4..11]).unwrap_err(),
            Error::Truncated { need: 8, have: 7 }
        );
    }

    #[test]
    fn mcast_parse_and_emit_known_bytes() {
        let m = McastData::parse_tvlv(&one(&MCAST)).unwrap();
        assert_eq!(
            m.flags,
            MCAST_WANT_ALL_UNSNOOPABLES
                | MCAST_WANT_ALL_IPV4
                | MCAST_WANT_ALL_IPV6
                | MCAST_WANT_NO_RTR4
                | MCAST_WANT_NO_RTR6
        );
        assert_eq!(m.to_tvlv().unwrap(), MCAST.to_vec());
        let mut dirty = MCAST;
        dirty[5] = 9; // reserved
        assert_eq!(McastData::parse_tvlv(&one(&dirty)).unwrap(), m);
        // version 1 is an older, different layout
        let mut v1 = MCAST;
        v1[1] = 1;
        assert!(McastData::parse_tvlv(&one(&v1)).is_err());
        assert!(McastData::parse_value(&[0x20, 0, 0]).is_err());
    }

    #[test]
    fn any_value_dispatch() {
        let mut area = Vec::new();
        area.extend_from_slice(&GW);
        area.extend_from_slice(&DAT);
        area.extend_from_slice(&TT);
        area.extend_from_slice(&ROAM);
        area.extend_from_slice(&MCAST);
        area.extend_from_slice(&[0xa0, 0x03, 0x00, 0x02, 0xbe, 0xef]); // unknown
        area.extend_from_slice(&[0x06, 0x01, 0x00, 0x00]); // MCAST v1: other
        let v: Vec<_> = TvlvIter::new(&area)
            .map(|t| TvlvValue::parse(&t.unwrap()).unwrap())
            .collect();
        assert_eq!(v.len(), 7);
        assert!(matches!(v[0], TvlvValue::Gw(g) if g.bandwidth_down == 100));
        assert!(matches!(v[1], TvlvValue::Dat(Dat)));
        assert!(matches!(v[2], TvlvValue::Tt(d) if d.num_changes() == 1));
        assert!(matches!(v[3], TvlvValue::Roam(r) if r.vid == 0x8003));
        assert!(matches!(v[4], TvlvValue::Mcast(m) if m.flags == 0x1f));
        assert!(matches!(v[5], TvlvValue::Other(t) if t.tvlv_type == TvlvType::Unknown(0xa0)));
        assert!(matches!(v[6], TvlvValue::Other(t) if t.version == 1));

        // a known type with a broken value is an error, not Other
        let mut bad = TT;
        bad[7] = 9;
        assert!(matches!(
            TvlvValue::parse(&one(&bad)),
            Err(Error::Overrun { .. })
        ));
    }
}

//! TVLV containers (type, version, length, value), carried after OGM and
//! UNICAST_TVLV headers.
//!
//! ```text
//! +---------------+---------------+-------------------------------+
//! |     type      |    version    |          len (be16)           |
//! +---------------+---------------+-------------------------------+
//! |  len bytes of value ...                                       |
//! ```
//!
//! Types batman-adv does not know are skipped by it, which is how meshd adds
//! its own data without breaking kernel peers: [`TvlvIter`] yields every
//! container, known or not.

use super::{be16, check_len, put16, Error, Result};

/// Length of a TVLV header.
pub const HEADER_LEN: usize = 4;

/// Registered TVLV types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TvlvType {
    Gw,
    Dat,
    Nc,
    Tt,
    Roam,
    Mcast,
    McastTracker,
    /// Any other type byte: carried and skipped.
    Unknown(u8),
}

impl From<u8> for TvlvType {
    fn from(v: u8) -> Self {
        match v {
            0x01 => Self::Gw,
            0x02 => Self::Dat,
            0x03 => Self::Nc,
            0x04 => Self::Tt,
            0x05 => Self::Roam,
            0x06 => Self::Mcast,
            0x07 => Self::McastTracker,
            o => Self::Unknown(o),
        }
    }
}

impl From<TvlvType> for u8 {
    fn from(t: TvlvType) -> u8 {
        match t {
            TvlvType::Gw => 0x01,
            TvlvType::Dat => 0x02,
            TvlvType::Nc => 0x03,
            TvlvType::Tt => 0x04,
            TvlvType::Roam => 0x05,
            TvlvType::Mcast => 0x06,
            TvlvType::McastTracker => 0x07,
            TvlvType::Unknown(o) => o,
        }
    }
}

/// A view of one TVLV container: header plus `len` value bytes.
#[derive(Debug, Clone)]
pub struct TvlvPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TvlvPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        TvlvPacket { buffer }
    }
    /// Check that the header and the whole value are present.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Self::new_unchecked(buffer);
        let b = p.buffer.as_ref();
        check_len(b, HEADER_LEN)?;
        let len = be16(b, 2) as usize;
        if HEADER_LEN + len > b.len() {
            return Err(Error::Overrun {
                len,
                avail: b.len() - HEADER_LEN,
            });
        }
        Ok(p)
    }
    pub fn tvlv_type(&self) -> TvlvType {
        self.buffer.as_ref()[0].into()
    }
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), 2)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value bytes.
    pub fn value(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..HEADER_LEN + self.len() as usize]
    }
}

/// One decoded TVLV: type, version and a borrowed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TvlvRepr<'a> {
    pub tvlv_type: TvlvType,
    pub version: u8,
    pub value: &'a [u8],
}

impl<'a> TvlvRepr<'a> {
    pub fn parse(p: &TvlvPacket<&'a [u8]>) -> Result<Self> {
        let b: &'a [u8] = p.buffer;
        let len = be16(b, 2) as usize;
        Ok(TvlvRepr {
            tvlv_type: b[0].into(),
            version: b[1],
            value: &b[HEADER_LEN..HEADER_LEN + len],
        })
    }
    /// Header plus value.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.value.len()
    }
    /// Write into `buf`, which must hold `buffer_len()` bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.tvlv_type.into();
        buf[1] = self.version;
        put16(buf, 2, self.value.len() as u16);
        buf[HEADER_LEN..HEADER_LEN + self.value.len()].copy_from_slice(self.value);
    }
    /// Append the encoding to `out`.
    pub fn append_to(&self, out: &mut Vec<u8>) {
        let at = out.len();
        out.resize(at + self.buffer_len(), 0);
        self.emit(&mut out[at..]);
    }
}

/// Walks a TVLV container area. Yields each container; a header or value
/// that runs past the end yields one `Err` and stops.
#[derive(Debug, Clone)]
pub struct TvlvIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> TvlvIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        TvlvIter {
            buf,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for TvlvIter<'a> {
    type Item = Result<TvlvRepr<'a>>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let rest: &'a [u8] = &self.buf[self.pos..];
        match TvlvPacket::new_checked(rest).and_then(|p| TvlvRepr::parse(&p)) {
            Ok(r) => {
                self.pos += r.buffer_len();
                Some(Ok(r))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Validate a whole TVLV area: every container complete, nothing left over.
pub fn check_area(buf: &[u8]) -> Result<usize> {
    let mut n = 0;
    for r in TvlvIter::new(buf) {
        r?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_known_unknown_and_zero_length() {
        let area = [
            0x01, 0x01, 0x00, 0x08, 0, 0, 0, 100, 0, 0, 0, 10, // GW
            0x02, 0x01, 0x00, 0x00, // DAT, zero length
            0xa0, 0x03, 0x00, 0x02, 0xbe, 0xef, // unknown type 0xa0
        ];
        let v: Vec<_> = TvlvIter::new(&area).map(|r| r.unwrap()).collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].tvlv_type, TvlvType::Gw);
        assert_eq!(v[0].value.len(), 8);
        assert_eq!(v[1].tvlv_type, TvlvType::Dat);
        assert!(v[1].value.is_empty());
        assert_eq!(v[2].tvlv_type, TvlvType::Unknown(0xa0));
        assert_eq!(v[2].version, 3);
        assert_eq!(v[2].value, &[0xbe, 0xef]);
        assert_eq!(check_area(&area), Ok(3));

        let mut out = Vec::new();
        for r in &v {
            r.append_to(&mut out);
        }
        assert_eq!(out, area.to_vec());
    }

    #[test]
    fn rejects_overrun_and_short_header() {
        let area = [0x04, 0x01, 0xff, 0xff, 0, 0];
        let v: Vec<_> = TvlvIter::new(&area).collect();
        assert_eq!(
            v,
            vec![Err(Error::Overrun {
                len: 0xffff,
                avail: 2
            })]
        );
        let area = [0x01, 0x01, 0x00, 0x00, 0x05, 0x01];
        let v: Vec<_> = TvlvIter::new(&area).collect();
        assert_eq!(v.len(), 2);
        assert!(matches!(v[1], Err(Error::Truncated { need: 4, have: 2 })));
        assert!(check_area(&area).is_err());
    }
}

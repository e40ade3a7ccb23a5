//! The `.mesh` DNS responder, sans-IO: one query datagram in, at most one
//! reply datagram out ([`respond`]). The daemon owns the UDP socket
//! (default [`DEFAULT_LISTEN`]; dnsmasq on the LAN forwards `/mesh/` to it)
//! and the name table; this module only speaks RFC 1035 / RFC 6891.
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +---------------+---------------+---------------+---------------+
//! |              id               |Q| opcode|A|T|R|R|Z|A|C| rcode |  0
//! |                               |R|       |A|C|D|A| |D|D|       |
//! +---------------+---------------+---------------+---------------+
//! |            qdcount            |            ancount            |  4
//! +---------------+---------------+---------------+---------------+
//! |            nscount            |            arcount            |  8
//! +---------------+---------------+---------------+---------------+
//! |  question: qname (labels, 0-terminated), qtype, qclass ...    | 12
//! ```
//!
//! What is answered, and how:
//!
//! | query | reply |
//! |---|---|
//! | shorter than the header, or QR=1 (a response) | nothing (never answer answers: no loops) |
//! | opcode other than QUERY | NOTIMP, header only |
//! | QDCOUNT ≠ 1, bad name (label type, compression pointer, > 255 bytes), cut short, several OPT | FORMERR, header only |
//! | EDNS version ≠ 0 | BADVERS (RFC 6891) |
//! | name outside `.mesh`, or class other than IN/ANY | REFUSED |
//! | `.mesh` name unknown to `lookup` | NXDOMAIN, AA |
//! | `mesh.` itself, or a type other than A/AAAA/ANY | NOERROR without answers (NODATA), AA |
//! | A, AAAA, ANY (= both) | the addresses, [`TTL`], at most [`MAX_ANSWERS`], AA |
//!
//! The question is echoed as received (so 0x20 case randomisation still
//! matches) and every answer names it with the pointer `0xc00c`. A query
//! with an OPT record gets an OPT back advertising [`EDNS_UDP_SIZE`] and the
//! reply may use up to the smaller of that and the client's size; without
//! EDNS it stays within [`PLAIN_UDP_SIZE`]. Answers that do not fit are
//! dropped and TC is set (with EDNS that cannot happen at the answer cap
//! unless the client advertises less than our size).
//!
//! Parsing is zero-copy over the datagram ([`Header`], [`Name`],
//! [`Question`], [`Query`]); every step is bounds-checked and returns a
//! typed [`Error`], and the work is linear in the datagram's length.

use core::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// Where the daemon listens by default (dnsmasq forwards `/mesh/` here).
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 5353);
/// The zone answered: its last label.
pub const ZONE: &str = "mesh";
/// TTL of every answer, seconds: short, as names move when keys or
/// claims change.
pub const TTL: u32 = 60;
/// Most answer records in one reply (AAAA and A together).
pub const MAX_ANSWERS: usize = 16;
/// UDP payload size advertised in our OPT record (the DNS flag day 2020
/// value: no IP fragmentation on any sane path).
pub const EDNS_UDP_SIZE: u16 = 1232;
/// Largest reply to a query without EDNS (RFC 1035 §4.2.1).
pub const PLAIN_UDP_SIZE: usize = 512;
/// Length of the message header.
pub const HEADER_LEN: usize = 12;
/// Longest name on the wire, length bytes and the final zero included.
pub const MAX_NAME_LEN: usize = 255;

/// Record types used here.
pub mod rtype {
    pub const A: u16 = 1;
    pub const AAAA: u16 = 28;
    pub const OPT: u16 = 41;
    pub const ANY: u16 = 255;
}

/// Classes used here.
pub mod class {
    pub const IN: u16 = 1;
    pub const ANY: u16 = 255;
}

/// Response codes used here (BADVERS is an extended code, RFC 6891).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const BADVERS: u16 = 16;
}

/// The QUERY opcode (the only one answered).
pub const OPCODE_QUERY: u8 = 0;

/// Fixed part of a resource record after its name: type, class, TTL,
/// RDLENGTH.
const RR_FIXED_LEN: usize = 10;
/// Our OPT record: root name, then the fixed part, no options.
const OPT_LEN: usize = 1 + RR_FIXED_LEN;
/// An answer record: the 2-byte pointer to the question name, the fixed
/// part, the address.
const A_LEN: usize = 2 + RR_FIXED_LEN + 4;
const AAAA_LEN: usize = 2 + RR_FIXED_LEN + 16;
/// The compression pointer to the question name, right after the header.
const QNAME_POINTER: [u8; 2] = [0xc0, HEADER_LEN as u8];

// The largest possible reply with EDNS (longest question, MAX_ANSWERS
// AAAA records, our OPT) fits in what we advertise: with EDNS, only a
// client advertising less than EDNS_UDP_SIZE can see TC.
const _: () = assert!(
    HEADER_LEN + MAX_NAME_LEN + 4 + MAX_ANSWERS * AAAA_LEN + OPT_LEN <= EDNS_UDP_SIZE as usize
);
// The question echo plus an OPT always fit in a plain reply.
const _: () = assert!(HEADER_LEN + MAX_NAME_LEN + 4 + OPT_LEN <= PLAIN_UDP_SIZE);

/// What a `.mesh` name resolves to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub v6: Vec<Ipv6Addr>,
    pub v4: Vec<Ipv4Addr>,
}

/// Result of parsing a query.
pub type Result<T> = core::result::Result<T, Error>;

/// Why a query could not be parsed (each is answered with FORMERR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The datagram ends before a field that should be there.
    Truncated { need: usize, have: usize },
    /// QDCOUNT is not 1.
    QuestionCount(u16),
    /// A label length byte with the reserved top bits 01 or 10.
    LabelType(u8),
    /// A compression pointer inside the question name.
    Pointer,
    /// A name longer than [`MAX_NAME_LEN`] bytes on the wire.
    NameTooLong,
    /// An OPT record whose owner is not the root.
    OptOwner,
    /// More than one OPT record.
    MultipleOpt,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated { need, have } => {
                write!(f, "truncated: need {need} bytes, have {have}")
            }
            Error::QuestionCount(n) => write!(f, "{n} questions (exactly 1 answered)"),
            Error::LabelType(b) => write!(f, "unsupported label type {b:#04x}"),
            Error::Pointer => f.write_str("compression pointer in the question"),
            Error::NameTooLong => write!(f, "name longer than {MAX_NAME_LEN} bytes"),
            Error::OptOwner => f.write_str("OPT record not owned by the root"),
            Error::MultipleOpt => f.write_str("more than one OPT record"),
        }
    }
}

impl std::error::Error for Error {}

fn check_len(buf: &[u8], need: usize) -> Result<()> {
    if buf.len() < need {
        Err(Error::Truncated {
            need,
            have: buf.len(),
        })
    } else {
        Ok(())
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A view of the 12-byte message header.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    buf: &'a [u8],
}

mod field {
    pub const ID: usize = 0;
    pub const FLAGS: usize = 2;
    pub const QDCOUNT: usize = 4;
    pub const ANCOUNT: usize = 6;
    pub const NSCOUNT: usize = 8;
    pub const ARCOUNT: usize = 10;
}

const _: () = assert!(field::ARCOUNT + 2 == HEADER_LEN);

/// Bits of the flags word.
mod flag {
    pub const QR: u16 = 0x8000;
    pub const OPCODE_SHIFT: u16 = 11;
    pub const OPCODE_MASK: u16 = 0x7800;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RCODE_MASK: u16 = 0x000f;
}

impl<'a> Header<'a> {
    /// Wrap a datagram at least [`HEADER_LEN`] bytes long.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self> {
        check_len(buf, HEADER_LEN)?;
        Ok(Header { buf })
    }
    pub fn id(&self) -> u16 {
        be16(self.buf, field::ID)
    }
    pub fn flags(&self) -> u16 {
        be16(self.buf, field::FLAGS)
    }
    /// QR: the message is a response.
    pub fn is_response(&self) -> bool {
        self.flags() & flag::QR != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags() & flag::OPCODE_MASK) >> flag::OPCODE_SHIFT) as u8
    }
    pub fn qdcount(&self) -> u16 {
        be16(self.buf, field::QDCOUNT)
    }
    pub fn ancount(&self) -> u16 {
        be16(self.buf, field::ANCOUNT)
    }
    pub fn nscount(&self) -> u16 {
        be16(self.buf, field::NSCOUNT)
    }
    pub fn arcount(&self) -> u16 {
        be16(self.buf, field::ARCOUNT)
    }
}

/// A name in the question: uncompressed labels ending with the zero byte,
/// validated (label types, total length) by [`Name::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name<'a> {
    wire: &'a [u8],
}

impl<'a> Name<'a> {
    /// Parse the name starting at `at`; pointers are refused.
    pub fn parse(buf: &'a [u8], at: usize) -> Result<Self> {
        let mut pos = at;
        loop {
            check_len(buf, pos + 1)?;
            let len = buf[pos];
            match len & 0xc0 {
                0x00 => {}
                0xc0 => return Err(Error::Pointer),
                _ => return Err(Error::LabelType(len)),
            }
            let end = pos + 1 + usize::from(len);
            if end - at > MAX_NAME_LEN {
                return Err(Error::NameTooLong);
            }
            if len == 0 {
                return Ok(Name {
                    wire: &buf[at..end],
                });
            }
            pos = end;
        }
    }

    /// The name as it was on the wire, final zero included.
    #[cfg(test)]
    pub fn wire(&self) -> &'a [u8] {
        self.wire
    }

    /// The labels, first to last (the root has none).
    pub fn labels(&self) -> Labels<'a> {
        Labels { rest: self.wire }
    }
}

/// Iterator over the labels of a [`Name`].
#[derive(Debug, Clone)]
pub struct Labels<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let len = usize::from(len);
        if len == 0 || len > tail.len() {
            self.rest = &[];
            return None;
        }
        let (label, rest) = tail.split_at(len);
        self.rest = rest;
        Some(label)
    }
}

/// The question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Question<'a> {
    pub name: Name<'a>,
    pub qtype: u16,
    pub qclass: u16,
}

impl<'a> Question<'a> {
    /// Bytes it takes on the wire.
    pub fn wire_len(&self) -> usize {
        self.name.wire.len() + 4
    }
}

/// The EDNS(0) parameters of a query's OPT record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// The requestor's UDP payload size.
    pub udp_size: u16,
    pub version: u8,
    /// DO: DNSSEC OK (copied into the reply's OPT, RFC 3225).
    pub dnssec_ok: bool,
}

/// A parsed query: header, its one question, its OPT record if any.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    #[allow(dead_code)] // the daemon reads only the question and OPT
    pub header: Header<'a>,
    pub question: Question<'a>,
    pub edns: Option<Edns>,
}

/// The end of the (possibly compressed) name at `at`, without following
/// pointers: a pointer ends it.
fn skip_name(buf: &[u8], at: usize) -> Result<usize> {
    let mut pos = at;
    loop {
        check_len(buf, pos + 1)?;
        let len = buf[pos];
        match len & 0xc0 {
            0x00 if len == 0 => return Ok(pos + 1),
            0x00 => pos += 1 + usize::from(len),
            0xc0 => {
                check_len(buf, pos + 2)?;
                return Ok(pos + 2);
            }
            _ => return Err(Error::LabelType(len)),
        }
        if pos - at > MAX_NAME_LEN {
            return Err(Error::NameTooLong);
        }
    }
}

impl<'a> Query<'a> {
    /// Parse a query: the header, exactly one question, and every record
    /// after it (skipped, but checked to be complete) looking for OPT.
    pub fn parse(buf: &'a [u8]) -> Result<Self> {
        let header = Header::new_checked(buf)?;
        if header.qdcount() != 1 {
            return Err(Error::QuestionCount(header.qdcount()));
        }
        let name = Name::parse(buf, HEADER_LEN)?;
        let at = HEADER_LEN + name.wire.len();
        check_len(buf, at + 4)?;
        let question = Question {
            name,
            qtype: be16(buf, at),
            qclass: be16(buf, at + 2),
        };
        let mut pos = at + 4;
        let mut edns = None;
        let (an, ns, ar) = (header.ancount(), header.nscount(), header.arcount());
        // Each record takes at least 11 bytes or the loop stops with
        // Truncated: the work is bounded by the datagram's length.
        let records = u32::from(an) + u32::from(ns) + u32::from(ar);
        for i in 0..records {
            let name_at = pos;
            pos = skip_name(buf, pos)?;
            check_len(buf, pos + RR_FIXED_LEN)?;
            let rtype = be16(buf, pos);
            let rclass = be16(buf, pos + 2);
            let ttl = be32(buf, pos + 4);
            let rdlen = usize::from(be16(buf, pos + 8));
            pos += RR_FIXED_LEN;
            check_len(buf, pos + rdlen)?;
            pos += rdlen;
            let additional = i >= u32::from(an) + u32::from(ns);
            if additional && rtype == rtype::OPT {
                if buf[name_at] != 0 {
                    return Err(Error::OptOwner);
                }
                if edns.is_some() {
                    return Err(Error::MultipleOpt);
                }
                edns = Some(Edns {
                    udp_size: rclass,
                    version: (ttl >> 16) as u8,
                    dnssec_ok: ttl & 0x8000 != 0,
                });
            }
        }
        Ok(Query {
            header,
            question,
            edns,
        })
    }
}

/// Where a question's name falls.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Place {
    /// Not under `.mesh`.
    Outside,
    /// `mesh.` itself.
    Apex,
    /// Under `.mesh`, lower-cased, without the trailing dot.
    Inside(String),
    /// Under `.mesh` but with bytes no mesh name has (so it cannot exist;
    /// never handed to `lookup`, where `.` inside a label would be
    /// ambiguous).
    Invalid,
}

fn hostname_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn place(name: &Name<'_>) -> Place {
    let labels: Vec<&[u8]> = name.labels().collect();
    match labels.split_last() {
        Some((last, rest)) if last.eq_ignore_ascii_case(ZONE.as_bytes()) => {
            if rest.is_empty() {
                return Place::Apex;
            }
            if !labels.iter().all(|l| l.iter().all(|&b| hostname_byte(b))) {
                return Place::Invalid;
            }
            let mut s = String::with_capacity(name.wire.len());
            for (i, l) in labels.iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                s.extend(l.iter().map(|b| char::from(b.to_ascii_lowercase())));
            }
            Place::Inside(s)
        }
        _ => Place::Outside,
    }
}

/// A header-only reply (FORMERR, NOTIMP): the question may not be
/// parseable, so it is not echoed.
fn bare_reply(header: &Header<'_>, rcode: u16) -> Vec<u8> {
    let flags =
        flag::QR | (header.flags() & (flag::OPCODE_MASK | flag::RD)) | (rcode & flag::RCODE_MASK);
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(&header.id().to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
    out
}

/// Answer one query datagram. `lookup` gets a `.mesh` name lower-cased,
/// without the trailing dot (`l7zelifkfympnobf.mesh`), and says what it
/// resolves to, if it exists. `None`: send nothing (a response, or not
/// even a header).
pub fn respond(query: &[u8], lookup: &dyn Fn(&str) -> Option<Answer>) -> Option<Vec<u8>> {
    let header = Header::new_checked(query).ok()?;
    if header.is_response() {
        return None;
    }
    if header.opcode() != OPCODE_QUERY {
        return Some(bare_reply(&header, rcode::NOTIMP));
    }
    let q = match Query::parse(query) {
        Ok(q) => q,
        Err(_) => return Some(bare_reply(&header, rcode::FORMERR)),
    };
    let question = q.question;

    let mut aa = false;
    let mut rc = rcode::NOERROR;
    let found;
    let place = place(&question.name);
    let class_ok = question.qclass == class::IN || question.qclass == class::ANY;
    if q.edns.is_some_and(|e| e.version != 0) {
        rc = rcode::BADVERS;
        found = None;
    } else if place == Place::Outside || !class_ok {
        rc = rcode::REFUSED;
        found = None;
    } else {
        aa = true;
        found = match &place {
            Place::Inside(name) => lookup(name),
            Place::Apex => Some(Answer::default()),
            Place::Outside | Place::Invalid => None,
        };
        if found.is_none() {
            rc = rcode::NXDOMAIN;
        }
    }
    // Octets of the addresses, kept alive for `records` to borrow.
    let (v6, v4): (Vec<[u8; 16]>, Vec<[u8; 4]>) = match &found {
        Some(a) => (
            a.v6.iter().map(Ipv6Addr::octets).collect(),
            a.v4.iter().map(Ipv4Addr::octets).collect(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let (want6, want4) = match question.qtype {
        rtype::AAAA => (true, false),
        rtype::A => (false, true),
        rtype::ANY => (true, true),
        _ => (false, false),
    };
    let mut records: Vec<(u16, &[u8])> = Vec::new();
    if want6 {
        records.extend(v6.iter().map(|o| (rtype::AAAA, &o[..])));
    }
    if want4 {
        records.extend(v4.iter().map(|o| (rtype::A, &o[..])));
    }
    records.truncate(MAX_ANSWERS);

    let limit = match q.edns {
        Some(e) => usize::from(e.udp_size.clamp(PLAIN_UDP_SIZE as u16, EDNS_UDP_SIZE)),
        None => PLAIN_UDP_SIZE,
    };
    let opt_len = if q.edns.is_some() { OPT_LEN } else { 0 };

    let mut out = Vec::with_capacity(limit);
    out.extend_from_slice(&header.id().to_be_bytes());
    out.extend_from_slice(&[0; 10]); // flags and counts, filled in below
    out.extend_from_slice(&query[HEADER_LEN..HEADER_LEN + question.wire_len()]);
    let mut ancount: u16 = 0;
    let mut tc = false;
    for (rt, addr) in &records {
        let len = if *rt == rtype::A { A_LEN } else { AAAA_LEN };
        if out.len() + len + opt_len > limit {
            tc = true;
            break;
        }
        out.extend_from_slice(&QNAME_POINTER);
        out.extend_from_slice(&rt.to_be_bytes());
        out.extend_from_slice(&class::IN.to_be_bytes());
        out.extend_from_slice(&TTL.to_be_bytes());
        out.extend_from_slice(&(addr.len() as u16).to_be_bytes());
        out.extend_from_slice(addr);
        ancount += 1;
    }
    if let Some(e) = q.edns {
        out.push(0); // root
        out.extend_from_slice(&rtype::OPT.to_be_bytes());
        out.extend_from_slice(&EDNS_UDP_SIZE.to_be_bytes());
        out.push((rc >> 4) as u8); // extended rcode, upper 8 bits
        out.push(0); // version
        out.extend_from_slice(&(if e.dnssec_ok { 0x8000u16 } else { 0 }).to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes()); // no options
    }
    let mut flags = flag::QR | (header.flags() & flag::RD) | (rc & flag::RCODE_MASK);
    if aa {
        flags |= flag::AA;
    }
    if tc {
        flags |= flag::TC;
    }
    out[field::FLAGS..field::FLAGS + 2].copy_from_slice(&flags.to_be_bytes());
    out[field::QDCOUNT..field::QDCOUNT + 2].copy_from_slice(&1u16.to_be_bytes());
    out[field::ANCOUNT..field::ANCOUNT + 2].copy_from_slice(&ancount.to_be_bytes());
    let arcount = u16::from(q.edns.is_some());
    out[field::ARCOUNT..field::ARCOUNT + 2].copy_from_slice(&arcount.to_be_bytes());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dig @127.0.0.1 -p 15353 l7zelifkfympnobf.mesh AAAA` as dig 9.18
    /// sent it (captured): RD and AD set, an OPT with UDP size 1232 and a
    /// client COOKIE option.
    const DIG_AAAA: &[u8] = &[
        0xa9, 0x3c, // id
        0x01, 0x20, // RD, AD
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, // qd 1, an 0, ns 0, ar 1
        16, b'l', b'7', b'z', b'e', b'l', b'i', b'f', b'k', b'f', b'y', b'm', b'p', b'n', b'o',
        b'b', b'f', 4, b'm', b'e', b's', b'h', 0, // qname
        0x00, 0x1c, 0x00, 0x01, // AAAA IN
        0x00, // OPT: root
        0x00, 0x29, 0x04, 0xd0, // OPT, UDP size 1232
        0x00, 0x00, 0x00, 0x00, // ext rcode, version 0, DO 0
        0x00, 0x0c, // rdlen 12
        0x00, 0x0a, 0x00, 0x08, // COOKIE, 8 bytes
        0x01, 0x57, 0xca, 0x4b, 0xaa, 0x82, 0x1f, 0x49,
    ];

    /// The same question as `host -t AAAA` sends it: RD only, no EDNS.
    const HOST_AAAA: &[u8] = &[
        0xc6, 0x3b, // id
        0x01, 0x00, // RD
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // qd 1
        16, b'l', b'7', b'z', b'e', b'l', b'i', b'f', b'k', b'f', b'y', b'm', b'p', b'n', b'o',
        b'b', b'f', 4, b'm', b'e', b's', b'h', 0, // qname
        0x00, 0x1c, 0x00, 0x01, // AAAA IN
    ];

    const NAME: &str = "l7zelifkfympnobf.mesh";

    fn node_v6() -> Ipv6Addr {
        "fd7c:d550:3dce:4f5d:34a3:e495:803b:7e60".parse().unwrap()
    }

    fn table(name: &str) -> Option<Answer> {
        match name {
            NAME => Some(Answer {
                v6: vec![node_v6()],
                v4: vec![Ipv4Addr::new(10, 224, 224, 1)],
            }),
            "v6only.mesh" => Some(Answer {
                v6: vec![node_v6()],
                v4: vec![],
            }),
            _ => None,
        }
    }

    /// A query for `name` (dotted, no trailing dot) of `qtype`, with an
    /// optional OPT record of `udp_size`.
    fn query(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, u8::from(edns.is_some())]);
        for l in name.split('.') {
            q.push(l.len() as u8);
            q.extend_from_slice(l.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&class::IN.to_be_bytes());
        if let Some(size) = edns {
            q.push(0);
            q.extend_from_slice(&rtype::OPT.to_be_bytes());
            q.extend_from_slice(&size.to_be_bytes());
            q.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        }
        q
    }

    fn rcode_of(r: &[u8]) -> u16 {
        be16(r, 2) & 0x000f
    }

    fn counts(r: &[u8]) -> [u16; 4] {
        [be16(r, 4), be16(r, 6), be16(r, 8), be16(r, 10)]
    }

    #[test]
    fn dig_aaaa_with_edns_every_byte() {
        let r = respond(DIG_AAAA, &table).unwrap();
        let mut want = vec![
            0xa9, 0x3c, // id copied
            0x85, 0x00, // QR, AA, RD; RA 0, AD 0, NOERROR
            0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, // qd 1, an 1, ns 0, ar 1
        ];
        want.extend_from_slice(&DIG_AAAA[12..12 + 27]); // the question echoed
        want.extend_from_slice(&[
            0xc0, 0x0c, // pointer to the question name
            0x00, 0x1c, 0x00, 0x01, // AAAA IN
            0x00, 0x00, 0x00, 0x3c, // TTL 60
            0x00, 0x10, // rdlen 16
            0xfd, 0x7c, 0xd5, 0x50, 0x3d, 0xce, 0x4f, 0x5d, 0x34, 0xa3, 0xe4, 0x95, 0x80, 0x3b,
            0x7e, 0x60, // the address
            0x00, // OPT: root
            0x00, 0x29, 0x04, 0xd0, // OPT, UDP size 1232
            0x00, 0x00, 0x00, 0x00, // NOERROR, version 0, DO 0
            0x00, 0x00, // no options
        ]);
        assert_eq!(r, want);
    }

    #[test]
    fn host_aaaa_without_edns_every_byte() {
        let r = respond(HOST_AAAA, &table).unwrap();
        let mut want = vec![
            0xc6, 0x3b, 0x85, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
        ];
        want.extend_from_slice(&HOST_AAAA[12..]);
        want.extend_from_slice(&[
            0xc0, 0x0c, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x10, 0xfd, 0x7c,
            0xd5, 0x50, 0x3d, 0xce, 0x4f, 0x5d, 0x34, 0xa3, 0xe4, 0x95, 0x80, 0x3b, 0x7e, 0x60,
        ]);
        assert_eq!(r, want);
    }

    #[test]
    fn a_any_and_nodata() {
        let r = respond(&query(7, NAME, rtype::A, None), &table).unwrap();
        assert_eq!(counts(&r), [1, 1, 0, 0]);
        assert_eq!(
            &r[r.len() - 16..],
            &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 224, 224, 1]
        );

        // ANY: AAAA then A.
        let r = respond(&query(7, NAME, rtype::ANY, None), &table).unwrap();
        assert_eq!(counts(&r), [1, 2, 0, 0]);
        let q_end = 12 + NAME.len() + 2 + 4;
        assert_eq!(be16(&r, q_end + 2), rtype::AAAA);
        assert_eq!(be16(&r, q_end + AAAA_LEN + 2), rtype::A);
        assert_eq!(r.len(), q_end + AAAA_LEN + A_LEN);

        // An existing name without the type asked for: NODATA, AA.
        for (name, qtype) in [(NAME, 15u16), ("v6only.mesh", rtype::A), (ZONE, rtype::A)] {
            let q = query(8, name, qtype, None);
            let r = respond(&q, &table).unwrap();
            assert_eq!(r[2..4], [0x85, 0x00], "{name} {qtype}");
            assert_eq!(counts(&r), [1, 0, 0, 0]);
            assert_eq!(r[12..], q[12..]);
        }
    }

    #[test]
    fn nxdomain_refused_and_class() {
        let q = query(0x1234, "nosuchnodeatall0.mesh", rtype::AAAA, None);
        let r = respond(&q, &table).unwrap();
        assert_eq!(r[..4], [0x12, 0x34, 0x85, 0x03]); // QR AA RD, NXDOMAIN
        assert_eq!(counts(&r), [1, 0, 0, 0]);
        assert_eq!(r[12..], q[12..]);

        let q = query(0x1234, "example.com", rtype::A, None);
        let r = respond(&q, &table).unwrap();
        assert_eq!(r[..4], [0x12, 0x34, 0x81, 0x05]); // no AA, REFUSED
        assert_eq!(counts(&r), [1, 0, 0, 0]);
        assert_eq!(r[12..], q[12..]);
        // Not even a suffix match: `notmesh` and `mesh.example` are outside.
        for name in ["foo.notmesh", "mesh.example", "l7zelifkfympnobf.mesh.com"] {
            let r = respond(&query(1, name, rtype::A, None), &table).unwrap();
            assert_eq!(rcode_of(&r), rcode::REFUSED, "{name}");
        }
        // The root.
        let mut q = query(1, "x", rtype::A, None);
        q.drain(12..14);
        assert_eq!(rcode_of(&respond(&q, &table).unwrap()), rcode::REFUSED);

        // CHAOS class, even under .mesh.
        let mut q = query(2, NAME, rtype::A, None);
        let n = q.len();
        q[n - 1] = 3;
        assert_eq!(rcode_of(&respond(&q, &table).unwrap()), rcode::REFUSED);
        // Class ANY is answered as IN.
        q[n - 1] = 255;
        let r = respond(&q, &table).unwrap();
        assert_eq!(counts(&r)[1], 1);
        assert_eq!(be16(&r, r.len() - 12), class::IN);
    }

    #[test]
    fn case_insensitive_and_echoed_as_sent() {
        let seen = std::cell::RefCell::new(Vec::new());
        let lookup = |n: &str| {
            seen.borrow_mut().push(n.to_string());
            table(n)
        };
        let q = query(9, "L7ZeLiFkFyMpNoBf.MeSh", rtype::AAAA, None);
        let r = respond(&q, &lookup).unwrap();
        assert_eq!(*seen.borrow(), [NAME]);
        assert_eq!(rcode_of(&r), rcode::NOERROR);
        assert_eq!(counts(&r), [1, 1, 0, 0]);
        assert_eq!(r[12..q.len()], q[12..]); // the question keeps its case
        assert_eq!(r[q.len()..q.len() + 2], QNAME_POINTER);
    }

    #[test]
    fn odd_bytes_in_a_mesh_name_are_nxdomain_without_lookup() {
        let lookup = |n: &str| -> Option<Answer> { panic!("lookup({n:?})") };
        // `a.b` as one label would read as two labels once dotted.
        let mut q = query(3, "aXb.mesh", rtype::A, None);
        q[14] = b'.';
        assert_eq!(rcode_of(&respond(&q, &lookup).unwrap()), rcode::NXDOMAIN);
        q[14] = 0xc3;
        assert_eq!(rcode_of(&respond(&q, &lookup).unwrap()), rcode::NXDOMAIN);
        q[14] = 0;
        assert_eq!(rcode_of(&respond(&q, &lookup).unwrap()), rcode::NXDOMAIN);
    }

    #[test]
    fn responses_short_datagrams_and_other_opcodes() {
        // A response is never answered.
        let mut q = query(5, NAME, rtype::A, None);
        q[2] |= 0x80;
        assert_eq!(respond(&q, &table), None);
        let r = respond(DIG_AAAA, &table).unwrap();
        assert_eq!(respond(&r, &table), None);
        for n in 0..HEADER_LEN {
            assert_eq!(respond(&HOST_AAAA[..n], &table), None, "{n}");
        }
        // STATUS (2), NOTIFY (4), UPDATE (5): NOTIMP, header only, opcode
        // and RD kept.
        for op in [1u8, 2, 4, 5, 15] {
            let mut q = query(0xbeef, NAME, rtype::A, None);
            q[2] = (op << 3) | 0x01;
            let r = respond(&q, &table).unwrap();
            assert_eq!(
                r,
                [
                    0xbe,
                    0xef,
                    0x80 | (op << 3) | 0x01,
                    0x04,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0
                ]
            );
        }
    }

    #[test]
    fn formerr_for_question_count_pointer_and_bad_names() {
        let formerr = |q: &[u8]| {
            let r = respond(q, &table).unwrap();
            assert_eq!(r.len(), HEADER_LEN, "{r:02x?}");
            assert_eq!(r[..2], q[..2]);
            assert_eq!(r[2..4], [0x81, 0x01]); // QR RD, FORMERR
        };
        // Two questions (the second a copy of the first), and none.
        let mut q = HOST_AAAA.to_vec();
        q[5] = 2;
        q.extend_from_slice(&HOST_AAAA[12..]);
        formerr(&q);
        assert_eq!(Query::parse(&q).unwrap_err(), Error::QuestionCount(2));
        let mut q = HOST_AAAA.to_vec();
        q[5] = 0;
        formerr(&q);

        // A compression pointer in the question (to itself, and forward).
        let mut q = HOST_AAAA[..12].to_vec();
        q.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x1c, 0x00, 0x01]);
        formerr(&q);
        assert_eq!(Query::parse(&q).unwrap_err(), Error::Pointer);
        let mut q = HOST_AAAA[..12].to_vec();
        q.extend_from_slice(&[3, b'f', b'o', b'o', 0xc0, 0x16, 0, 1, 0, 1, 4]);
        q.extend_from_slice(b"mesh\0");
        formerr(&q);

        // Extended label types 0x40 and 0x80.
        for b in [0x41u8, 0x80] {
            let mut q = HOST_AAAA.to_vec();
            q[12] = b;
            formerr(&q);
            assert_eq!(Query::parse(&q).unwrap_err(), Error::LabelType(b));
        }

        // 255 bytes is the longest name; 256 is refused.
        let l63 = "a".repeat(63);
        let ok = format!("{l63}.{l63}.{l63}.{}.mesh", "b".repeat(56));
        let q = query(1, &ok, rtype::A, None);
        assert_eq!(Query::parse(&q).unwrap().question.name.wire().len(), 255);
        assert_eq!(rcode_of(&respond(&q, &table).unwrap()), rcode::NXDOMAIN);
        let long = format!("{l63}.{l63}.{l63}.{}.mesh", "b".repeat(57));
        let q = query(1, &long, rtype::A, None);
        assert_eq!(Query::parse(&q).unwrap_err(), Error::NameTooLong);
        formerr(&q);

        // Two OPT records; an OPT not at the root.
        let mut q = DIG_AAAA.to_vec();
        q[11] = 2;
        q.extend_from_slice(&DIG_AAAA[39..]);
        assert_eq!(Query::parse(&q).unwrap_err(), Error::MultipleOpt);
        formerr(&q);
        let mut q = DIG_AAAA[..39].to_vec();
        q.extend_from_slice(&[0xc0, 0x0c, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Query::parse(&q).unwrap_err(), Error::OptOwner);
        formerr(&q);
    }

    #[test]
    fn truncated_at_every_length() {
        for full in [DIG_AAAA, HOST_AAAA] {
            for n in 0..full.len() {
                match respond(&full[..n], &table) {
                    None => assert!(n < HEADER_LEN, "{n}"),
                    Some(r) => {
                        assert!(n >= HEADER_LEN, "{n}");
                        assert_eq!(r.len(), HEADER_LEN, "{n}");
                        assert_eq!(rcode_of(&r), rcode::FORMERR, "{n}");
                        assert!(matches!(
                            Query::parse(&full[..n]),
                            Err(Error::Truncated { .. })
                        ));
                    }
                }
            }
            assert_eq!(rcode_of(&respond(full, &table).unwrap()), rcode::NOERROR);
        }
    }

    #[test]
    fn other_records_are_skipped_while_looking_for_opt() {
        // An answer record (compressed name) and a non-OPT additional
        // record before the OPT: skipped, the OPT still found.
        let mut q = HOST_AAAA.to_vec();
        q[7] = 1; // ancount
        q[11] = 2; // arcount
        q.extend_from_slice(&[0xc0, 0x0c, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        q.extend_from_slice(&[0; 16]);
        q.extend_from_slice(&[
            3, b'k', b'e', b'y', 0, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, b'x',
        ]);
        q.extend_from_slice(&[0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0]);
        let parsed = Query::parse(&q).unwrap();
        assert_eq!(
            parsed.edns,
            Some(Edns {
                udp_size: 512,
                version: 0,
                dnssec_ok: false
            })
        );
        let r = respond(&q, &table).unwrap();
        assert_eq!(counts(&r), [1, 1, 0, 1]);
        // An OPT in the answer section is not EDNS.
        let mut q = HOST_AAAA.to_vec();
        q[7] = 1;
        q.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
        assert_eq!(Query::parse(&q).unwrap().edns, None);
        // An rdlength running past the end.
        let mut q = HOST_AAAA.to_vec();
        q[11] = 1;
        q.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 9, 1]);
        assert!(matches!(Query::parse(&q), Err(Error::Truncated { .. })));
    }

    #[test]
    fn edns_version_and_dnssec_ok() {
        let mut q = DIG_AAAA.to_vec();
        q[45] = 1; // version 1
        let r = respond(&q, &table).unwrap();
        // BADVERS = 16: header rcode 0, extended rcode 1 in the OPT.
        assert_eq!(r[2..4], [0x81, 0x00]);
        assert_eq!(counts(&r), [1, 0, 0, 1]);
        assert_eq!(r[r.len() - OPT_LEN..], [0, 0, 41, 4, 208, 1, 0, 0, 0, 0, 0]);
        let mut q = DIG_AAAA.to_vec();
        q[46] = 0x80; // DO
        let r = respond(&q, &table).unwrap();
        assert_eq!(r[r.len() - 4..], [0x80, 0x00, 0, 0]);
    }

    fn many(name: &str) -> Option<Answer> {
        name.starts_with("many").then(|| Answer {
            v6: (0..40u16)
                .map(|i| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i))
                .collect(),
            v4: (0..40u8).map(|i| Ipv4Addr::new(10, 0, 0, i)).collect(),
        })
    }

    #[test]
    fn answers_are_capped() {
        let r = respond(&query(1, "many.mesh", rtype::ANY, Some(4096)), &many).unwrap();
        assert_eq!(counts(&r), [1, MAX_ANSWERS as u16, 0, 1]);
        assert_eq!(r[2] & 0x02, 0, "no TC");
        // The cap keeps the AAAA records first.
        let q_end = 12 + "many.mesh".len() + 2 + 4;
        assert_eq!(r.len(), q_end + MAX_ANSWERS * AAAA_LEN + OPT_LEN);
        let r = respond(&query(1, "many.mesh", rtype::A, Some(1232)), &many).unwrap();
        assert_eq!(counts(&r), [1, MAX_ANSWERS as u16, 0, 1]);
    }

    #[test]
    fn truncation_without_edns_sets_tc() {
        // A long name leaves room for only some of the answers in 512.
        let long = format!("many{}.{}.mesh", "x".repeat(59), "y".repeat(63));
        let q = query(1, &long, rtype::AAAA, None);
        let r = respond(&q, &many).unwrap();
        assert!(r.len() <= PLAIN_UDP_SIZE);
        let fit = ((PLAIN_UDP_SIZE - q.len()) / AAAA_LEN) as u16;
        assert!(fit < MAX_ANSWERS as u16);
        assert_eq!(r[2..4], [0x87, 0x00]); // QR AA TC RD
        assert_eq!(counts(&r), [1, fit, 0, 0]);
        assert_eq!(r.len(), q.len() + usize::from(fit) * AAAA_LEN);

        // With EDNS and our size everything fits.
        let q = query(1, &long, rtype::AAAA, Some(1232));
        let r = respond(&q, &many).unwrap();
        assert_eq!(r[2..4], [0x85, 0x00]);
        assert_eq!(counts(&r), [1, MAX_ANSWERS as u16, 0, 1]);

        // A client advertising less than 512 still gets 512, with the OPT.
        let q = query(1, &long, rtype::AAAA, Some(100));
        let r = respond(&q, &many).unwrap();
        assert!(r.len() <= PLAIN_UDP_SIZE);
        assert_eq!(r[2..4], [0x87, 0x00]);
        let fit = ((PLAIN_UDP_SIZE - q.len()) / AAAA_LEN) as u16;
        assert_eq!(counts(&r), [1, fit, 0, 1]);
        assert_eq!(
            r[r.len() - OPT_LEN..r.len() - OPT_LEN + 5],
            [0, 0, 41, 4, 208]
        );
    }

    #[test]
    fn mutated_queries_never_panic() {
        // Deterministic mutations (xorshift) of real queries: any reply
        // carries the query's ID, has QR set and stays within our size.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let bases = [DIG_AAAA.to_vec(), HOST_AAAA.to_vec()];
        let mut replies = 0;
        for i in 0..20_000 {
            let mut q = bases[i % 2].clone();
            for _ in 0..1 + rnd() % 4 {
                let at = (rnd() as usize) % q.len();
                q[at] = rnd() as u8;
            }
            if rnd() % 4 == 0 {
                q.truncate((rnd() as usize) % (q.len() + 1));
            }
            if let Some(r) = respond(&q, &many) {
                replies += 1;
                assert_eq!(r[..2], q[..2]);
                assert_ne!(r[2] & 0x80, 0);
                assert!(r.len() <= usize::from(EDNS_UDP_SIZE));
            }
        }
        assert!(replies > 10_000, "{replies}");
    }

    /// `dig` against the responder on a real UDP socket, when dig is
    /// installed (Debian: bind9-dnsutils).
    #[test]
    fn dig_gets_answers() {
        use std::process::Command;
        if Command::new("dig").arg("-v").output().is_err() {
            println!("skipped: dig is not installed (apt-get install bind9-dnsutils)");
            return;
        }
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let port = sock.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            // Until a datagram that is not a query (the test's stop).
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                if n == 1 {
                    break;
                }
                let lookup = |name: &str| table(name).or_else(|| many(name));
                if let Some(r) = respond(&buf[..n], &lookup) {
                    sock.send_to(&r, from).unwrap();
                }
            }
        });
        let dig = |args: &[&str]| {
            let out = Command::new("dig")
                .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=1"])
                .args(args)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let short = dig(&["L7ZELIFKFYMPNOBF.MESH", "AAAA", "+short"]);
        assert_eq!(short.trim(), node_v6().to_string());
        assert_eq!(dig(&[NAME, "A", "+short"]).trim(), "10.224.224.1");
        let out = dig(&["nosuchnodeatall0.mesh", "AAAA"]);
        assert!(out.contains("status: NXDOMAIN"), "{out}");
        assert!(out.contains("flags: qr aa rd;"), "{out}");
        let out = dig(&["example.com", "A"]);
        assert!(out.contains("status: REFUSED"), "{out}");
        let long = format!("many{}.{}.mesh", "x".repeat(59), "y".repeat(63));
        let out = dig(&[&long, "AAAA", "+noedns", "+ignore"]);
        assert!(out.contains("flags: qr aa tc rd;"), "{out}");
        let out = dig(&[&long, "AAAA"]);
        assert!(out.contains(&format!("ANSWER: {MAX_ANSWERS},")), "{out}");
        assert!(out.contains("udp: 1232"), "{out}");
        let stop = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        stop.send_to(&[0], ("127.0.0.1", port)).unwrap();
        server.join().unwrap();
    }
}

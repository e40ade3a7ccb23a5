//! The messages a cell's payload carries to the hop that reads it (the end
//! of the circuit): one message per cell, zero padding after it.
//!
//! ```text
//!  payload: 0      1          3                     3 + len          1300
//!           | type | len u16  | body, len bytes     | zeros             |
//! ```
//!
//! | type | name | body | direction |
//! |---|---|---|---|
//! | 1 | DATA | tag u16 ‖ IPv6 packet | both |
//! | 2 | EXTEND | next hop's originator (6) ‖ ntor CREATE (36) | forward |
//! | 3 | EXTENDED | ntor CREATED (64) | backward |
//! | 4 | BIND | ticket (16; all zero = a new pseudonym group) | forward |
//! | 5 | BOUND | ticket (16) | backward |
//! | 6 | PING | 8 bytes, echoed | forward |
//! | 7 | PONG | the PING's 8 bytes | backward |
//!
//! The padding is inside every layer's encryption, so zeros cost nothing in
//! secrecy. Parsing refuses unknown types, lengths past the payload and
//! wrong fixed lengths ([`MsgError`]); it never panics.

use crate::cell::PAYLOAD_LEN;
use crate::ntor::{CREATED_LEN, CREATE_LEN};

/// Bytes before a message's body: type and length.
pub const MSG_HEADER_LEN: usize = 3;
/// Bytes of a DATA message's tag.
pub const TAG_LEN: usize = 2;
/// The largest IPv6 packet one cell carries (a 1280-byte packet fits).
pub const MAX_PACKET: usize = PAYLOAD_LEN - MSG_HEADER_LEN - TAG_LEN;
/// Bytes of a pseudonym group's ticket.
pub const TICKET_LEN: usize = 16;
/// Bytes of a PING's (and PONG's) body.
pub const PING_LEN: usize = 8;

const _: () = assert!(MAX_PACKET >= 1280);

const T_DATA: u8 = 1;
const T_EXTEND: u8 = 2;
const T_EXTENDED: u8 = 3;
const T_BIND: u8 = 4;
const T_BOUND: u8 = 5;
const T_PING: u8 = 6;
const T_PONG: u8 = 7;

/// One message, borrowed from a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg<'a> {
    /// An IPv6 packet of the flow numbered `tag` (the client's numbering of
    /// its sources towards this destination).
    Data {
        tag: u16,
        packet: &'a [u8],
    },
    /// Extend the circuit to the node with originator `next`.
    Extend {
        next: [u8; 6],
        create: &'a [u8; CREATE_LEN],
    },
    /// The next hop's answer to an EXTEND.
    Extended {
        created: &'a [u8; CREATED_LEN],
    },
    /// Bind this circuit to a pseudonym group (zero ticket: a new group).
    Bind {
        ticket: [u8; TICKET_LEN],
    },
    /// The group this circuit is bound to.
    Bound {
        ticket: [u8; TICKET_LEN],
    },
    Ping([u8; PING_LEN]),
    Pong([u8; PING_LEN]),
}

/// Why a payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MsgError {
    #[error("unknown message type {0}")]
    Type(u8),
    #[error("message length {len} runs past the payload")]
    Length { len: usize },
    #[error("message type {kind} has {found} bytes, want {want}")]
    Fixed { kind: u8, want: usize, found: usize },
    #[error("packet of {0} bytes does not fit one cell (at most {MAX_PACKET})")]
    TooBig(usize),
}

fn fixed<const N: usize>(kind: u8, body: &[u8]) -> Result<&[u8; N], MsgError> {
    body.try_into().map_err(|_| MsgError::Fixed {
        kind,
        want: N,
        found: body.len(),
    })
}

impl<'a> Msg<'a> {
    /// Parse the message at the head of a payload.
    pub fn parse(payload: &'a [u8; PAYLOAD_LEN]) -> Result<Msg<'a>, MsgError> {
        let kind = payload[0];
        let len = usize::from(u16::from_be_bytes([payload[1], payload[2]]));
        let body = payload
            .get(MSG_HEADER_LEN..MSG_HEADER_LEN + len)
            .ok_or(MsgError::Length { len })?;
        Ok(match kind {
            T_DATA => {
                if len < TAG_LEN {
                    return Err(MsgError::Fixed {
                        kind,
                        want: TAG_LEN,
                        found: len,
                    });
                }
                Msg::Data {
                    tag: u16::from_be_bytes([body[0], body[1]]),
                    packet: &body[TAG_LEN..],
                }
            }
            T_EXTEND => {
                let b = fixed::<{ 6 + CREATE_LEN }>(kind, body)?;
                let mut next = [0u8; 6];
                next.copy_from_slice(&b[..6]);
                Msg::Extend {
                    next,
                    create: b[6..].try_into().expect("6 + CREATE_LEN"),
                }
            }
            T_EXTENDED => Msg::Extended {
                created: fixed::<CREATED_LEN>(kind, body)?,
            },
            T_BIND => Msg::Bind {
                ticket: *fixed::<TICKET_LEN>(kind, body)?,
            },
            T_BOUND => Msg::Bound {
                ticket: *fixed::<TICKET_LEN>(kind, body)?,
            },
            T_PING => Msg::Ping(*fixed::<PING_LEN>(kind, body)?),
            T_PONG => Msg::Pong(*fixed::<PING_LEN>(kind, body)?),
            other => return Err(MsgError::Type(other)),
        })
    }

    /// The payload carrying this message.
    pub fn emit(&self) -> Result<[u8; PAYLOAD_LEN], MsgError> {
        let mut p = [0u8; PAYLOAD_LEN];
        let (kind, len) = match *self {
            Msg::Data { tag, packet } => {
                if packet.len() > MAX_PACKET {
                    return Err(MsgError::TooBig(packet.len()));
                }
                p[3..5].copy_from_slice(&tag.to_be_bytes());
                p[5..5 + packet.len()].copy_from_slice(packet);
                (T_DATA, TAG_LEN + packet.len())
            }
            Msg::Extend { next, create } => {
                p[3..9].copy_from_slice(&next);
                p[9..9 + CREATE_LEN].copy_from_slice(create);
                (T_EXTEND, 6 + CREATE_LEN)
            }
            Msg::Extended { created } => {
                p[3..3 + CREATED_LEN].copy_from_slice(created);
                (T_EXTENDED, CREATED_LEN)
            }
            Msg::Bind { ticket } => {
                p[3..3 + TICKET_LEN].copy_from_slice(&ticket);
                (T_BIND, TICKET_LEN)
            }
            Msg::Bound { ticket } => {
                p[3..3 + TICKET_LEN].copy_from_slice(&ticket);
                (T_BOUND, TICKET_LEN)
            }
            Msg::Ping(b) => {
                p[3..3 + PING_LEN].copy_from_slice(&b);
                (T_PING, PING_LEN)
            }
            Msg::Pong(b) => {
                p[3..3 + PING_LEN].copy_from_slice(&b);
                (T_PONG, PING_LEN)
            }
        };
        p[0] = kind;
        p[1..3].copy_from_slice(&(len as u16).to_be_bytes());
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_round_trips() {
        let create = [7u8; CREATE_LEN];
        let created = [9u8; CREATED_LEN];
        let packet = [0x60u8; 1280];
        let msgs = [
            Msg::Data {
                tag: 0x0102,
                packet: &packet,
            },
            Msg::Data {
                tag: 0,
                packet: &[],
            },
            Msg::Extend {
                next: [2, 0, 0, 0, 0, 1],
                create: &create,
            },
            Msg::Extended { created: &created },
            Msg::Bind { ticket: [0; 16] },
            Msg::Bound { ticket: [5; 16] },
            Msg::Ping([1; 8]),
            Msg::Pong([2; 8]),
        ];
        for m in msgs {
            let p = m.emit().unwrap();
            assert_eq!(Msg::parse(&p).unwrap(), m);
        }
    }

    #[test]
    fn data_layout_is_type_length_tag_packet() {
        let p = Msg::Data {
            tag: 0x0a0b,
            packet: &[0xde, 0xad],
        }
        .emit()
        .unwrap();
        assert_eq!(p[..7], [1, 0, 4, 0x0a, 0x0b, 0xde, 0xad]);
        assert!(p[7..].iter().all(|&b| b == 0));
    }

    #[test]
    fn bad_payloads_are_refused_not_panicking() {
        let mut p = [0u8; PAYLOAD_LEN];
        assert_eq!(Msg::parse(&p), Err(MsgError::Type(0)));
        p[0] = T_DATA;
        p[1..3].copy_from_slice(&(PAYLOAD_LEN as u16).to_be_bytes());
        assert_eq!(Msg::parse(&p), Err(MsgError::Length { len: PAYLOAD_LEN }));
        p[1..3].copy_from_slice(&1u16.to_be_bytes());
        assert!(matches!(Msg::parse(&p), Err(MsgError::Fixed { .. })));
        p[0] = T_BIND;
        p[1..3].copy_from_slice(&15u16.to_be_bytes());
        assert!(matches!(Msg::parse(&p), Err(MsgError::Fixed { .. })));
        let big = vec![0u8; MAX_PACKET + 1];
        assert_eq!(
            Msg::Data {
                tag: 0,
                packet: &big
            }
            .emit(),
            Err(MsgError::TooBig(MAX_PACKET + 1))
        );
        // Every type byte and length: parse never panics.
        for t in 0..=255u8 {
            for len in [0u16, 1, 2, 8, 16, 42, 64, 1297, 1298, u16::MAX] {
                p[0] = t;
                p[1..3].copy_from_slice(&len.to_be_bytes());
                let _ = Msg::parse(&p);
            }
        }
    }
}

//! batman ICMP (packet type 0x43). (Views and Repr: in progress.)

/// ICMP message types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpMsgType {
    EchoReply,
    DestinationUnreachable,
    EchoRequest,
    TtlExceeded,
    ParameterProblem,
    /// Throughput meter (not handled by the core; carried).
    Tp,
    Unknown(u8),
}

impl From<u8> for IcmpMsgType {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::EchoReply,
            3 => Self::DestinationUnreachable,
            8 => Self::EchoRequest,
            11 => Self::TtlExceeded,
            12 => Self::ParameterProblem,
            15 => Self::Tp,
            o => Self::Unknown(o),
        }
    }
}

impl From<IcmpMsgType> for u8 {
    fn from(t: IcmpMsgType) -> u8 {
        match t {
            IcmpMsgType::EchoReply => 0,
            IcmpMsgType::DestinationUnreachable => 3,
            IcmpMsgType::EchoRequest => 8,
            IcmpMsgType::TtlExceeded => 11,
            IcmpMsgType::ParameterProblem => 12,
            IcmpMsgType::Tp => 15,
            IcmpMsgType::Unknown(o) => o,
        }
    }
}

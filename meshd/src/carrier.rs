//! How meshd's node-layer messages travel between meshd nodes: as batman
//! UNICAST packets, so that kernel batman-adv relays forward them.
//!
//! (A UNICAST_TVLV would be the natural container, but batman-adv treats a
//! unicast TVLV whose types it has no handler for as consumed: it neither
//! delivers nor forwards it. Plain UNICAST it forwards whatever it holds.)
//!
//! ```text
//! batman UNICAST (0x40, 10 bytes) to the destination originator
//!   inner Ethernet: dst 03:6d:65:73:68:64 (a locally administered group
//!                   address: batman-adv relays do not re-route group
//!                   frames by their translation tables)
//!                   src = the sender's originator MAC
//!                   ethertype 0x88b5 (IEEE 802 local experimental)
//!   payload:        a TVLV area of meshd TVLVs (0xa3 record, 0xa4
//!                   request, 0xa5 end-to-end session message)
//! ```
//!
//! The receiver takes such a frame out of the delivery path before the
//! soft interface; the inner source is the sender's originator (only a
//! hint: records are signed and sessions authenticated).

use batman::{Mac, Node, RngCore, SendError};

/// Ethertype of meshd frames inside batman UNICAST.
pub const ETHERTYPE: u16 = 0x88b5;
/// Inner destination of every meshd frame.
pub const GROUP: Mac = Mac([0x03, 0x6d, 0x65, 0x73, 0x68, 0x64]);
/// batman UNICAST header plus the inner Ethernet header.
pub const OVERHEAD: usize = 10 + 14;

/// The inner frame carrying TVLV `area` from originator `src`.
pub fn frame(src: Mac, area: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + area.len());
    f.extend_from_slice(&GROUP.0);
    f.extend_from_slice(&src.0);
    f.extend_from_slice(&ETHERTYPE.to_be_bytes());
    f.extend_from_slice(area);
    f
}

/// A delivered frame that is a meshd frame: (sender's originator, area).
pub fn parse(frame: &[u8]) -> Option<(Mac, &[u8])> {
    if frame.len() < 14 || frame[..6] != GROUP.0 || frame[12..14] != ETHERTYPE.to_be_bytes() {
        return None;
    }
    Some((Mac::from_bytes(&frame[6..12]), &frame[14..]))
}

/// Send TVLV `area` to originator `dest`.
pub fn send<R: RngCore>(node: &mut Node<R>, dest: Mac, area: &[u8]) -> Result<(), SendError> {
    let src = node.primary_mac().ok_or(SendError::NoInterface)?;
    let ttvn = node.ttvn_of(dest);
    node.send_unicast(node.now(), dest, ttvn, &frame(src, area))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_others_are_not_taken() {
        let src = Mac([2, 0, 0, 0, 0, 7]);
        let f = frame(src, &[0xa4, 1, 0, 0]);
        assert_eq!(f.len(), 18);
        assert_eq!(&f[..6], &[0x03, 0x6d, 0x65, 0x73, 0x68, 0x64]);
        assert_eq!(&f[12..14], &[0x88, 0xb5]);
        assert_eq!(parse(&f), Some((src, &[0xa4, 1, 0, 0][..])));
        let mut ip = f.clone();
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(parse(&ip), None);
        let mut other_dst = f.clone();
        other_dst[0] = 0xff;
        assert_eq!(parse(&other_dst), None);
        assert_eq!(parse(&f[..13]), None);
    }
}

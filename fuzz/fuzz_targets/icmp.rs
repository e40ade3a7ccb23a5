//! ICMP, plain and route record: view, repr round trip, push_rr.
#![no_main]

use batman::wire::icmp::RR_LEN;
use batman::wire::{IcmpPacket, IcmpRepr, Mac};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = IcmpPacket::new_checked(data) else {
        return;
    };
    for i in 0..=RR_LEN {
        let _ = p.rr(i);
    }
    let _ = (p.rr_cur(), p.records_route(), p.payload());
    // appending to a copy never panics, whatever rr_cur holds
    let mut copy = data.to_vec();
    let mut pc = IcmpPacket::new_unchecked(&mut copy[..]);
    let pushed = pc.push_rr(Mac::BROADCAST).is_ok();
    assert_eq!(
        pushed,
        p.is_route_record() && (p.rr_cur() as usize) < RR_LEN
    );

    let Ok(repr) = IcmpRepr::parse(&p) else {
        assert!(p.is_route_record() && p.rr_cur() as usize > RR_LEN);
        return;
    };
    assert_eq!(repr.rr.is_some(), p.is_route_record());
    let bytes = repr.to_vec(p.payload());
    assert_eq!(bytes.len(), data.len());
    let p2 = IcmpPacket::new_checked(&bytes[..]).expect("re-emitted ICMP checks");
    assert_eq!(IcmpRepr::parse(&p2).expect("re-emitted ICMP parses"), repr);
    assert_eq!(p2.payload(), p.payload());
});

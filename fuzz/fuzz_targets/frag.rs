//! UNICAST_FRAG: view, bitfield decoding, repr round trip.
#![no_main]

use batman::wire::frag::{MAX_FRAG_NO, MAX_PRIORITY};
use batman::wire::{FragPacket, FragRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = FragPacket::new_checked(data) else {
        return;
    };
    let repr = FragRepr::parse(&p).expect("checked view parses");
    assert!(repr.no <= MAX_FRAG_NO && repr.priority <= MAX_PRIORITY);
    let bytes = repr.to_vec(p.payload());
    assert_eq!(bytes.len(), data.len());
    // only the reserved bit of byte 3 may differ
    assert_eq!(bytes[3], data[3] & 0xfe);
    let p2 = FragPacket::new_checked(&bytes[..]).expect("re-emitted FRAG checks");
    assert_eq!(FragRepr::parse(&p2).expect("re-emitted parses"), repr);
    assert_eq!(p2.payload(), p.payload());
});

//! BCAST: view, repr round trip, payload preserved.
#![no_main]

use batman::wire::{BcastPacket, BcastRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = BcastPacket::new_checked(data) else {
        return;
    };
    let repr = BcastRepr::parse(&p).expect("checked view parses");
    let bytes = repr.to_vec(p.payload());
    assert_eq!(bytes.len(), data.len());
    let p2 = BcastPacket::new_checked(&bytes[..]).expect("re-emitted BCAST checks");
    assert_eq!(
        BcastRepr::parse(&p2).expect("re-emitted BCAST parses"),
        repr
    );
    assert_eq!(p2.payload(), p.payload());
});

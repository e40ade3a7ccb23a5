//! UNICAST and UNICAST_4ADDR: views, repr round trips, payload preserved.
#![no_main]

use batman::wire::{Unicast4AddrPacket, Unicast4AddrRepr, UnicastPacket, UnicastRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = UnicastPacket::new_checked(data) {
        let repr = UnicastRepr::parse(&p).expect("checked view parses");
        let bytes = repr.to_vec(p.payload());
        assert_eq!(bytes, data, "UNICAST has no reserved bits: exact bytes");
        let p2 = UnicastPacket::new_checked(&bytes[..]).expect("re-emitted UNICAST checks");
        assert_eq!(UnicastRepr::parse(&p2).expect("re-emitted parses"), repr);
    }
    if let Ok(p) = Unicast4AddrPacket::new_checked(data) {
        let repr = Unicast4AddrRepr::parse(&p).expect("checked view parses");
        let bytes = repr.to_vec(p.payload());
        assert_eq!(bytes.len(), data.len());
        let p2 = Unicast4AddrPacket::new_checked(&bytes[..]).expect("re-emitted 4ADDR checks");
        assert_eq!(
            Unicast4AddrRepr::parse(&p2).expect("re-emitted parses"),
            repr
        );
        assert_eq!(p2.payload(), p.payload());
    }
});

//! UNICAST_TVLV: view, repr round trip, the TVLV area it carries.
#![no_main]

use batman::wire::{UnicastTvlvPacket, UnicastTvlvRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = UnicastTvlvPacket::new_checked(data) else {
        return;
    };
    let repr = UnicastTvlvRepr::parse(&p).expect("checked view parses");
    let _ = p.tvlv_iter().count();
    let bytes = repr
        .to_vec(p.tvlv())
        .expect("a parsed area fits its u16 length");
    assert_eq!(bytes.len(), p.total_len());
    let p2 = UnicastTvlvPacket::new_checked(&bytes[..]).expect("re-emitted packet checks");
    assert_eq!(
        UnicastTvlvRepr::parse(&p2).expect("re-emitted parses"),
        repr
    );
    assert_eq!(p2.tvlv(), p.tvlv());
    batman_fuzz::tvlv_area(p.tvlv());
});

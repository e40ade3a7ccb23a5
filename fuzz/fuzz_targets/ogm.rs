//! OGM aggregates: OgmIter, OgmRepr round trip, TVLVs of every OGM.
#![no_main]

use batman::wire::{OgmIter, OgmPacket, OgmRepr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut total = 0;
    for r in OgmIter::new(data) {
        let Ok(p) = r else {
            break;
        };
        total += p.total_len();
        assert!(total <= data.len());
        let repr = OgmRepr::parse(&p).expect("the iterator yields valid OGMs");
        let _ = (
            p.ttl(),
            p.flags(),
            p.seqno(),
            p.orig(),
            p.prev_sender(),
            p.tq(),
        );
        let bytes = repr.to_vec(p.tvlv());
        assert_eq!(bytes.len(), repr.buffer_len());
        let p2 = OgmPacket::new_checked(&bytes[..]).expect("re-emitted OGM checks");
        assert_eq!(OgmRepr::parse(&p2).expect("re-emitted OGM parses"), repr);
        assert_eq!(p2.tvlv(), p.tvlv());
        batman_fuzz::tvlv_area(p.tvlv());
    }
});

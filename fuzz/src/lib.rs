//! Checks shared by the fuzz targets.
//!
//! Every check parses arbitrary bytes; where parsing succeeds it re-emits
//! the result, parses that again and asserts both decodings are equal.
//! A panic anywhere (in the crate or in an assertion here) is a finding.

use batman::wire::tvlv_data::TtData;
use batman::wire::{
    Dat, GwData, McastData, RoamAdv, TtRepr, TvlvData, TvlvIter, TvlvRepr, TvlvValue,
};
use rand_core::{CryptoRng, RngCore};

/// Round-trip one `TvlvData` value parser over arbitrary value bytes.
pub fn value_round_trip<D: TvlvData + PartialEq + core::fmt::Debug>(value: &[u8]) {
    let Ok(d) = D::parse_value(value) else {
        return;
    };
    let bytes = d.value_to_vec();
    assert_eq!(bytes.len(), d.value_len());
    let again = D::parse_value(&bytes).expect("re-emitted value parses");
    assert_eq!(again, d);
    // the whole container, through the TVLV layer
    if d.check().is_ok() {
        let tvlv = d.to_tvlv().expect("checked value encodes");
        let t = TvlvIter::new(&tvlv)
            .next()
            .expect("one container")
            .expect("container parses");
        assert_eq!(D::parse_tvlv(&t).expect("own container parses"), d);
    }
}

/// Every registered value parser on the same bytes.
pub fn all_value_parsers(value: &[u8]) {
    value_round_trip::<GwData>(value);
    value_round_trip::<Dat>(value);
    value_round_trip::<TtRepr>(value);
    value_round_trip::<RoamAdv>(value);
    value_round_trip::<McastData>(value);
    if let Ok(tt) = TtData::parse(value) {
        assert_eq!(tt.vlans().count(), tt.num_vlan());
        assert_eq!(tt.changes().count(), tt.num_changes());
        let owned = TtRepr::from(tt);
        assert_eq!(owned.value_len(), value.len());
        // canonical re-encoding has the same length and entries
        let bytes = owned.value_to_vec();
        let again = TtData::parse(&bytes).expect("re-emitted TT parses");
        assert!(again.vlans().eq(tt.vlans()));
        assert!(again.changes().eq(tt.changes()));
        assert_eq!((again.flags, again.ttvn), (tt.flags, tt.ttvn));
    }
}

/// Walk a TVLV area: round-trip every container and decode its value.
pub fn tvlv_area(area: &[u8]) {
    let mut consumed = 0;
    for t in TvlvIter::new(area) {
        let Ok(t) = t else {
            break;
        };
        consumed += t.buffer_len();
        assert!(consumed <= area.len());
        let mut out = Vec::new();
        t.append_to(&mut out);
        assert_eq!(out.len(), t.buffer_len());
        let again: TvlvRepr<'_> = TvlvIter::new(&out)
            .next()
            .expect("one container")
            .expect("re-emitted container parses");
        assert_eq!(again, t);
        if let Ok(TvlvValue::Other(o)) = TvlvValue::parse(&t) {
            assert_eq!(o, t);
        }
        all_value_parsers(t.value);
    }
}

/// A deterministic RNG for the targets that need keys and nonces (fuzzing
/// needs reproducible runs): a 64-bit LCG, u32s from its high half.
pub struct Lcg(pub u64);

impl RngCore for Lcg {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0
    }
    fn fill_bytes(&mut self, d: &mut [u8]) {
        for c in d.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
    }
    fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(d);
        Ok(())
    }
}

impl CryptoRng for Lcg {}

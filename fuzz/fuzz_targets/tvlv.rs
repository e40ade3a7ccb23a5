//! TVLV areas, and every registered TVLV value parser on raw bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    batman_fuzz::tvlv_area(data);
    batman_fuzz::all_value_parsers(data);
});

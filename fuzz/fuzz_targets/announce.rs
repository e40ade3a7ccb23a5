//! Identity announcements: the record parser, the hash value, and the
//! directory's admission of arbitrary records from arbitrary originators.
//! Anything that parses has the length its counts say; nothing panics; the
//! directory stays within its cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onion::announce::{self, Announcement};
use onion::directory::{DirConfig, Directory};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = Announcement::parse(data) {
        assert_eq!(a.wire_len(), data.len());
        assert!(announce::valid_name(&a.name));
    }
    let _ = announce::parse_hash(data);
    let cfg = DirConfig {
        max_entries: 4,
        ..DirConfig::default()
    };
    let mut d = Directory::new([0; 32], cfg);
    // The first 6 bytes name the sender; the rest is the record, offered
    // at a few times and also as a hash.
    if data.len() < 6 {
        return;
    }
    let from: [u8; 6] = data[..6].try_into().expect("6 bytes");
    for t in [0, 1_000, 400_000] {
        let _ = d.on_record(t, 1_800_000_000, from, &data[6..]);
        let _ = d.on_hash(t, from, &data[6..]);
        d.expire(t);
        assert!(d.len() <= 4);
    }
});

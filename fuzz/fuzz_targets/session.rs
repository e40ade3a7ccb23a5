//! End-to-end session messages: arbitrary bytes into a responder that
//! knows one peer, and into both ends of a live session (mutated copies of
//! real messages). Nothing panics, nothing forged is delivered.
#![no_main]

use batman_fuzz::Lcg;
use libfuzzer_sys::fuzz_target;
use onion::session::{Output, PeerKeys, Sessions};
use onion::{Identity, OnionKey};

fuzz_target!(|data: &[u8]| {
    let mut rng = Lcg(7);
    let (ia, ib) = (Identity::generate(&mut rng), Identity::generate(&mut rng));
    let now = 1_800_000_000;
    let (ka, kb) = (
        OnionKey::generate(&ia, &mut rng, now, 86_400),
        OnionKey::generate(&ib, &mut rng, now, 86_400),
    );
    let (pa, pb) = (
        PeerKeys {
            id: ia.id(),
            onion: vec![ka.public()],
        },
        PeerKeys {
            id: ib.id(),
            onion: vec![kb.public()],
        },
    );
    let mut a = Sessions::new(ia.id());
    let mut b = Sessions::new(ib.id());
    a.set_local_keys(vec![ka]);
    b.set_local_keys(vec![kb]);
    let (pa2, pb2) = (pa.clone(), pb.clone());
    let lookup_b = move |id: &[u8; 32]| (*id == pa2.id).then(|| pa2.clone());
    let lookup_a = move |id: &[u8; 32]| (*id == pb2.id).then(|| pb2.clone());
    // Raw bytes at a responder.
    let _ = b.handle(0, &mut rng, data, Some(ia.id()), &lookup_b);
    // A real session, then the fuzz bytes as a mutation mask over each
    // message in flight.
    a.send(0, &mut rng, &pb, b"hello").expect("queued");
    let mut delivered = Vec::new();
    for round in 0..4u64 {
        let mut flights = Vec::new();
        while let Some(o) = a.poll_output() {
            if let Output::Transmit { bytes, .. } = o {
                flights.push((true, bytes));
            }
        }
        while let Some(o) = b.poll_output() {
            match o {
                Output::Transmit { bytes, .. } => flights.push((false, bytes)),
                Output::Deliver { from, packet } => delivered.push((from, packet)),
            }
        }
        for (to_b, mut bytes) in flights {
            for (i, m) in data.iter().enumerate().skip(round as usize) {
                if let Some(x) = bytes.get_mut(i) {
                    *x ^= m;
                }
            }
            if to_b {
                let _ = b.handle(round, &mut rng, &bytes, Some(ia.id()), &lookup_b);
            } else {
                let _ = a.handle(round, &mut rng, &bytes, Some(ib.id()), &lookup_a);
            }
        }
    }
    // Whatever arrived came from A and is what A sent: a mutation either
    // fails authentication or was all zeros.
    for (from, packet) in delivered {
        assert_eq!(from, ia.id());
        assert!(packet.is_empty() || packet == b"hello");
    }
});

//! The ntor handshake: a 4-hop circuit's keys for the cell part, and the
//! handshake's cost.

use std::hint::black_box;
use std::time::{Duration, Instant};

use onion::ntor::{client_start, server_respond, HopKeys};
use onion::{Identity, NodeId, OnionKey};

use super::{Options, OsRandom};
use crate::bench::table::{Summary, Table};

/// Hops of the measured circuit: 3 relays and the destination.
pub const HOPS: usize = 4;

/// One relay (or the destination): its node ID and onion keys.
pub struct Relay {
    pub id: NodeId,
    pub keys: Vec<OnionKey>,
}

/// A client's 4-hop circuit: the hops and the keys it agreed with each
/// (in path order, the destination last).
pub struct Circuit {
    pub relays: Vec<Relay>,
    pub keys: Vec<HopKeys>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One handshake with `relay`: the client's and the relay's keys.
fn handshake(rng: &mut OsRandom, relay: &Relay) -> Result<(HopKeys, HopKeys), String> {
    let b = relay.keys[0].public();
    let (hs, create) = client_start(rng, &relay.id, &b);
    let (server, created) = server_respond(rng, &relay.id, &relay.keys, &create)
        .map_err(|e| format!("server_respond: {e}"))?;
    let client = hs.finish(&created).map_err(|e| format!("finish: {e}"))?;
    Ok((client, server))
}

impl Circuit {
    /// Fresh identities and onion keys for 4 hops, and a handshake with
    /// each; the two sides' keys are checked to agree.
    pub fn build(rng: &mut OsRandom) -> Result<Circuit, String> {
        let now = unix_now();
        let relays: Vec<Relay> = (0..HOPS)
            .map(|_| {
                let id = Identity::generate(rng);
                let key = OnionKey::generate(&id, rng, now, 7 * 86_400);
                Relay {
                    id: id.id(),
                    keys: vec![key],
                }
            })
            .collect();
        let mut keys = Vec::with_capacity(HOPS);
        for (i, relay) in relays.iter().enumerate() {
            let (client, server) = handshake(rng, relay)?;
            let same = client.forward == server.forward
                && client.backward == server.backward
                && client.forward_pad == server.forward_pad
                && client.backward_pad == server.backward_pad
                && client.digest == server.digest;
            if !same {
                return Err(format!("hop {i}: client and relay keys differ"));
            }
            keys.push(client);
        }
        Ok(Circuit { relays, keys })
    }
}

/// One row of the handshake table: µs per run (mean over the run).
#[derive(Debug, Clone)]
pub struct HsRow {
    pub what: &'static str,
    pub us: Vec<f64>,
}

/// The handshake samples.
#[derive(Debug, Clone)]
pub struct Handshakes {
    pub rows: Vec<HsRow>,
}

/// Time `circuits` 4-hop circuits' handshakes, `o.runs` times.
pub fn measure(o: &Options, c: &Circuit, rng: &mut OsRandom) -> Result<Handshakes, String> {
    let mut rows = vec![
        HsRow {
            what: "client_start (client: 1 x25519 base-point mult)",
            us: Vec::new(),
        },
        HsRow {
            what: "server_respond (relay: 2 base-point mults, 2 DH, 3 HMAC, HKDF)",
            us: Vec::new(),
        },
        HsRow {
            what: "finish (client: 2 x25519 DH, 3 HMAC, HKDF)",
            us: Vec::new(),
        },
        HsRow {
            what: "one handshake, both sides",
            us: Vec::new(),
        },
        HsRow {
            what: "  of which the client",
            us: Vec::new(),
        },
        HsRow {
            what: "4-hop circuit: 4 handshakes, both sides",
            us: Vec::new(),
        },
        HsRow {
            what: "  of which the client",
            us: Vec::new(),
        },
    ];
    // Warm-up: one circuit.
    for relay in &c.relays {
        black_box(handshake(rng, relay)?);
    }
    let publics: Vec<[u8; 32]> = c.relays.iter().map(|r| r.keys[0].public()).collect();
    for _ in 0..o.runs {
        let (mut start, mut respond, mut finish) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        let mut failed = 0usize;
        for _ in 0..o.circuits {
            for (relay, b) in c.relays.iter().zip(&publics) {
                let t0 = Instant::now();
                let (hs, create) = client_start(rng, black_box(&relay.id), black_box(b));
                let t1 = Instant::now();
                let r = server_respond(rng, &relay.id, &relay.keys, black_box(&create));
                let t2 = Instant::now();
                let keys = match r {
                    Ok((server, created)) => {
                        black_box(server);
                        hs.finish(black_box(&created)).ok()
                    }
                    Err(_) => None,
                };
                let t3 = Instant::now();
                failed += usize::from(black_box(keys).is_none());
                start += t1 - t0;
                respond += t2 - t1;
                finish += t3 - t2;
            }
        }
        if failed > 0 {
            return Err(format!("{failed} handshakes failed"));
        }
        let n = (o.circuits * HOPS) as f64;
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        let (s, r, f) = (us(start), us(respond), us(finish));
        let per_hs = [s / n, r / n, f / n, (s + r + f) / n, (s + f) / n];
        let per_circuit = [(s + r + f) / o.circuits as f64, (s + f) / o.circuits as f64];
        for (row, v) in rows.iter_mut().zip(per_hs.iter().chain(&per_circuit)) {
            row.us.push(*v);
        }
    }
    Ok(Handshakes { rows })
}

impl Handshakes {
    pub fn text(&self, o: &Options) -> String {
        let mut out = format!(
            "\n2. The ntor handshake (onion::ntor), µs; {} runs of {} circuits = {} handshakes\n   \
             each, with the circuit's 4 hops in turn; each call timed on its own (Instant\n   \
             around it, ~0.1 µs of the figures); the kernel RNG draws (32 bytes per side) included.\n   \
             Crypto only: the CREATE/CREATED travel in cells through the hops already built,\n   \
             and the round trips are not counted here. server_respond's base-point mults: its\n   \
             ephemeral Y, and its own onion key B recomputed to match the CREATE's key hint\n",
            o.runs,
            o.circuits,
            o.circuits * HOPS
        );
        let mut t = Table::new(&["operation", "µs (min / median / max)"]);
        for r in &self.rows {
            t.row(vec![
                r.what.into(),
                Summary::of(&r.us).map_or("-".into(), |s| s.fmt(1)),
            ]);
        }
        out.push_str(&t.render());
        out
    }
}

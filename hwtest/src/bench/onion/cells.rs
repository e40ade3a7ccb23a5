//! Per-cell cost: each operation of `onion::cell` on a 4-hop circuit,
//! next to a raw ChaCha20-Poly1305 seal of the same size.

use std::hint::black_box;
use std::time::Instant;

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use onion::cell::{
    client_backward, client_forward, dest_backward, hop_forward, payload, relay_backward,
    AAD_FORWARD, BODY_LEN, PAYLOAD_LEN, SLOT_LEN,
};
use onion::ntor::HopKeys;
use rand_core::RngCore;

use super::handshake::HOPS;
use super::{progress, Options, OsRandom};
use crate::bench::table::{Summary, Table};

/// Distinct valid inputs per operation, cycled through by the timed loops
/// (1.4 KB each: ~0.75 MB, in L2/L3 like a relay's receive buffers).
pub const POOL: usize = 512;

/// Bytes the raw seal encrypts: what a forward hop opens (the body minus
/// its own slot).
pub const RAW_LEN: usize = BODY_LEN - SLOT_LEN;

/// The operations, in the order each run times them; the first is the
/// reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    RawSeal,
    HopForward,
    RelayBackward,
    ClientForward,
    ClientBackward,
    DestBackward,
}

impl Op {
    pub const ALL: [Op; 6] = [
        Op::RawSeal,
        Op::HopForward,
        Op::RelayBackward,
        Op::ClientForward,
        Op::ClientBackward,
        Op::DestBackward,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Op::RawSeal => "(a) raw ChaCha20-Poly1305 seal, 1444 B",
            Op::HopForward => "(b) relay forward: hop_forward",
            Op::RelayBackward => "(c) relay backward: relay_backward",
            Op::ClientForward => "(d) client, 4 layers: client_forward",
            Op::ClientBackward => "(e) client, 4 layers: client_backward",
            Op::DestBackward => "(f) destination: dest_backward",
        }
    }
}

/// One operation's samples: ns per cell and ratio to the raw seal, one
/// per run.
#[derive(Debug, Clone)]
pub struct CellRow {
    pub op: Op,
    pub ns: Vec<f64>,
    pub ratio: Vec<f64>,
}

/// The per-cell samples.
#[derive(Debug, Clone)]
pub struct Cells {
    pub rows: Vec<CellRow>,
    /// Per run: (b) + (c), a relay's crypto for one cell each way.
    pub relay_both: Vec<f64>,
    /// Per run: (d) + (e), the client's crypto for one cell each way.
    pub client_both: Vec<f64>,
}

/// Mbit/s of cell payload at `ns` per cell.
fn mbps(ns: f64) -> f64 {
    (PAYLOAD_LEN * 8) as f64 * 1e3 / ns
}

/// The inputs of every operation, built (and checked) before timing.
struct Inputs<'k> {
    keys: &'k [HopKeys],
    /// The raw seal's own key (random; no nonce shared with the circuit).
    raw_key: [u8; 32],
    /// Cell-sized plaintexts for the raw seal.
    raw: Vec<[u8; RAW_LEN]>,
    /// Payloads for client_forward and dest_backward.
    payloads: Vec<[u8; PAYLOAD_LEN]>,
    /// 4-layer forward bodies as relay 1 receives them (distinct nonces).
    forward: Vec<[u8; BODY_LEN]>,
    /// Destination bodies as the relay next to it receives them.
    dest: Vec<[u8; BODY_LEN]>,
    /// 4-layer backward bodies as the client receives them.
    backward: Vec<[u8; BODY_LEN]>,
    /// Next fresh nonce / counter per hop, forward and backward.
    fwd_nonce: [u64; HOPS],
    bwd_nonce: [u64; HOPS],
    raw_nonce: u64,
    /// Inputs per operation: [`POOL`], or fewer if a run has fewer cells.
    pool: usize,
}

impl<'k> Inputs<'k> {
    fn new(keys: &'k [HopKeys], pool: usize, rng: &mut OsRandom) -> Result<Self, String> {
        let mut fwd_nonce = [0u64; HOPS];
        let mut bwd_nonce = [0u64; HOPS];
        for n in fwd_nonce.iter_mut().chain(bwd_nonce.iter_mut()) {
            // A random start, as the circuit layer picks; far from wrapping.
            *n = rng.next_u64() >> 8;
        }
        let mut raw = vec![[0u8; RAW_LEN]; pool];
        let mut payloads = vec![[0u8; PAYLOAD_LEN]; pool];
        for b in &mut raw {
            rng.fill_bytes(b);
        }
        for p in &mut payloads {
            rng.fill_bytes(p);
        }
        let mut raw_key = [0u8; 32];
        rng.fill_bytes(&mut raw_key);
        let mut me = Inputs {
            keys,
            raw_key,
            raw,
            payloads,
            forward: Vec::with_capacity(pool),
            dest: Vec::with_capacity(pool),
            backward: Vec::with_capacity(pool),
            fwd_nonce,
            bwd_nonce,
            raw_nonce: 0,
            pool,
        };
        for i in 0..pool {
            let p = me.payloads[i];
            let body = me.client_forward(rng, &p)?;
            // The whole path delivers it.
            let mut b = body;
            for (h, k) in keys.iter().enumerate() {
                hop_forward(k, &mut b).map_err(|e| format!("setup, forward hop {h}: {e}"))?;
            }
            if payload(&b) != &p {
                return Err("setup: forward payload not delivered".into());
            }
            me.forward.push(body);
            let nonce = me.next_bwd(HOPS - 1);
            let d = dest_backward(&keys[HOPS - 1], nonce, &p);
            me.dest.push(d);
            let mut b = d;
            for h in (0..HOPS - 1).rev() {
                let c = me.next_bwd(h);
                relay_backward(&keys[h], c, &mut b);
            }
            let got = client_backward(&me.path_order(), &b)
                .map_err(|e| format!("setup, client_backward: {e}"))?;
            if got != (p, nonce) {
                return Err("setup: backward payload not delivered".into());
            }
            me.backward.push(b);
        }
        Ok(me)
    }

    fn next_fwd(&mut self, hop: usize) -> u64 {
        self.fwd_nonce[hop] += 1;
        self.fwd_nonce[hop]
    }

    fn next_bwd(&mut self, hop: usize) -> u64 {
        self.bwd_nonce[hop] += 1;
        self.bwd_nonce[hop]
    }

    /// The keys in the order a backward cell meets them (relay 1 first,
    /// the destination last): path order.
    fn path_order(&self) -> Vec<&'k HopKeys> {
        self.keys.iter().collect()
    }

    /// A forward body under fresh nonces.
    fn client_forward(
        &mut self,
        rng: &mut OsRandom,
        p: &[u8; PAYLOAD_LEN],
    ) -> Result<[u8; BODY_LEN], String> {
        let keys = self.keys;
        let hops: Vec<(&HopKeys, u64)> = (0..HOPS).map(|h| (&keys[h], self.next_fwd(h))).collect();
        client_forward(rng, &hops, p).map_err(|e| format!("client_forward: {e}"))
    }

    /// Time `m` cells of `op`: ns per cell, or how many failed.
    fn time(&mut self, op: Op, m: usize, rng: &mut OsRandom) -> Result<f64, String> {
        let keys = self.keys;
        let mut failed = 0usize;
        let mut work = [0u8; BODY_LEN];
        let t0;
        match op {
            Op::RawSeal => {
                let key = self.raw_key;
                let mut buf = [0u8; RAW_LEN];
                let mut n = self.raw_nonce;
                t0 = Instant::now();
                for i in 0..m {
                    buf.copy_from_slice(&self.raw[i % self.pool]);
                    n += 1;
                    let mut nonce = [0u8; 12];
                    nonce[4..].copy_from_slice(&n.to_be_bytes());
                    let tag = ChaCha20Poly1305::new(Key::from_slice(black_box(&key)))
                        .encrypt_in_place_detached(
                            Nonce::from_slice(&nonce),
                            AAD_FORWARD,
                            black_box(&mut buf),
                        );
                    failed += usize::from(black_box(tag).is_err());
                }
                self.raw_nonce = n;
            }
            Op::HopForward => {
                let k = &keys[0];
                t0 = Instant::now();
                for i in 0..m {
                    work.copy_from_slice(&self.forward[i % self.pool]);
                    let r = hop_forward(black_box(k), black_box(&mut work));
                    failed += usize::from(black_box(r).is_err());
                }
            }
            Op::RelayBackward => {
                // The relay next to the destination, on the destination's
                // bodies; fresh counters.
                let h = HOPS - 2;
                let k = &keys[h];
                let mut c = self.bwd_nonce[h];
                t0 = Instant::now();
                for i in 0..m {
                    work.copy_from_slice(&self.dest[i % self.pool]);
                    c += 1;
                    relay_backward(black_box(k), c, black_box(&mut work));
                }
                self.bwd_nonce[h] = c;
            }
            Op::ClientForward => {
                let mut nonces = self.fwd_nonce;
                t0 = Instant::now();
                for i in 0..m {
                    for n in &mut nonces {
                        *n += 1;
                    }
                    let hops: [(&HopKeys, u64); HOPS] =
                        std::array::from_fn(|h| (&keys[h], nonces[h]));
                    let r = client_forward(rng, black_box(&hops), &self.payloads[i % self.pool]);
                    failed += usize::from(black_box(r).is_err());
                }
                self.fwd_nonce = nonces;
            }
            Op::ClientBackward => {
                let order = self.path_order();
                t0 = Instant::now();
                for i in 0..m {
                    let r = client_backward(black_box(&order), &self.backward[i % self.pool]);
                    failed += usize::from(black_box(r).is_err());
                }
            }
            Op::DestBackward => {
                let h = HOPS - 1;
                let k = &keys[h];
                let mut n = self.bwd_nonce[h];
                t0 = Instant::now();
                for i in 0..m {
                    n += 1;
                    black_box(dest_backward(
                        black_box(k),
                        n,
                        &self.payloads[i % self.pool],
                    ));
                }
                self.bwd_nonce[h] = n;
            }
        }
        let ns = t0.elapsed().as_secs_f64() * 1e9 / m as f64;
        if failed > 0 {
            return Err(format!("{}: {failed} of {m} cells failed", op.label()));
        }
        Ok(ns)
    }
}

/// Time every operation `o.runs` times, `o.cells` cells each, the
/// operations interleaved within a run.
pub fn measure(
    o: &Options,
    keys: &[HopKeys],
    rng: &mut OsRandom,
    t0: &Instant,
) -> Result<Cells, String> {
    let mut inputs = Inputs::new(keys, POOL.min(o.cells), rng)?;
    let mut rows: Vec<CellRow> = Op::ALL
        .iter()
        .map(|&op| CellRow {
            op,
            ns: Vec::new(),
            ratio: Vec::new(),
        })
        .collect();
    // Warm-up: a tenth of a run of each.
    for op in Op::ALL {
        inputs.time(op, (o.cells / 10).max(1), rng)?;
    }
    let mut relay_both = Vec::new();
    let mut client_both = Vec::new();
    for run in 0..o.runs {
        let mut ns = [0.0; Op::ALL.len()];
        for (i, op) in Op::ALL.into_iter().enumerate() {
            ns[i] = inputs.time(op, o.cells, rng)?;
        }
        for (row, &x) in rows.iter_mut().zip(&ns) {
            row.ns.push(x);
            row.ratio.push(x / ns[0]);
        }
        relay_both.push(ns[1] + ns[2]);
        client_both.push(ns[3] + ns[4]);
        progress(
            t0,
            &format!(
                "cells: run {}/{}: raw seal {:.0} ns, hop_forward {:.0} ns",
                run + 1,
                o.runs,
                ns[0],
                ns[1]
            ),
        );
    }
    Ok(Cells {
        rows,
        relay_both,
        client_both,
    })
}

fn median(v: &[f64]) -> Option<f64> {
    Summary::of(v).map(|s| s.median)
}

impl Cells {
    pub fn text(&self, o: &Options) -> String {
        let mut out = format!(
            "\n1. Per-cell crypto on a 4-hop circuit (3 relays + destination, keys from ntor),\n   \
             one core, {} runs of {} cells per operation, operations interleaved in each run.\n   \
             Inputs are {} distinct valid cells per operation, built and checked outside\n   \
             the timed loops (forward: client_forward under fresh nonces per cell, so each\n   \
             tag verifies) and cycled: the cell functions are stateless, the replay window\n   \
             is the circuit layer's and not measured. In-place operations ((a)-(c)) include\n   \
             copying the {}-byte input into the work buffer, as a relay receives a cell into\n   \
             its buffer; (d) and (f) use fresh nonces per cell, (d) reads the kernel RNG per\n   \
             cell (72 bytes of unused slots), as meshd would. Mbit/s: {PAYLOAD_LEN} payload\n   \
             bytes per cell (for (a) too: the seal of one cell's worth). (a)'s AEAD is\n   \
             instantiated in hwtest, (b)-(f)'s in onion, both at opt-level 3. (c) is below\n   \
             1: a relay's backward layer is a keystream and a PRF slot, no Poly1305 (the\n   \
             client checks the destination's AEAD and every slot)\n",
            o.runs, o.cells, POOL.min(o.cells), BODY_LEN
        );
        let mut t = Table::new(&[
            "operation",
            "ns per cell (min / median / max)",
            "Mbit/s payload",
            "ratio to raw seal",
        ]);
        for r in &self.rows {
            t.row(vec![
                r.op.label().into(),
                Summary::of(&r.ns).map_or("-".into(), |s| s.fmt(0)),
                median(&r.ns).map_or("-".into(), |x| format!("{:.0}", mbps(x))),
                median(&r.ratio).map_or("-".into(), |x| format!("{x:.2}")),
            ]);
        }
        out.push_str(&t.render());
        out
    }

    /// Part 3: the derived per-relay and per-client figures.
    pub fn derived_text(&self) -> String {
        let mut out = String::from(
            "\n3. Derived (medians over runs of the per-run sums of rows in table 1)\n",
        );
        let mut t = Table::new(&["figure", "ns per cell", "Mbit/s payload"]);
        let fwd = self.rows.iter().find(|r| r.op == Op::HopForward);
        let bwd = self.rows.iter().find(|r| r.op == Op::RelayBackward);
        if let (Some(f), Some(b)) = (fwd, bwd) {
            for (what, v) in [
                ("added latency per relay, forward (b)", &f.ns),
                ("added latency per relay, backward (c)", &b.ns),
            ] {
                let m = median(v).unwrap_or(f64::NAN);
                t.row(vec![
                    what.into(),
                    format!("{m:.0}"),
                    format!("{:.0}", mbps(m)),
                ]);
            }
        }
        for (what, v) in [
            (
                "crypto per relay per cell, forward+backward (b)+(c)",
                &self.relay_both,
            ),
            (
                "client per cell, forward+backward, 4 hops (d)+(e)",
                &self.client_both,
            ),
        ] {
            let m = median(v).unwrap_or(f64::NAN);
            t.row(vec![
                what.into(),
                format!("{m:.0}"),
                format!("{:.0} each way", mbps(m)),
            ]);
        }
        out.push_str(&t.render());
        out.push_str(
            "   (\"each way\": one core carrying the same cell rate in both directions)\n",
        );
        out
    }
}

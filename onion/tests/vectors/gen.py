#!/usr/bin/env python3
"""Independent test vectors for onion/src/ntor.rs and onion/src/cell.rs.

An independent reference implementation written from the module docs of
ntor.rs ("## Protocol", "## Wire format") and cell.rs ("## Layout",
"## Forward", "## Backward"), using only the Python `cryptography` package
(X25519, Ed25519, HMAC, HKDFExpand, ChaCha20, ChaCha20Poly1305, SHA-256).
It shares no code with the Rust crate. It prints the expected values as Rust
constants; onion/tests/vectors.rs embeds them and feeds the same fixed
inputs to the Rust code.

Run (from the workspace root):

    python3 onion/tests/vectors/gen.py

and paste the output over the constants block in onion/tests/vectors.rs,
then run rustfmt on it (the inputs there must stay in sync with the INPUTS
section below). Needs `cryptography` (tested with 48.0).

Where the docs leave an encoding open, the choice below follows the code
and is marked "(code)": the HKDF labels of the hop keys, and the slot index
j in the backward filler HMAC as one byte.
"""

import hashlib

from cryptography.hazmat.primitives import hashes, hmac as chmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# ---------------------------------------------------------------- INPUTS ---


def pat(start, step=1, n=32):
    """n bytes start, start+step, ... (mod 256)."""
    return bytes((start + step * i) & 0xFF for i in range(n))


HOPS = 3
# Per hop h = 1..3 (hop 3 is the destination):
ID_SEED = {h: pat(0x01 + 0x20 * (h - 1)) for h in (1, 2, 3)}  # ed25519 seed
ONION_SECRET = {h: pat(0x61 + 0x20 * (h - 1)) for h in (1, 2, 3)}  # x25519 b
CLIENT_X = {h: pat(0x10 * h, 3) for h in (1, 2, 3)}  # client ephemeral x
RELAY_Y = {h: pat(0x10 * h + 0x80, 5) for h in (1, 2, 3)}  # relay ephemeral y
# Hop 2 also holds a newer onion key, listed first; the client uses the
# older one above (the key hint must select it).
HOP2_OTHER_ONION_SECRET = pat(0x33, 7)

# Cell tests: fixed hop keys (not from the handshake, so that the two
# tests fail independently).
CELL_KEYS = {
    h: {
        "forward": pat(0x01 + 0x10 * h, 1),
        "backward": pat(0x02 + 0x10 * h, 3),
        "forward_pad": pat(0x03 + 0x10 * h, 5),
        "backward_pad": pat(0x04 + 0x10 * h, 7),
        "forward_hp": pat(0x05 + 0x10 * h, 9),
        "backward_hp": pat(0x06 + 0x10 * h, 11),
    }
    for h in (1, 2, 3)
}
FWD_NONCES = [0x0102030405060708, 0x8877665544332211, 0x00000000DEADBEEF]
DEST_RANDOM = pat(0xA0, 1, 144 - 24 * (HOPS - 1))  # R: the unused slots
FWD_PAYLOAD = bytes((i * 7 + 3) & 0xFF for i in range(1300))
BWD_DEST_NONCE = 0x0123456789ABCDEF
BWD_COUNTER = {2: 0xFEDCBA9876543210, 1: 42}  # relay 2 first, then relay 1
BWD_PAYLOAD = bytes((i * 13 + 5) & 0xFF for i in range(1300))

# ----------------------------------------------------------------- NTOR ----

PROTOID = b"meshd-ntor-curve25519-sha256-1"
T_KEY = PROTOID + b":key"
T_VERIFY = PROTOID + b":verify"
T_MAC = PROTOID + b":mac"


def H(msg, tweak):
    """HMAC-SHA256 keyed by the tweak."""
    m = chmac.HMAC(tweak, hashes.SHA256())
    m.update(msg)
    return m.finalize()


def x_pub(secret):
    return (
        X25519PrivateKey.from_private_bytes(secret)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


def dh(secret, public):
    out = X25519PrivateKey.from_private_bytes(secret).exchange(
        X25519PublicKey.from_public_bytes(public)
    )
    assert out != bytes(32)
    return out


def ed_pub(seed):
    return (
        Ed25519PrivateKey.from_private_bytes(seed)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


def hop_keys(key_seed):
    """HKDF-Expand with PRK = key_seed (no Extract), one label per key.

    The label strings are not in the module doc; they are ntor.rs's
    LABEL_* constants (code)."""

    def expand(label, n):
        return HKDFExpand(hashes.SHA256(), n, label).derive(key_seed)

    return {
        "forward": expand(b"meshd ntor v1 forward key", 32),
        "backward": expand(b"meshd ntor v1 backward key", 32),
        "forward_pad": expand(b"meshd ntor v1 forward pad", 32),
        "backward_pad": expand(b"meshd ntor v1 backward pad", 32),
        "digest": expand(b"meshd ntor v1 digest", 8),
        "forward_hp": expand(b"meshd ntor v1 forward hp", 32),
        "backward_hp": expand(b"meshd ntor v1 backward hp", 32),
    }


def ntor(node_id, b_secret, x, y):
    B = x_pub(b_secret)
    X = x_pub(x)
    Y = x_pub(y)
    create = X + B[:4]
    # relay side
    si = dh(y, X) + dh(b_secret, X) + node_id + B + X + Y + PROTOID
    key_seed = H(si, T_KEY)
    verify = H(si, T_VERIFY)
    auth = H(verify + node_id + B + Y + X + PROTOID + b"server", T_MAC)
    created = Y + auth
    # client side, independently
    si_c = dh(x, Y) + dh(x, B) + node_id + B + X + Y + PROTOID
    assert si_c == si
    assert H(H(si_c, T_VERIFY) + node_id + B + Y + X + PROTOID + b"server", T_MAC) == auth
    return B, create, created, hop_keys(H(si_c, T_KEY))


# ----------------------------------------------------------------- CELLS ---

SLOT = 24
SLOTS = 7 * SLOT  # 168
SHIFTED = SLOTS - SLOT  # 144
PAYLOAD = 1300
BODY = SLOTS + PAYLOAD  # 1468
CT = BODY - SLOT  # 1444
AAD_FWD = b"meshd cell fwd v1"
AAD_BWD = b"meshd cell bwd v1"


def nonce12(n):
    return bytes(4) + n.to_bytes(8, "big")


def keystream(key, n, length):
    """ChaCha20 keystream, 12-byte nonce 0000 || u64 BE, block counter 1."""
    # cryptography's ChaCha20 takes a 16-byte nonce: LE u32 counter || nonce.
    enc = Cipher(
        algorithms.ChaCha20(key, (1).to_bytes(4, "little") + nonce12(n)), None
    ).encryptor()
    ks = enc.update(bytes(length)) + enc.finalize()
    # As the docs say: equal to what sealing zeros gives, minus the tag.
    assert ks == ChaCha20Poly1305(key).encrypt(nonce12(n), bytes(length), None)[:-16]
    return ks


def prf(key, label, n, length):
    """PRF(k, L, n): ChaCha20 keystream, nonce = 4-byte label || u64 BE,
    block counter 0."""
    enc = Cipher(algorithms.ChaCha20(key, bytes(4) + label + n.to_bytes(8, "big")), None).encryptor()
    return enc.update(bytes(length))


def mask(key, sample):
    """Slot protection: ChaCha20 keystream under key, nonce = sample[0..12],
    block counter 0, first 8 bytes, as a u64 (big-endian)."""
    enc = Cipher(algorithms.ChaCha20(key, bytes(4) + sample[:12]), None).encryptor()
    return int.from_bytes(enc.update(bytes(8)), "big")


def slot(hp, value, tag):
    return (value ^ mask(hp, tag)).to_bytes(8, "big") + tag


def xor(a, b):
    assert len(a) == len(b)
    return bytes(p ^ q for p, q in zip(a, b))


def seal(key, n, aad, pt):
    """(ct, tag)"""
    out = ChaCha20Poly1305(key).encrypt(nonce12(n), pt, aad)
    return out[:-16], out[-16:]


def open_(key, n, aad, ct, tag):
    return ChaCha20Poly1305(key).decrypt(nonce12(n), ct + tag, aad)


def F(k, n):
    return prf(k["forward_pad"], b"fill", n, 24)


def client_forward(hops, R, payload):
    """hops: [(keys, nonce)] in path order, last = destination."""
    n = len(hops)
    ks = [keystream(k["forward"], nonce, CT) for k, nonce in hops]
    # tail_1 empty; tail_{i+1} = (tail_i XOR ks_i[144-24(i-1)..144]) || F_i
    tail = b""
    for i in range(1, n):  # hops 1..n-1
        k, nonce = hops[i - 1]
        tail = xor(tail, ks[i - 1][144 - 24 * (i - 1) : 144]) + F(k, nonce)
    assert len(tail) == 24 * (n - 1)
    # destination plaintext
    lo = 144 - 24 * (n - 1)
    assert len(R) == lo
    pt = R + xor(tail, ks[n - 1][lo:144]) + payload
    k, nonce = hops[n - 1]
    ct, tag = seal(k["forward"], nonce, AAD_FWD, pt)
    body = slot(k["forward_hp"], nonce, tag) + ct
    # outwards: hop i's plaintext = S_{i+1}[0..144] || P_{i+1}
    for i in range(n - 1, 0, -1):
        k, nonce = hops[i - 1]
        pt = body[:144] + body[168:]
        ct, tag = seal(k["forward"], nonce, AAD_FWD, pt)
        body = slot(k["forward_hp"], nonce, tag) + ct
    assert len(body) == BODY
    return body


def hop_forward(k, body):
    nonce = int.from_bytes(body[:8], "big") ^ mask(k["forward_hp"], body[8:24])
    pt = open_(k["forward"], nonce, AAD_FWD, body[24:], body[8:24])
    return pt[:144] + F(k, nonce) + pt[144:], nonce


def bfill(k, n, j):
    return prf(k["backward_pad"], b"bfil", n, 144)[24 * (j - 1) : 24 * j]


def bslot(k, c):
    return prf(k["backward_pad"], b"bslt", c, 16)


def dest_backward(k, nonce, payload):
    ct, tag = seal(k["backward"], nonce, AAD_BWD, payload)
    slots = b"".join(bfill(k, nonce, j) for j in range(1, 7))
    return slot(k["backward_hp"], nonce, tag) + slots + ct


def relay_backward(k, c, body):
    E = xor(body, keystream(k["backward"], c, BODY))
    return slot(k["backward_hp"], c, bslot(k, c)) + E[:144] + E[168:]


def client_backward(relays_then_dest, body):
    *relays, dest = relays_then_dest
    cur = body
    for k in relays:
        c = int.from_bytes(cur[:8], "big") ^ mask(k["backward_hp"], cur[8:24])
        assert cur[8:24] == bslot(k, c)
        # cur = c || mac || E[0..144] || E[168..]; E[144..168] was dropped.
        E = cur[24:168] + bytes(24) + cur[168:]
        cur = xor(E, keystream(k["backward"], c, BODY))
        cur = cur[:144] + bytes(24) + cur[168:]  # the unknown slot
    nonce = int.from_bytes(cur[:8], "big") ^ mask(dest["backward_hp"], cur[8:24])
    kept = 7 - len(relays)
    for j in range(1, kept):
        assert cur[24 * j : 24 * j + 24] == bfill(dest, nonce, j)
    p = open_(dest["backward"], nonce, AAD_BWD, cur[168:], cur[8:24])
    return p, nonce


# ---------------------------------------------------------------- OUTPUT ---


def const(name, value):
    if isinstance(value, bytes):
        print(f'const {name}: &str = "{value.hex()}";')
    else:
        print(f"const {name}: u64 = {value:#018x};")


def body_consts(name, body):
    assert len(body) == BODY
    const(f"{name}_HEAD", body[:200])
    const(f"{name}_SHA256", hashlib.sha256(body).digest())


def main():
    print("// Produced by onion/tests/vectors/gen.py; do not edit by hand.")
    print("// ntor: per hop 1..3")
    for h in (1, 2, 3):
        node_id = ed_pub(ID_SEED[h])
        B, create, created, keys = ntor(node_id, ONION_SECRET[h], CLIENT_X[h], RELAY_Y[h])
        const(f"NTOR{h}_NODE_ID", node_id)
        const(f"NTOR{h}_B", B)
        const(f"NTOR{h}_CREATE", create)
        const(f"NTOR{h}_CREATED", created)
        for f in ("forward", "backward", "forward_pad", "backward_pad", "digest", "forward_hp", "backward_hp"):
            const(f"NTOR{h}_{f.upper()}", keys[f])
    assert x_pub(HOP2_OTHER_ONION_SECRET)[:4] != x_pub(ONION_SECRET[2])[:4]

    print("// forward cell, 3 hops: the body the client builds, then after")
    print("// hop_forward at hop 1, 2 and 3 (the destination)")
    hops = [(CELL_KEYS[h], FWD_NONCES[h - 1]) for h in (1, 2, 3)]
    body = client_forward(hops, DEST_RANDOM, FWD_PAYLOAD)
    body_consts("FWD_CLIENT", body)
    for h in (1, 2, 3):
        body, nonce = hop_forward(CELL_KEYS[h], body)
        assert nonce == FWD_NONCES[h - 1]
        body_consts(f"FWD_AFTER_HOP{h}", body)
    assert body[168:] == FWD_PAYLOAD

    print("// backward cell: after dest_backward (hop 3), then relay_backward")
    print("// at hop 2 and at hop 1")
    body = dest_backward(CELL_KEYS[3], BWD_DEST_NONCE, BWD_PAYLOAD)
    body_consts("BWD_AFTER_DEST", body)
    for h in (2, 1):
        body = relay_backward(CELL_KEYS[h], BWD_COUNTER[h], body)
        body_consts(f"BWD_AFTER_RELAY{h}", body)
    p, nonce = client_backward([CELL_KEYS[1], CELL_KEYS[2], CELL_KEYS[3]], body)
    assert p == BWD_PAYLOAD and nonce == BWD_DEST_NONCE
    const("BWD_CLIENT_PAYLOAD_SHA256", hashlib.sha256(p).digest())
    const("BWD_CLIENT_NONCE", nonce)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Hostile input for meshd's netns tests: send random and malformed
batman-adv frames (ethertype 0x4305) on IFACE as fast as possible for SECS
seconds, from random source MACs. Prints the number of frames sent.

usage: inject.py IFACE SECS [SEED]
Only ever run inside a network namespace a test created."""
import os, random, socket, struct, sys, time

iface, secs = sys.argv[1], float(sys.argv[2])
rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))

def mac():
    b = bytearray(rnd.getrandbits(8) for _ in range(6))
    b[0] = (b[0] & 0xfe) | 0x02  # unicast, locally administered
    return bytes(b)

def payload():
    kind = rnd.randrange(8)
    if kind == 0:  # pure noise
        return bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 200)))
    if kind == 1:  # OGM with a tvlv_len past the end
        return struct.pack("!BBBBI6s6sBBH", 0, 15, 50, 0, rnd.getrandbits(32), mac(), mac(), 0, 255, 0xffff)
    if kind == 2:  # plausible OGMs from forged originators
        o = mac()
        return struct.pack("!BBBBI6s6sBBH", 0, 15, 50, 0, rnd.getrandbits(32), o, o, 0, 255, 0)
    if kind == 3:  # wrong version
        return bytes([rnd.choice([0, 1, 0x40, 0x43]), rnd.randrange(256)]) + bytes(30)
    if kind == 4:  # truncated headers of every type
        t = rnd.choice([0, 1, 0x40, 0x41, 0x42, 0x43, 0x44])
        return bytes([t, 15]) + bytes(rnd.randrange(0, 12))
    if kind == 5:  # TVLV containers with nested lengths that overflow
        tv = struct.pack("!BBH", 4, 1, 0xfff0) + bytes(8)
        o = mac()
        return struct.pack("!BBBBI6s6sBBH", 0, 15, 50, 0, 1, o, o, 0, 255, len(tv)) + tv
    if kind == 6:  # fragments with absurd sizes
        return struct.pack("!BBBB6s6sHH", 0x41, 15, 50, 0xf0, mac(), mac(), rnd.getrandbits(16), 0xffff) + bytes(40)
    # broadcast from unknown originators
    return struct.pack("!BBBBI6s", 1, 15, 50, 0, rnd.getrandbits(32), mac()) + bytes(60)

sent, end = 0, time.monotonic() + secs
while time.monotonic() < end:
    for _ in range(100):
        frame = b"\xff" * 6 + mac() + b"\x43\x05" + payload()
        try:
            s.send(frame)
            sent += 1
        except OSError:
            pass
print(sent)

#!/usr/bin/env python3
"""Send malformed frames at a loomd node from a packet socket and check that
each one shows up in the drop counter that names its fault.

Frames go out in batches; after each batch the sender waits (bounded) until
loomd's stats file shows they were all received, so a slow, shared CI core
never turns into silent loss. Exit 0 only if every expected counter moved by
exactly what was sent (eth_drop_ethertype: at least, since the client
kernel's own traffic can add to it) and the process never stopped answering.
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tcpdata import csum


def mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def ip_bytes(ip: str) -> bytes:
    return socket.inet_aton(ip)


def ipv4(src, dst, proto, payload, *, ihl=5, version=4, frag=0,
         options=b"", total=None, bad_csum=False):
    hlen = ihl * 4
    tl = total if total is not None else 20 + len(options) + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", (version << 4) | ihl, 0, tl & 0xFFFF,
                      0x1234, frag, 64, proto, 0, src, dst) + options
    hdr = hdr[:max(hlen, 20)] if ihl >= 5 else hdr
    c = csum(hdr)
    if bad_csum:
        c ^= 0x5A5A
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return hdr + payload


def icmp_echo(payload=b"loom" * 8, bad=False):
    h = struct.pack("!BBHHH", 8, 0, 0, 0x77, 1) + payload
    c = csum(h)
    if bad:
        c ^= 0xFFFF if c != 0xFFFF else 0x1
    return h[:2] + struct.pack("!H", c) + h[4:]


def build(kind, a, rnd):
    eth = a.dst + a.src
    v4 = eth + b"\x08\x00"
    me, them = a.me, a.them
    if kind == "ip_drop_short":  # fewer than 20 bytes of IPv4 header
        return v4 + bytes(rnd.randrange(0, 20))
    if kind == "ip_drop_version":
        return v4 + ipv4(me, them, 1, icmp_echo(), version=6)
    if kind == "ip_drop_ihl":  # IHL below 5
        p = bytearray(ipv4(me, them, 1, icmp_echo()))
        p[0] = 0x40 | rnd.randrange(0, 5)
        return v4 + bytes(p)
    if kind == "ip_drop_len":  # total length beyond the frame
        return v4 + ipv4(me, them, 1, icmp_echo(), total=1400)
    if kind == "ip_drop_csum":
        return v4 + ipv4(me, them, 1, icmp_echo(), bad_csum=True)
    if kind == "ip_drop_src":  # a source no reply may go to
        src = rnd.choice([b"\0\0\0\0", b"\xff\xff\xff\xff",
                          b"\x7f\0\0\1", b"\xe0\0\0\x05"])
        return v4 + ipv4(src, them, 1, icmp_echo())
    if kind == "icmp_drop_type":  # a timestamp request: not echo
        h = struct.pack("!BBHHH", 13, 0, 0, 1, 1) + bytes(12)
        h = h[:2] + struct.pack("!H", csum(h)) + h[4:]
        return v4 + ipv4(me, them, 1, h)
    if kind == "ip_drop_options":  # Router Alert: well-formed, unsupported
        return v4 + ipv4(me, them, 1, icmp_echo(), ihl=6,
                         options=b"\x94\x04\x00\x00")
    if kind == "ip_drop_not_ours":
        other = bytes([them[0], them[1], them[2], (them[3] + 7) & 0xFF])
        return v4 + ipv4(me, other, 1, icmp_echo())
    if kind == "icmp_drop_csum":
        return v4 + ipv4(me, them, 1, icmp_echo(bad=True))
    if kind == "arp_drop_malformed":  # hlen 7 and a short body
        body = struct.pack("!HHBBH", 1, 0x0800, 7, 4, 1) + a.src + me
        return eth + b"\x08\x06" + body
    if kind == "eth_drop_ethertype":
        return eth + b"\x88\xb5" + bytes(46)
    raise ValueError(kind)


# Fragments are not in the list: net_af_packet joins a PACKET_FANOUT group
# with the kernel's DEFRAG flag, so the node namespace's kernel reassembles
# or holds them before loomd could see one. The unit tests cover them.
KINDS = ["ip_drop_short", "ip_drop_version", "ip_drop_ihl", "ip_drop_len",
         "ip_drop_csum", "ip_drop_options", "ip_drop_not_ours", "ip_drop_src",
         "icmp_drop_csum", "icmp_drop_type", "arp_drop_malformed",
         "eth_drop_ethertype"]


def read_stats(path):
    for _ in range(50):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            time.sleep(0.05)
    raise SystemExit("cannot read stats file %s" % path)


def net_totals(st):
    tot = {}
    for lc in st["lcores"]:
        for k, v in lc.get("net", {}).items():
            tot[k] = tot.get(k, 0) + v
    return tot


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iface", required=True)
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--dst-ip", required=True)
    ap.add_argument("--src-ip", required=True)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--stats", required=True, help="loomd's stats_file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--deadline", type=float, default=120.0)
    a = ap.parse_args()
    a.dst, a.src = mac_bytes(a.dst_mac), mac_bytes(a.src_mac)
    a.me, a.them = ip_bytes(a.src_ip), ip_bytes(a.dst_ip)
    rnd = random.Random(a.seed)

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    before = net_totals(read_stats(a.stats))
    sent = {k: 0 for k in KINDS}
    end = time.monotonic() + a.deadline
    batch = 250
    for base in range(0, a.count, batch):
        for i in range(base, min(base + batch, a.count)):
            kind = KINDS[i % len(KINDS)]
            s.send(build(kind, a, rnd))
            sent[kind] += 1
        # Wait until loomd has seen everything sent so far.
        want = sum(sent.values())
        while True:
            now = net_totals(read_stats(a.stats))
            seen = sum(now.get(k, 0) - before.get(k, 0) for k in KINDS)
            if seen >= want:
                break
            if time.monotonic() > end:
                print("timeout: loomd counted %d of %d frames" % (seen, want))
                print(json.dumps({k: now.get(k, 0) - before.get(k, 0)
                                  for k in KINDS}))
                return 1
            time.sleep(0.05)
    after = net_totals(read_stats(a.stats))
    bad = 0
    for k in KINDS:
        d = after.get(k, 0) - before.get(k, 0)
        ok = d >= sent[k] if k == "eth_drop_ethertype" else d == sent[k]
        print("%-20s sent %5d counted %5d %s" % (k, sent[k], d,
                                                  "ok" if ok else "MISMATCH"))
        bad += not ok
    print("%d malformed frames sent, %d counters wrong" % (a.count, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

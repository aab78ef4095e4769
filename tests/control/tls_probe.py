#!/usr/bin/env python3
"""tls_probe.py: dials a loom-controld's management port with a given
certificate, as a peer would, to see whether it is let in (test_controld.sh).

  tls_probe.py --port P --cert CERT --key KEY [--host IP] [--hello NAME]

TLS 1.3 with our certificate; the server's is not checked (only the
server's verdict on ours matters here). With --hello it then speaks the
link protocol: HELLO (node id 0, NAME) and an empty TOPOLOGY, as a node
not in any topology yet. It reads until the server refuses (a TLS alert,
an ERROR message, or the connection closed) or sends EPOCH (it would make
a key with us), at most 15 s.

Prints one JSON line {"refused": bool, "how": "..."}; exit 0 when
refused, 1 when let in, 3 when the port cannot be reached.
"""
import argparse
import json
import socket
import ssl
import struct
import sys
import time

HELLO, ERROR, TOPOLOGY, EPOCH = 1, 3, 11, 12
EMPTY_TOPOLOGY = b"loom-topology 1\ncluster 0000000000000000\nversion 0\n"


def frame(mtype, payload):
    return struct.pack(">IHH", 4 + len(payload), mtype, 0) + payload


def out(refused, how):
    print(json.dumps({"refused": refused, "how": how}))
    return 0 if refused else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--hello")
    a = ap.parse_args()

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(a.cert, a.key)
    try:
        raw = socket.create_connection((a.host, a.port), timeout=15)
    except OSError as e:
        print(json.dumps({"refused": None, "how": f"connect: {e}"}))
        return 3
    deadline = time.monotonic() + 15
    try:
        s = ctx.wrap_socket(raw)
    except (ssl.SSLError, OSError) as e:
        return out(True, f"handshake: {e}")
    try:
        if a.hello:
            name = a.hello.encode()
            s.sendall(frame(HELLO, struct.pack(">HHQH", 1, 0, 0, len(name))
                            + name))
            s.sendall(frame(TOPOLOGY, struct.pack(">QI", 0, len(EMPTY_TOPOLOGY))
                            + EMPTY_TOPOLOGY))
        buf = b""
        while time.monotonic() < deadline:
            data = s.recv(65536)
            if not data:
                return out(True, "closed")
            buf += data
            while len(buf) >= 8:
                length, mtype = struct.unpack(">IH", buf[:6])
                if len(buf) < 4 + length:
                    break
                body, buf = buf[8:4 + length], buf[4 + length:]
                if mtype == ERROR:
                    code, _req, mlen = struct.unpack(">HIH", body[:8])
                    return out(True, "ERROR %d: %s" % (
                        code, body[8:8 + mlen].decode(errors="replace")))
                if mtype == EPOCH:
                    return out(False, "EPOCH: it would make a key with us")
        return out(False, "nothing within 15 s")
    except (ssl.SSLError, OSError) as e:
        return out(True, f"alert: {e}")
    finally:
        s.close()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Bulk transfer through a TCP echo service over one connection: send
--bytes B (default 256 MiB) of a deterministic stream while reading the echo
back concurrently, half-close once everything is sent, read until the
peer's FIN, and compare the SHA-256 of what was sent with that of what came
back (and the byte counts). Exit 0 iff they are equal before --deadline.
Prints MB/s (bytes echoed / seconds from connect to FIN); --json adds a JSON
object on the last line. The echoed bytes are also compared incrementally
with the stream, so a failure names the first wrong offset.
"""
import hashlib
import selectors
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tcpdata import (CHUNK, EV_R, EV_W, Stream, errname, host_port_args, mb,
                     result, send_nb)


def main():
    ap = host_port_args(description=__doc__)
    ap.add_argument("--bytes", type=int, default=256 * 1024 * 1024)
    ap.add_argument("--deadline", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    B = a.bytes
    st = Stream(a.seed, 0)
    h_out, h_in = hashlib.sha256(), hashlib.sha256()
    buf = bytearray(CHUNK)
    bmv = memoryview(buf)
    sent = rcvd = 0
    first_bad = None
    err = None
    eof = False

    t0 = time.monotonic()
    end = t0 + a.deadline
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(max(1.0, a.deadline))
    try:
        s.connect((a.host, a.port))
    except OSError as e:
        print("tcp_bulk %s:%d: connect: %s FAIL" % (a.host, a.port, errname(e)))
        return 1
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, EV_R | EV_W if B else EV_R)
    if B == 0:
        s.shutdown(socket.SHUT_WR)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stop.append("SIGINT"))
    try:
        while not eof:
            now = time.monotonic()
            if now >= end or stop:
                err = stop[0] if stop else "deadline"
                break
            for _key, mask in sel.select(min(0.5, end - now)):
                if mask & EV_W and sent < B:
                    v = st.view(sent, B - sent)
                    n = send_nb(s, v)
                    h_out.update(v[:n])
                    sent += n
                    if sent == B:
                        s.shutdown(socket.SHUT_WR)
                        sel.modify(s, EV_R)
                if mask & EV_R:
                    try:
                        n = s.recv_into(buf)
                    except BlockingIOError:
                        continue
                    if n == 0:
                        eof = True
                        break
                    h_in.update(bmv[:n])
                    if first_bad is None and rcvd + n <= sent:
                        first_bad = st.check(rcvd, buf[:n])
                    rcvd += n
    except OSError as e:
        err = errname(e)
    secs = time.monotonic() - t0
    s.close()
    same = h_out.hexdigest() == h_in.hexdigest()
    passed = err is None and sent == B and rcvd == B and same
    if err is None and rcvd != B:
        err = "received %d of %d bytes before EOF" % (rcvd, B)
    res = {"tool": "tcp_bulk", "host": a.host, "port": a.port, "bytes": B,
           "sent": sent, "received": rcvd, "seconds": round(secs, 3),
           "mb_per_s": round(mb(rcvd, secs), 2),
           "sha256_sent": h_out.hexdigest(), "sha256_received": h_in.hexdigest(),
           "first_mismatch": first_bad, "error": err, "pass": passed}
    print("tcp_bulk %s:%d: sent %d, received %d bytes in %.2f s, %.1f MB/s each "
          "way; sha256 %s%s%s%s"
          % (a.host, a.port, sent, rcvd, secs, res["mb_per_s"],
             "equal" if same else "DIFFERENT",
             "" if first_bad is None else ", first mismatch at offset %d" % first_bad,
             "" if err is None else "; " + err,
             "" if passed else " FAIL"))
    return result(res, a.json, passed)


if __name__ == "__main__":
    sys.exit(main())

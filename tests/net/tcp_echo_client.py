#!/usr/bin/env python3
"""Drive a TCP echo service with many concurrent connections and verify every
byte that comes back.

Each connection i sends --bytes B bytes of its own deterministic stream
(tcpdata.Stream(seed, i)), half-closes (shutdown SHUT_WR) once everything is
sent, reads the echo back comparing it incrementally with what was sent, and
counts as ok only when exactly B byte-exact bytes arrived followed by the
peer's FIN (an echo service closes after echoing everything). One thread,
non-blocking sockets on a selector; handles partial sends, EAGAIN, connects
in progress, resets and early EOFs (each one a failure with its reason and the
first wrong offset for a mismatch).

  --conns N          connections in total
  --concurrency C    at most C open at once (default N: all concurrent)
  --connect-rate R   start at most R connections per second (default: no cap)
  --duration S       benchmark mode: stop starting new connections after S
                     seconds; the ones not started are not failures
  --deadline S       hard bound: whatever is unfinished then has failed
                     (so is whatever is unfinished at SIGTERM/SIGINT)

Exit 0 iff every connection was verified before the deadline (with
--duration: every started one, and at least one). Prints a summary line; with
--json also one JSON object on the last line.

Connections per second: --bytes 1 --concurrency 32 --conns 100000 --duration 10.
"""
import argparse
import errno
import json
import selectors
import signal
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tcpdata import (CHUNK, EV_R, EV_W, Stream, errname, host_port_args, mb,
                     raise_nofile, result, send_nb, unregister)

CONNECTING, OPEN = 0, 1


class Conn:
    __slots__ = ("i", "sock", "st", "state", "sent", "rcvd", "port", "t0")

    def __init__(self, i, sock, st, t0):
        self.i, self.sock, self.st, self.t0 = i, sock, st, t0
        self.state, self.sent, self.rcvd, self.port = CONNECTING, 0, 0, 0


def parse():
    ap = host_port_args(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--bytes", type=int, default=65536)
    ap.add_argument("--deadline", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=0)
    ap.add_argument("--connect-rate", type=float, default=0.0)
    ap.add_argument("--duration", type=float, default=0.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quiet", action="store_true",
                    help="no per-failure lines, only the summary")
    a = ap.parse_args()
    if a.conns < 1 or a.bytes < 0 or a.deadline <= 0 or a.concurrency < 0:
        ap.error("--conns >= 1, --bytes >= 0, --deadline > 0, --concurrency >= 0")
    a.concurrency = min(a.concurrency or a.conns, a.conns)
    return a


def run(a):
    raise_nofile(a.concurrency + 16)
    sel = selectors.DefaultSelector()
    addr = (a.host, a.port)
    B = a.bytes
    buf = bytearray(CHUNK)
    t0 = time.monotonic()
    deadline = t0 + a.deadline
    stop_start = t0 + a.duration if a.duration > 0 else None
    nxt = active = ok = 0
    bytes_out = bytes_in = 0
    failures = []            # (conn, local port, reason)
    kinds = {}
    durations = []
    t_last = t0

    def fail(c, reason, kind):
        nonlocal active
        failures.append((c.i, c.port, reason))
        kinds[kind] = kinds.get(kind, 0) + 1
        unregister(sel, c.sock)
        c.sock.close()
        active -= 1

    stop = []  # SIGTERM/SIGINT: stop now, report what is unfinished
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stop.append("SIGINT"))

    while True:
        now = time.monotonic()
        if now >= deadline or stop:
            break
        # Start connections: bounded by count, concurrency, rate, duration.
        wait_rate = None
        while nxt < a.conns and active < a.concurrency:
            if stop_start is not None and now >= stop_start:
                break
            if a.connect_rate > 0:
                due = t0 + nxt / a.connect_rate
                if due > now:
                    wait_rate = due - now
                    break
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            c = Conn(nxt, s, Stream(a.seed, nxt), now)
            nxt += 1
            active += 1
            rc = s.connect_ex(addr)
            if rc not in (0, errno.EINPROGRESS):
                fail(c, "connect: %s" % errno.errorcode.get(rc, rc),
                     errno.errorcode.get(rc, str(rc)))
                continue
            sel.register(s, EV_W, c)
        if active == 0 and (nxt >= a.conns or
                            (stop_start is not None and now >= stop_start)):
            break
        timeout = min(deadline - now, 0.5)
        if wait_rate is not None:
            timeout = min(timeout, wait_rate)
        for key, mask in sel.select(max(timeout, 0.0)):
            c = key.data
            s = c.sock
            if c.state == CONNECTING:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    name = errno.errorcode.get(err, str(err))
                    fail(c, "connect: " + name, name)
                    continue
                c.state = OPEN
                c.port = s.getsockname()[1]
                if B == 0:
                    s.shutdown(socket.SHUT_WR)
                    sel.modify(s, EV_R, c)
                else:
                    sel.modify(s, EV_R | EV_W, c)
                continue
            if mask & EV_W and c.sent < B:
                try:
                    n = send_nb(s, c.st.view(c.sent, B - c.sent))
                except OSError as e:
                    fail(c, "send at %d: %s" % (c.sent, errname(e)), errname(e))
                    continue
                c.sent += n
                bytes_out += n
                if c.sent == B:
                    try:
                        s.shutdown(socket.SHUT_WR)
                    except OSError as e:
                        fail(c, "shutdown: %s" % errname(e), errname(e))
                        continue
                    sel.modify(s, EV_R, c)
            if mask & EV_R:
                try:
                    n = s.recv_into(buf)
                except BlockingIOError:
                    continue
                except OSError as e:
                    fail(c, "recv at %d (sent %d): %s" % (c.rcvd, c.sent, errname(e)),
                         errname(e))
                    continue
                if n == 0:
                    if c.rcvd == B:
                        ok += 1
                        t_last = time.monotonic()
                        durations.append(t_last - c.t0)
                        sel.unregister(s)
                        s.close()
                        active -= 1
                    else:
                        fail(c, "EOF after %d of %d bytes (sent %d)" % (c.rcvd, B, c.sent),
                             "early EOF")
                    continue
                if c.rcvd + n > c.sent:
                    fail(c, "received %d bytes but only %d were sent" % (c.rcvd + n, c.sent),
                         "extra bytes")
                    continue
                bad = c.st.check(c.rcvd, buf[:n])
                if bad is not None:
                    fail(c, "mismatch at offset %d" % bad, "mismatch")
                    continue
                c.rcvd += n
                bytes_in += n

    end = time.monotonic()
    for key in list(sel.get_map().values()):
        c = key.data
        what = "connecting" if c.state == CONNECTING else \
            "sent %d/%d, received %d/%d" % (c.sent, B, c.rcvd, B)
        kind = stop[0] if stop else "deadline"
        fail(c, kind + ": " + what, kind)
    not_started = 0 if stop_start is not None else a.conns - nxt
    if not_started:
        kinds["not started"] = not_started
    secs = (t_last if stop_start is not None else end) - t0
    durations.sort()

    def pct(p):
        return round(durations[min(len(durations) - 1, int(p * len(durations)))] * 1000, 3) \
            if durations else None

    res = {
        "tool": "tcp_echo_client", "host": a.host, "port": a.port,
        "conns": a.conns, "started": nxt, "ok": ok, "failed": len(failures),
        "not_started": not_started, "bytes": B,
        "bytes_out": bytes_out, "bytes_in": bytes_in,
        "seconds": round(secs, 3),
        "mb_per_s": round(mb(bytes_in, secs), 2),
        "conns_per_s": round(ok / secs, 1) if secs > 0 else 0.0,
        "conn_ms_p50": pct(0.50), "conn_ms_p99": pct(0.99),
        "failure_kinds": kinds,
        "failures": [{"conn": i, "port": p, "reason": r} for i, p, r in failures[:20]],
    }
    if stop:
        passed = False
    elif stop_start is not None:
        passed = not failures and ok > 0
    else:
        passed = ok == a.conns
    res["pass"] = passed
    if not a.quiet:
        for i, p, r in failures[:20]:
            print("conn %d (local port %d): %s" % (i, p, r))
        if len(failures) > 20:
            print("... %d more failures" % (len(failures) - 20))
    print("tcp_echo_client %s:%d: %d/%d conns ok, %d failed, %d not started; "
          "%d B each: %d bytes out, %d in; %.2f s, %.1f MB/s echoed, %.1f conn/s%s%s"
          % (a.host, a.port, ok, a.conns if stop_start is None else nxt,
             len(failures), not_started, B, bytes_out, bytes_in, secs,
             res["mb_per_s"], res["conns_per_s"],
             " " + json.dumps(kinds) if kinds else "",
             "" if passed else " FAIL"))
    return result(res, a.json, passed)


if __name__ == "__main__":
    sys.exit(run(parse()))

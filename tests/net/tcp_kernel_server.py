#!/usr/bin/env python3
"""A kernel TCP server for the TCP tests and the benchmark. One thread,
non-blocking sockets on a selector.

  --mode verify  accept --conns N connections (then stop listening); on each
                 send --bytes B bytes of the connection's deterministic
                 stream (tcpdata.Stream(seed, accept order)), read the echo
                 back comparing incrementally, then shutdown(SHUT_WR) and
                 wait for the peer's FIN. Exit 0 iff all N were verified
                 (B byte-exact bytes, nothing more, then FIN) before the
                 deadline. This is the far end of loomd's active open
                 ([test] connect), whose connections echo what they get.
  --mode echo    echo every byte on every connection; on the peer's FIN,
                 finish echoing, then close. Runs until the deadline, SIGTERM,
                 or --conns N connections completed (0: no limit); exit 0
                 unless --conns N was given and fewer completed in time.
                 --corrupt-every K flips a bit of every K-th echoed byte and
                 --reset-after B resets (RST) each connection after B bytes:
                 deliberately broken servers, to prove the checkers fail.
  --mode sink    read and discard; after the peer's FIN send the byte count
                 as 8 bytes (big-endian) and close. Same exit rule as echo.

--backlog N is listen()'s backlog (a small one makes the kernel answer a
SYN flood with SYN cookies: syn_flood.py is checked that way).
--ready-file PATH is created once the socket listens (tests wait for it).
Prints a summary line; with --json also a JSON object on the last line.
"""
import argparse
import selectors
import signal
import socket
import struct
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tcpdata import (CHUNK, EV_R, EV_W, Stream, errname, mb, raise_nofile,
                     result, send_nb, unregister, write_ready)


class Stop(Exception):
    pass


class Conn:
    __slots__ = ("i", "sock", "peer", "st", "sent", "rcvd", "shut", "eof",
                 "pending", "poff", "echoed")

    def __init__(self, i, sock, peer):
        self.i, self.sock, self.peer = i, sock, peer
        self.st = None
        self.sent = self.rcvd = self.echoed = self.poff = 0
        self.shut = self.eof = False
        self.pending = None


def parse():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=("verify", "echo", "sink"), required=True)
    ap.add_argument("--conns", type=int, default=0)
    ap.add_argument("--bytes", type=int, default=1048576)
    ap.add_argument("--deadline", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--corrupt-every", type=int, default=0)
    ap.add_argument("--reset-after", type=int, default=0)
    ap.add_argument("--backlog", type=int, default=4096,
                    help="listen() backlog (small: the kernel's SYN cookies)")
    ap.add_argument("--ready-file", default="")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.mode == "verify" and a.conns < 1:
        ap.error("--mode verify needs --conns N >= 1")
    if a.conns < 0 or a.bytes < 0 or a.deadline <= 0:
        ap.error("--conns >= 0, --bytes >= 0, --deadline > 0")
    return a


def corrupt(mv, start, n, k):
    """Flip the low bit of every byte whose connection offset is k-1 mod k."""
    first = (k - 1 - start % k) % k
    for p in range(first, n, k):
        mv[p] ^= 1


def run(a):
    raise_nofile(max(a.conns, 1024) + 16)
    sel = selectors.DefaultSelector()
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.bind, a.port))
    ls.listen(a.backlog)
    ls.setblocking(False)
    sel.register(ls, EV_R, None)
    listening = True
    write_ready(a.ready_file)

    def on_term(_sig, _frm):
        raise Stop()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    B = a.bytes
    buf = bytearray(CHUNK)
    bmv = memoryview(buf)
    t0 = time.monotonic()
    t_first = t_last = None
    deadline = t0 + a.deadline
    accepted = done = 0
    bytes_in = bytes_out = 0
    failures = []
    kinds = {}
    stopped = "deadline"

    def finish(c, reason=None, kind=None, rst=False):
        nonlocal done, t_last
        if reason is None:
            done += 1
            t_last = time.monotonic()
        else:
            failures.append((c.i, c.peer, reason))
            kinds[kind] = kinds.get(kind, 0) + 1
        unregister(sel, c.sock)
        if rst:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
        c.sock.close()

    def echo_flush(c):
        """Send pending echo bytes; True when nothing is left."""
        nonlocal bytes_out
        while c.pending is not None:
            try:
                n = c.sock.send(memoryview(c.pending)[c.poff:])
            except BlockingIOError:
                return False
            c.poff += n
            bytes_out += n
            if c.poff == len(c.pending):
                c.pending, c.poff = None, 0
        return True

    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if a.conns and done + len(failures) >= a.conns and \
                    (a.mode != "verify" or not listening):
                stopped = "conns"
                break
            for key, mask in sel.select(min(deadline - now, 0.5)):
                c = key.data
                if c is None:  # the listener
                    while listening:
                        try:
                            s, peer = ls.accept()
                        except BlockingIOError:
                            break
                        s.setblocking(False)
                        c = Conn(accepted, s, "%s:%d" % peer)
                        accepted += 1
                        if t_first is None:
                            t_first = time.monotonic()
                        if a.mode == "verify":
                            c.st = Stream(a.seed, c.i)
                            sel.register(s, EV_R | EV_W if B else EV_R, c)
                            if B == 0:
                                s.shutdown(socket.SHUT_WR)
                                c.shut = True
                        else:
                            sel.register(s, EV_R, c)
                        if a.mode == "verify" and accepted == a.conns:
                            sel.unregister(ls)
                            ls.close()
                            listening = False
                    continue
                s = c.sock
                try:
                    if a.mode == "verify":
                        if mask & EV_W and c.sent < B:
                            n = s.send(c.st.view(c.sent, B - c.sent))
                            c.sent += n
                            bytes_out += n
                            if c.sent == B:
                                sel.modify(s, EV_R, c)
                        if not mask & EV_R:
                            continue
                        n = s.recv_into(buf)
                        if n == 0:
                            if c.rcvd == B:
                                finish(c)
                            else:
                                finish(c, "EOF after %d of %d bytes (sent %d)"
                                       % (c.rcvd, B, c.sent), "early EOF")
                            continue
                        if c.rcvd + n > c.sent:
                            finish(c, "received %d bytes, only %d sent"
                                   % (c.rcvd + n, c.sent), "extra bytes")
                            continue
                        bad = c.st.check(c.rcvd, buf[:n])
                        if bad is not None:
                            finish(c, "mismatch at offset %d" % bad, "mismatch")
                            continue
                        c.rcvd += n
                        bytes_in += n
                        if c.rcvd == B and not c.shut:
                            s.shutdown(socket.SHUT_WR)
                            c.shut = True
                    elif a.mode == "echo":
                        if mask & EV_W:
                            if not echo_flush(c):
                                continue
                            if c.eof:
                                s.shutdown(socket.SHUT_WR)
                                finish(c)
                                continue
                            sel.modify(s, EV_R, c)
                            continue
                        n = s.recv_into(buf)
                        if n == 0:
                            c.eof = True
                            s.shutdown(socket.SHUT_WR)
                            finish(c)
                            continue
                        bytes_in += n
                        if a.corrupt_every:
                            corrupt(bmv, c.echoed, n, a.corrupt_every)
                        c.echoed += n
                        if a.reset_after and c.echoed >= a.reset_after:
                            finish(c, "reset after %d bytes (--reset-after)"
                                   % c.echoed, "reset on purpose", rst=True)
                            continue
                        m = send_nb(s, bmv[:n])
                        bytes_out += m
                        if m < n:
                            c.pending, c.poff = bytearray(bmv[m:n]), 0
                            sel.modify(s, EV_W, c)
                            # read the FIN (if any) once the echo drains
                    else:  # sink
                        if mask & EV_W:
                            if echo_flush(c):
                                s.shutdown(socket.SHUT_WR)
                                finish(c)
                            continue
                        n = s.recv_into(buf)
                        if n:
                            c.rcvd += n
                            bytes_in += n
                            continue
                        c.pending, c.poff = bytearray(struct.pack("!Q", c.rcvd)), 0
                        if echo_flush(c):
                            s.shutdown(socket.SHUT_WR)
                            finish(c)
                        else:
                            sel.modify(s, EV_W, c)
                except BlockingIOError:
                    continue
                except OSError as e:
                    finish(c, "%s (sent %d, received %d)"
                           % (errname(e), c.sent or c.echoed, c.rcvd or c.echoed),
                           errname(e))
    except Stop:
        stopped = "signal"

    open_conns = [k.data for k in sel.get_map().values() if k.data is not None]
    for c in open_conns:
        if a.mode == "verify":
            finish(c, "deadline: sent %d/%d, received %d/%d"
                   % (c.sent, B, c.rcvd, B), "deadline")
        else:
            c.sock.close()
    secs = (t_last or time.monotonic()) - (t_first or t0)
    if a.mode == "verify":
        passed = done == a.conns
    else:
        passed = not a.conns or done >= a.conns
    res = {"tool": "tcp_kernel_server", "mode": a.mode, "bind": a.bind,
           "port": a.port, "conns": a.conns, "accepted": accepted,
           "completed": done, "failed": len(failures),
           "open_at_end": len(open_conns) if a.mode != "verify" else 0,
           "bytes_in": bytes_in, "bytes_out": bytes_out,
           "seconds": round(secs, 3), "mb_per_s": round(mb(bytes_in, secs), 2),
           "stopped": stopped, "failure_kinds": kinds,
           "failures": [{"conn": i, "peer": p, "reason": r}
                        for i, p, r in failures[:20]],
           "pass": passed}
    for i, p, r in failures[:20]:
        print("conn %d from %s: %s" % (i, p, r))
    print("tcp_kernel_server %s %s:%d: %d accepted, %d completed%s, %d failed; "
          "%d bytes in, %d out; %.2f s, %.1f MB/s; stopped by %s%s"
          % (a.mode, a.bind, a.port, accepted, done,
             " (of %d)" % a.conns if a.conns else "", len(failures),
             bytes_in, bytes_out, secs, res["mb_per_s"], stopped,
             "" if passed else " FAIL"))
    return result(res, a.json, passed)


if __name__ == "__main__":
    sys.exit(run(parse()))

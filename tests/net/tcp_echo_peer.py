#!/usr/bin/env python3
"""The kernel stand-in for loomd's test-only active open ([test] connect):
open --conns N connections to HOST:PORT, echo every byte the server sends,
and close each once the server's FIN has arrived and everything is echoed.
Lets selftest_tools.sh check tcp_kernel_server.py --mode verify without
loomd. --corrupt-every K flips a bit of every K-th echoed byte (to prove
the verifier fails). Exit 0 iff all N connections ended that way before
--deadline.
"""
import errno
import selectors
import socket
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tcpdata import (CHUNK, EV_R, EV_W, errname, host_port_args, raise_nofile,
                     send_nb)


def main():
    ap = host_port_args(description=__doc__)
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--deadline", type=float, default=60.0)
    ap.add_argument("--corrupt-every", type=int, default=0)
    a = ap.parse_args()
    raise_nofile(a.conns + 16)
    sel = selectors.DefaultSelector()
    buf = bytearray(CHUNK)
    bmv = memoryview(buf)
    # per connection: [sock, connected, pending bytearray or None, offset, echoed]
    for i in range(a.conns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((a.host, a.port))
        if rc not in (0, errno.EINPROGRESS):
            print("conn %d: connect: %s" % (i, errno.errorcode.get(rc, rc)))
            return 1
        sel.register(s, EV_W, [i, False, None, 0, 0])
    ok = bad = 0
    end = time.monotonic() + a.deadline
    while sel.get_map() and time.monotonic() < end:
        for key, mask in sel.select(min(0.5, max(0.0, end - time.monotonic()))):
            s, st = key.fileobj, key.data
            try:
                if not st[1]:
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        raise OSError(err, "connect")
                    st[1] = True
                    sel.modify(s, EV_R, st)
                    continue
                if mask & EV_W:
                    n = s.send(memoryview(st[2])[st[3]:])
                    st[3] += n
                    if st[3] == len(st[2]):
                        st[2] = None
                        sel.modify(s, EV_R, st)
                    continue
                n = s.recv_into(buf)
                if n == 0:
                    sel.unregister(s)
                    s.close()
                    ok += 1
                    continue
                if a.corrupt_every:
                    k = a.corrupt_every
                    for p in range((k - 1 - st[4] % k) % k, n, k):
                        bmv[p] ^= 1
                st[4] += n
                m = send_nb(s, bmv[:n])
                if m < n:
                    st[2], st[3] = bytearray(bmv[m:n]), 0
                    sel.modify(s, EV_W, st)
            except BlockingIOError:
                continue
            except OSError as e:
                print("conn %d: %s after echoing %d bytes" % (st[0], errname(e), st[4]))
                sel.unregister(s)
                s.close()
                bad += 1
    left = len(sel.get_map())
    print("tcp_echo_peer %s:%d: %d/%d conns closed after the server's FIN, "
          "%d failed, %d unfinished" % (a.host, a.port, ok, a.conns, bad, left))
    return 0 if ok == a.conns else 1


if __name__ == "__main__":
    sys.exit(main())

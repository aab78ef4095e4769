"""Shared pieces of the TCP test tools (tcp_echo_client.py, tcp_bulk.py,
tcp_kernel_server.py, tcp_echo_peer.py, fake_loomd.py, syn_flood.py) and
send_frames.py: the deterministic per-connection data streams, mismatch
reporting, and small helpers (non-blocking socket chores, the common
command line and result printing, the Internet checksum). Standard library
only. The tools run as scripts from this directory and import it after
setting sys.dont_write_bytecode (no __pycache__ in the source tree).

Data streams. Connection i of seed K carries the byte sequence
    stream(K, i)[o] = BASE_K[(o + shift(K, i)) mod PERIOD]
where BASE_K is PERIOD pseudo-random bytes from random.Random(K) and PERIOD
is a prime (1048573), so:
  - generating is free after one 1 MiB randbytes() per seed, and a chunk to
    send is a zero-copy memoryview slice of BASE_K extended by CHUNK bytes;
  - the period is not a power of two: a ring-buffer bug that hands back
    bytes from 2^k earlier (a 64 KiB receive ring wrapping, say) never
    reproduces the expected bytes;
  - shift(K, i) = (K * 7919 + i * 104729) mod PERIOD differs for every i
    below PERIOD, so data delivered on the wrong connection does not match.
"""
import argparse
import json
import os
import random
import resource
import selectors
import struct
import sys

PERIOD = 1048573          # prime, about 1 MiB
CHUNK = 256 * 1024        # largest single send/recv/compare
_BASES = {}
EV_R, EV_W = selectors.EVENT_READ, selectors.EVENT_WRITE


def base(seed):
    """BASE_K followed by its first CHUNK bytes again (so every slice of up
    to CHUNK bytes from any start below PERIOD is contiguous)."""
    b = _BASES.get(seed)
    if b is None:
        raw = random.Random(seed).randbytes(PERIOD)
        b = raw + raw[:CHUNK]
        _BASES[seed] = b
    return b


class Stream:
    """The byte stream of one connection; view() for sending (zero-copy),
    expected() for comparing (a bytes slice: compares at memcmp speed)."""
    __slots__ = ("b", "mv", "shift")

    def __init__(self, seed, conn):
        self.b = base(seed)
        self.mv = memoryview(self.b)
        self.shift = (seed * 7919 + conn * 104729) % PERIOD

    def view(self, off, n):
        s = (off + self.shift) % PERIOD
        return self.mv[s:s + min(n, CHUNK)]

    def expected(self, off, n):
        s = (off + self.shift) % PERIOD
        return self.b[s:s + min(n, CHUNK)]

    def check(self, off, data):
        """None if data (at most CHUNK bytes) is the stream at off, else the
        stream offset of its first wrong byte."""
        exp = self.expected(off, len(data))
        if data == exp:
            return None
        for k in range(len(exp)):
            if data[k] != exp[k]:
                return off + k
        return off + len(exp)


def raise_nofile(need):
    """Raise the soft RLIMIT_NOFILE to fit `need` descriptors (or the hard
    limit); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need + 64
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    return soft


def mb(nbytes, secs):
    return nbytes / secs / 1e6 if secs > 0 else 0.0


def errname(e):
    """'ECONNRESET' for an OSError, else the exception's text."""
    if isinstance(e, OSError) and e.errno is not None:
        import errno
        return errno.errorcode.get(e.errno, str(e.errno))
    return str(e)


def write_ready(path):
    """Create `path` atomically (the listening socket is up)."""
    if not path:
        return
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % os.getpid())
    os.replace(tmp, path)


def log(*a):
    print(*a, flush=True)
    sys.stdout.flush()


def host_port_args(**kw):
    """An ArgumentParser (keyword arguments passed on) with the required
    --host and --port of the server to connect to."""
    ap = argparse.ArgumentParser(**kw)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    return ap


def send_nb(sock, data):
    """sock.send(data) on a non-blocking socket: the bytes sent, 0 when it
    would block. Other OSErrors propagate."""
    try:
        return sock.send(data)
    except BlockingIOError:
        return 0


def unregister(sel, sock):
    """sel.unregister(sock), if it is registered."""
    try:
        sel.unregister(sock)
    except (KeyError, ValueError):
        pass


def result(res, as_json, passed):
    """Print res as JSON on the last line if as_json; the exit status."""
    if as_json:
        print(json.dumps(res))
    sys.stdout.flush()
    return 0 if passed else 1


def csum(data):
    """The Internet checksum (RFC 1071) of data, ready to store."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

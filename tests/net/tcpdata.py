"""Shared pieces of the TCP test tools (tcp_echo_client.py, tcp_bulk.py,
tcp_kernel_server.py, tcp_echo_peer.py): the deterministic per-connection
data streams, mismatch reporting, and small helpers. Standard library only.

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
import os
import random
import resource
import sys

PERIOD = 1048573          # prime, about 1 MiB
CHUNK = 256 * 1024        # largest single send/recv/compare
_BASES = {}


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

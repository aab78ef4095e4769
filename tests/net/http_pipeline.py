#!/usr/bin/env python3
"""HTTP/1.1 framing checks against loomd's REST API, with Python's
http.client reading the responses (an independent parser: not the one in
http_load.py).

  1. pipelining: K POSTs written back-to-back on one socket, then K
     responses read in order (http.client.HTTPResponse on the same socket);
     then one pipeline mixing, per i: POST of a new id, GET of the i-th id
     of the first batch, every 5th a GET of the id just POSTed in this same
     pipeline (the server answers a GET only after the writes before it),
     every 10th a GET of an absent id (404). Every response is matched to
     its request by status and id, which checks the order. Last, a short
     pipeline whose final request says "Connection: close": the server
     answers everything and then closes.
  2. a chunked POST written by hand (chunks of 1, 7, 100 bytes and the
     rest; upper-case hex, a chunk extension, a trailer field on a second
     one), each in its own send(); 201, and a GET on the same connection
     returns the object.
  3. Expect: 100-continue by hand: the head alone, then "HTTP/1.1 100
     Continue" must arrive before the body is sent; then 201 and the object
     reads back. And with a Content-Length over max_body the answer is 413
     without a 100 (the body is never sent).

  --count K (default 50), --table T, --auth USER:PASS, --timeout S (each
  read), --deadline S (the whole run). Prints one line per failed check and
  a JSON summary (last line); exit 0 iff every check passed.
"""
import argparse
import base64
import http.client
import json
import os
import signal
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree


class NoClose:
    """The shared buffered reader of a socket, which HTTPResponse may not
    close (it closes its fp after each complete body)."""

    def __init__(self, f):
        self._f = f

    def __getattr__(self, name):
        return getattr(self._f, name)

    def close(self):
        pass


class SockLike:
    """What HTTPResponse wants from a socket: makefile(). Every response of
    a connection reads from one buffered reader, so bytes read ahead for the
    next response are not lost."""

    def __init__(self, rfile):
        self.rfile = NoClose(rfile)

    def makefile(self, *a, **k):
        return self.rfile


class Checks:
    def __init__(self):
        self.n = 0
        self.failed = []

    def ok(self, cond, what):
        self.n += 1
        if not cond:
            self.failed.append(what)
            print("FAILED: " + what, flush=True)
        return cond


def parse():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=9926)
    ap.add_argument("--table", default="pipe")
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--auth", default="", metavar="USER:PASS")
    ap.add_argument("--timeout", type=float, default=15.0)
    ap.add_argument("--deadline", type=float, default=120.0)
    ap.add_argument("--max-body", type=int, default=65536)
    a = ap.parse_args()
    if a.count < 10 or a.deadline <= 0 or a.timeout <= 0:
        ap.error("--count >= 10, --deadline > 0, --timeout > 0")
    return a


class Client:
    def __init__(self, a):
        self.a = a
        self.hdrs = "Host: %s:%d\r\n" % (a.host, a.port)
        if a.auth:
            self.hdrs += "Authorization: Basic %s\r\n" % \
                base64.b64encode(a.auth.encode()).decode()

    def connect(self):
        s = socket.create_connection((self.a.host, self.a.port), timeout=self.a.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s, s.makefile("rb")

    def post(self, table, obj, extra=""):
        body = json.dumps(obj, separators=(",", ":")).encode()
        return ("POST /%s/ HTTP/1.1\r\n%sContent-Type: application/json\r\n"
                "Content-Length: %d\r\n%s\r\n" % (table, self.hdrs, len(body), extra)
                ).encode() + body

    def get(self, table, rid, extra=""):
        return ("GET /%s/%s HTTP/1.1\r\n%s%s\r\n" % (table, rid, self.hdrs, extra)).encode()


def read_resp(rfile, method):
    """(status, headers message, body) of the next response on rfile."""
    r = http.client.HTTPResponse(SockLike(rfile), method=method)
    r.begin()
    body = r.read()
    return r.status, r.msg, body


def send_all_bg(sock, data):
    """Write data from a thread, so that the reader drains responses while
    a large pipeline is still being written (no deadlock on full
    buffers). The requests still go out back-to-back."""
    err = []

    def run():
        try:
            sock.sendall(data)
        except OSError as e:
            err.append(e)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, err


def json_body(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


def check_pipeline(a, cl, ck, run):
    T = a.table
    K = a.count
    ida = ["pa-%s-%d" % (run, i) for i in range(K)]
    idb = ["pb-%s-%d" % (run, i) for i in range(K)]

    # Batch 1: K POSTs back-to-back.
    s, rf = cl.connect()
    reqs = [cl.post(T, {"id": ida[i], "n": i, "batch": "a"}) for i in range(K)]
    t, err = send_all_bg(s, b"".join(reqs))
    got = 0
    for i in range(K):
        try:
            st, h, body = read_resp(rf, "POST")
        except (OSError, http.client.HTTPException) as e:
            ck.ok(False, "pipeline 1: response %d of %d: %r" % (i, K, e))
            break
        got += 1
        ck.ok(st == 201 and json_body(body) == ida[i] and
              h.get("Location") == "/%s/%s" % (T, ida[i]),
              "pipeline 1: response %d: want 201 for %s, got %d %r Location %r"
              % (i, ida[i], st, body[:100], h.get("Location")))
    t.join(a.timeout)
    ck.ok(not err, "pipeline 1: write failed: %r" % err)
    print("pipeline 1: %d POSTs written back-to-back, %d responses in order" % (K, got))

    # Batch 2: POSTs and GETs mixed, on the same connection.
    plan = []  # (method, request bytes, check(status, headers, body) -> str|None)
    for i in range(K):
        plan.append(("POST", cl.post(T, {"id": idb[i], "n": i, "batch": "b"}),
                     ("post", idb[i], i)))
        plan.append(("GET", cl.get(T, ida[i]), ("get", ida[i], i, "a")))
        if i % 5 == 0:
            plan.append(("GET", cl.get(T, idb[i]), ("get", idb[i], i, "b")))
        if i % 10 == 0:
            plan.append(("GET", cl.get(T, "absent-%s-%d" % (run, i)), ("absent",)))
    t, err = send_all_bg(s, b"".join(p[1] for p in plan))
    got = 0
    for j, (method, _, want) in enumerate(plan):
        try:
            st, h, body = read_resp(rf, method)
        except (OSError, http.client.HTTPException) as e:
            ck.ok(False, "pipeline 2: response %d of %d: %r" % (j, len(plan), e))
            break
        got += 1
        if want[0] == "post":
            ck.ok(st == 201 and json_body(body) == want[1],
                  "pipeline 2: response %d (POST %s): got %d %r" % (j, want[1], st, body[:100]))
        elif want[0] == "get":
            obj = json_body(body)
            ck.ok(st == 200 and isinstance(obj, dict) and obj.get("id") == want[1]
                  and obj.get("n") == want[2] and obj.get("batch") == want[3],
                  "pipeline 2: response %d (GET %s): got %d %r" % (j, want[1], st, body[:100]))
        else:
            ck.ok(st == 404, "pipeline 2: response %d (GET absent): got %d %r"
                  % (j, st, body[:100]))
    t.join(a.timeout)
    ck.ok(not err, "pipeline 2: write failed: %r" % err)
    print("pipeline 2: %d requests (POST/GET/404 mixed) back-to-back, %d responses in order"
          % (len(plan), got))

    # Batch 3: the last request asks the server to close.
    n3 = 5
    data = b"".join(cl.get(T, ida[i]) for i in range(n3 - 1)) + \
        cl.get(T, ida[n3 - 1], "Connection: close\r\n")
    s.sendall(data)
    got = 0
    for i in range(n3):
        try:
            st, h, body = read_resp(rf, "GET")
        except (OSError, http.client.HTTPException) as e:
            ck.ok(False, "pipeline 3: response %d of %d: %r" % (i, n3, e))
            break
        got += 1
        obj = json_body(body)
        ck.ok(st == 200 and isinstance(obj, dict) and obj.get("id") == ida[i],
              "pipeline 3: response %d: got %d %r" % (i, st, body[:100]))
        if i == n3 - 1:
            ck.ok((h.get("Connection") or "").lower() == "close",
                  "pipeline 3: last response lacks Connection: close")
    if got == n3:
        try:
            rest = rf.read(1)
        except OSError as e:
            rest = repr(e).encode()
        ck.ok(rest == b"", "pipeline 3: the server did not close after Connection: close "
              "(read %r)" % rest[:50])
    print("pipeline 3: %d GETs, the last with Connection: close: %d responses, then EOF"
          % (n3, got))
    rf.close()
    s.close()


def check_chunked(a, cl, ck, run):
    T = a.table
    s, rf = cl.connect()
    rid = "pc-%s" % run
    obj = {"id": rid, "kind": "chunked", "text": "c" * 900, "n": [1, 2, 3]}
    body = json.dumps(obj, separators=(",", ":")).encode()
    head = ("POST /%s/ HTTP/1.1\r\n%sContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" % (T, cl.hdrs)).encode()
    pieces = [body[:1], body[1:8], body[8:108], body[108:]]
    s.sendall(head)
    for k, p in enumerate(pieces):
        ext = ";ext=%d" % k if k == 1 else ""
        s.sendall(b"%X%s\r\n" % (len(p), ext.encode()) + p + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    try:
        st, h, rb = read_resp(rf, "POST")
        ck.ok(st == 201 and json_body(rb) == rid,
              "chunked POST: got %d %r" % (st, rb[:100]))
        s.sendall(cl.get(T, rid))
        st, h, rb = read_resp(rf, "GET")
        ck.ok(st == 200 and json_body(rb) == obj,
              "chunked POST read back: got %d %r" % (st, rb[:100]))
        # a second chunked POST on the same connection, with a trailer
        rid2 = rid + "-2"
        b2 = json.dumps({"id": rid2, "kind": "chunked-trailer"}).encode()
        s.sendall(("POST /%s/ HTTP/1.1\r\n%sContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n" % (T, cl.hdrs)).encode()
                  + b"%x\r\n" % len(b2) + b2 + b"\r\n0\r\nX-Trailer: yes\r\n\r\n")
        st, h, rb = read_resp(rf, "POST")
        ck.ok(st == 201 and json_body(rb) == rid2,
              "chunked POST with a trailer: got %d %r" % (st, rb[:100]))
        s.sendall(cl.get(T, rid2))
        st, h, rb = read_resp(rf, "GET")
        o2 = json_body(rb)
        ck.ok(st == 200 and isinstance(o2, dict) and o2.get("kind") == "chunked-trailer",
              "chunked POST with a trailer read back: got %d %r" % (st, rb[:100]))
    except (OSError, http.client.HTTPException) as e:
        ck.ok(False, "chunked POST: %r" % e)
    print("chunked: 2 POSTs (4 chunks with an extension; a trailer) and read back")
    rf.close()
    s.close()


def read_head(s, timeout):
    """Bytes up to and including the first CRLF CRLF, by hand (so nothing
    after it is consumed); b'' on EOF."""
    s.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(1)
        if not d:
            return buf
        buf += d
        if len(buf) > 65536:
            break
    return buf


def check_expect(a, cl, ck, run):
    T = a.table
    rid = "pe-%s" % run
    obj = {"id": rid, "kind": "expect", "text": "e" * 2000}
    body = json.dumps(obj, separators=(",", ":")).encode()
    s, rf = cl.connect()
    s.sendall(("POST /%s/ HTTP/1.1\r\n%sContent-Type: application/json\r\n"
               "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
               % (T, cl.hdrs, len(body))).encode())
    try:
        interim = read_head(s, a.timeout)
        first = interim.split(b"\r\n", 1)[0]
        if ck.ok(first.startswith(b"HTTP/1.1 100"),
                 "Expect: 100-continue: first answer %r, want HTTP/1.1 100 Continue"
                 % interim[:100]):
            s.sendall(body)
            s.settimeout(a.timeout)
            st, h, rb = read_resp(rf, "POST")
            ck.ok(st == 201 and json_body(rb) == rid,
                  "Expect: 100-continue POST: got %d %r" % (st, rb[:100]))
            s.sendall(cl.get(T, rid))
            st, h, rb = read_resp(rf, "GET")
            ck.ok(st == 200 and json_body(rb) == obj,
                  "Expect: 100-continue read back: got %d %r" % (st, rb[:100]))
    except (OSError, http.client.HTTPException) as e:
        ck.ok(False, "Expect: 100-continue: %r" % e)
    rf.close()
    s.close()

    # Over max_body: refused at once, no invitation to send the body.
    s, rf = cl.connect()
    s.sendall(("POST /%s/ HTTP/1.1\r\n%sContent-Type: application/json\r\n"
               "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
               % (T, cl.hdrs, a.max_body + 1000)).encode())
    try:
        st, h, rb = read_resp(rf, "POST")  # would skip a 100: see below
        ck.ok(st == 413, "Expect with a body over max_body: got %d %r, want 413"
              % (st, rb[:100]))
    except (OSError, http.client.HTTPException) as e:
        ck.ok(False, "Expect with a body over max_body: %r" % e)
    rf.close()
    s.close()
    # And by hand, that the first thing on the wire is not a 100.
    s, rf = cl.connect()
    s.sendall(("POST /%s/ HTTP/1.1\r\n%sContent-Type: application/json\r\n"
               "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
               % (T, cl.hdrs, a.max_body + 1000)).encode())
    try:
        first = read_head(s, a.timeout).split(b"\r\n", 1)[0]
        ck.ok(first.startswith(b"HTTP/1.1 413"),
              "Expect with a body over max_body: first answer %r, want 413 (no 100)" % first)
    except OSError as e:
        ck.ok(False, "Expect with a body over max_body (raw): %r" % e)
    rf.close()
    s.close()
    print("expect: 100 Continue before the body, 201, read back; 413 without 100 over max_body")


def main():
    a = parse()

    def on_alarm(*_):
        print("FAILED: deadline of %.0f s" % a.deadline, flush=True)
        print(json.dumps({"tool": "http_pipeline", "pass": False, "error": "deadline"}))
        os._exit(1)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, a.deadline)
    run = os.urandom(4).hex()
    ck = Checks()
    cl = Client(a)
    t0 = time.monotonic()
    for name, fn in (("pipeline", check_pipeline), ("chunked", check_chunked),
                     ("expect", check_expect)):
        try:
            fn(a, cl, ck, run)
        except (OSError, http.client.HTTPException) as e:
            ck.ok(False, "%s: %r" % (name, e))
    signal.setitimer(signal.ITIMER_REAL, 0)
    res = {"tool": "http_pipeline", "host": a.host, "port": a.port, "count": a.count,
           "checks": ck.n, "failed": len(ck.failed),
           "seconds": round(time.monotonic() - t0, 3), "pass": not ck.failed}
    print(json.dumps(res))
    return 0 if not ck.failed else 1


if __name__ == "__main__":
    sys.exit(main())

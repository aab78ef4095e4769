#!/usr/bin/env python3
"""Abuse loomd's REST API with malformed and hostile requests while a
well-behaved client keeps working.

--count N cases (default 10,000), each on its own short connection, drawn
round-robin in a seeded shuffled order from the table below, run by
--concurrency threads. Each case sends its bytes, reads the response and
compares the status with its expected set. Every error response must also
be JSON {"error": "..."} with Content-Type application/json, and a 401 must
carry WWW-Authenticate: Basic realm="loom". For "garbage" a close without
an answer is accepted as well.

  bad methods       405 on known routes (PATCH, OPTIONS on a record; POST
                    /health; DELETE /metrics; PUT on a table); 400 or 501
                    for a method that is not a token
  head limits       431 for a header block over --max-header-bytes, and for
                    --many-headers fields; 414 or 431 for a request line
                    over the limit
  framing           400 bad chunk sizes and chunk framing (400 or 413 for a
                    size that overflows 64 bits); 413 a Content-Length or a
                    chunk over --max-body; 411 POST/PUT without a length;
                    400 duplicate Content-Length, CL with Transfer-Encoding,
                    a bare LF, SP before a colon, no Host; 501 an unknown
                    Transfer-Encoding; 505 HTTP/2.0 and HTTP/1.2, 400
                    HTTP/x.1
  content           415 a Content-Type other than application/json (or
                    none); 400 bad JSON, a body that is not an object, an
                    "id" that is not a string, invalid UTF-8
  routes            404 an absent record or unknown path; 400 or 404 a bad
                    table name
  keep-alive        a 404 and a 405 do not end a connection: the next
                    request on it is answered (200)
  garbage           seeded random bytes whose first byte is not a token
                    character: 400 or a close
  credentials       with --auth-on: 401 without credentials, with a wrong
                    password, an unknown user, another scheme, a token that
                    is not base64 (400 accepted there too)

With --auth USER:PASS every other case carries the right credentials, so
its status does not depend on where the server checks them.

Slowloris: --slowloris K connections (default 8) start with the cases and
send a partial head, then one byte every 250 ms; half keep dribbling, half
stop after half of --header-timeout-ms. Each must be answered 408 or closed
within --header-timeout-ms + --slow-margin seconds of its first byte.

Meanwhile a good client on one keep-alive connection POSTs a record and
GETs it back, over and over, until the cases are done: only 201 and 200
(with the right id) are allowed, and it must complete at least
--good-min round trips.

Prints mismatches (a few per case), then one JSON summary line (last line).
Exit 0 iff every case matched, every slowloris connection ended in time,
and the good client never failed. Bounded: --timeout per response,
--deadline for the run.
"""
import argparse
import base64
import collections
import json
import os
import random
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

TCHAR = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def parse():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=9926)
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--table", default="abuse")
    ap.add_argument("--auth", default="", metavar="USER:PASS",
                    help="the right credentials, sent with every other case")
    ap.add_argument("--auth-on", action="store_true",
                    help="the server requires credentials: add the 401 cases")
    ap.add_argument("--header-timeout-ms", type=int, default=10000)
    ap.add_argument("--slow-margin", type=float, default=3.0)
    ap.add_argument("--slowloris", type=int, default=8)
    ap.add_argument("--max-body", type=int, default=65536)
    ap.add_argument("--max-header-bytes", type=int, default=8192)
    ap.add_argument("--many-headers", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--deadline", type=float, default=600.0)
    ap.add_argument("--good-min", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.count < 0 or a.concurrency < 1 or a.deadline <= 0 or a.slowloris < 0:
        ap.error("--count >= 0, --concurrency >= 1, --deadline > 0, --slowloris >= 0")
    if a.auth_on and ":" not in a.auth:
        ap.error("--auth-on needs --auth USER:PASS (the right credentials)")
    return a


# --- responses ----------------------------------------------------------------

class Resp:
    __slots__ = ("status", "headers", "body", "outcome")

    def __init__(self, outcome, status=None, headers=None, body=b""):
        self.outcome = outcome  # "response", "closed", "reset", "timeout", ...
        self.status, self.headers, self.body = status, headers or {}, body


def read_response(s, buf, timeout):
    """Read one response from blocking socket s; buf is a bytearray of bytes
    already received (the rest stays there for the next response)."""
    s.settimeout(timeout)

    def more():
        try:
            d = s.recv(65536)
        except socket.timeout:
            return "timeout"
        except ConnectionResetError:
            return "reset"
        except OSError as e:
            return "error %s" % e
        if not d:
            return "closed"
        buf.extend(d)
        return None

    while True:
        he = buf.find(b"\r\n\r\n")
        if he >= 0:
            head = bytes(buf[:he]).decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ", 2)
            try:
                status = int(parts[1])
            except (IndexError, ValueError):
                return Resp("bad status line %r" % lines[0][:60])
            hdrs = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                hdrs[k.strip().lower()] = v.strip()
            if 100 <= status < 200:
                del buf[:he + 4]
                continue
            cl = hdrs.get("content-length")
            if cl is None:
                n = 0 if status in (204, 304) else None
            else:
                try:
                    n = int(cl)
                except ValueError:
                    return Resp("bad Content-Length %r" % cl)
            if n is None:  # to the end of the connection
                while True:
                    why = more()
                    if why:
                        break
                body = bytes(buf[he + 4:])
                del buf[:]
                return Resp("response", status, hdrs, body)
            while len(buf) < he + 4 + n:
                why = more()
                if why:
                    return Resp("%s inside a %d response" % (why, status), status, hdrs)
            body = bytes(buf[he + 4:he + 4 + n])
            del buf[:he + 4 + n]
            return Resp("response", status, hdrs, body)
        if len(buf) > 65536:
            return Resp("response head over 64 KiB")
        why = more()
        if why:
            if buf:
                return Resp("%s inside a response head" % why)
            return Resp(why)


def error_body_ok(r):
    """None if r (an error) is JSON {"error": "..."}, else what is wrong."""
    ct = r.headers.get("content-type", "")
    if not ct.lower().startswith("application/json"):
        return "error Content-Type %r" % ct
    try:
        obj = json.loads(r.body)
    except ValueError:
        return "error body not JSON: %r" % r.body[:80]
    if not isinstance(obj, dict) or not isinstance(obj.get("error"), str):
        return "error body not {\"error\": \"...\"}: %r" % r.body[:80]
    return None


# --- the cases ----------------------------------------------------------------

class Case:
    __slots__ = ("name", "steps", "close_ok")

    def __init__(self, name, steps, close_ok=False):
        # steps: [(bytes to send, set of acceptable statuses)]
        self.name, self.steps, self.close_ok = name, steps, close_ok


def build_cases(a, rng):
    T = a.table
    auth = ""
    if a.auth:
        auth = "Authorization: Basic %s\r\n" % base64.b64encode(a.auth.encode()).decode()
    host = "Host: %s:%d\r\n" % (a.host, a.port)
    H = host + auth
    J = "Content-Type: application/json\r\n"

    def req(line, hdrs="", body=b"", host_hdrs=None):
        h = H if host_hdrs is None else host_hdrs
        return (line + "\r\n" + h + hdrs + "\r\n").encode("latin-1") + body

    def post(body, hdrs=J, path="/%s/" % T):
        return req("POST %s HTTP/1.1" % path, hdrs + "Content-Length: %d\r\n" % len(body), body)

    def chunked(data):
        return req("POST /%s/ HTTP/1.1" % T, J + "Transfer-Encoding: chunked\r\n", data)

    C = []

    def add(name, data, expect, close_ok=False):
        C.append(Case(name, [(data, set(expect))], close_ok))

    # methods
    add("method PATCH record", req("PATCH /%s/x1 HTTP/1.1" % T), {405})
    add("method OPTIONS record", req("OPTIONS /%s/x1 HTTP/1.1" % T), {405})
    add("method POST /health", req("POST /health HTTP/1.1", J + "Content-Length: 2\r\n", b"{}"),
        {405})
    add("method DELETE /metrics", req("DELETE /metrics HTTP/1.1"), {405})
    add("method PUT table", req("PUT /%s/ HTTP/1.1" % T, J + "Content-Length: 2\r\n", b"{}"),
        {405})
    add("method not a token", req("G(ET /health HTTP/1.1"), {400, 501})
    add("method with a control byte", req("\x01GET /health HTTP/1.1"), {400, 501})
    # head limits
    big = "X-Big: %s\r\n" % ("a" * (a.max_header_bytes + 1000))
    add("header block too large", req("GET /health HTTP/1.1", big), {431})
    many = "".join("X-N%d: v\r\n" % i for i in range(a.many_headers))
    add("too many header fields", req("GET /health HTTP/1.1", many), {431})
    add("request line too long",
        req("GET /%s/%s HTTP/1.1" % (T, "a" * (a.max_header_bytes + 100))), {414, 431})
    # chunked framing
    add("chunk size not hex", chunked(b"zz\r\n{}\r\n0\r\n\r\n"), {400})
    add("chunk size missing", chunked(b"\r\n{}\r\n0\r\n\r\n"), {400})
    add("chunk size overflows", chunked(b"fffffffffffffffff1\r\n{}\r\n0\r\n\r\n"), {400, 413})
    add("chunk data not followed by CRLF", chunked(b"2\r\n{}XX0\r\n\r\n"), {400})
    add("chunk size negative", chunked(b"-2\r\n{}\r\n0\r\n\r\n"), {400})
    add("chunk over max_body", chunked(b"%x\r\n{\"a\":\"" % (a.max_body + 1)), {413})
    # lengths
    add("Content-Length over max_body",
        req("POST /%s/ HTTP/1.1" % T, J + "Content-Length: %d\r\n" % (a.max_body + 1)), {413})
    add("Content-Length absurd",
        req("POST /%s/ HTTP/1.1" % T, J + "Content-Length: 99999999999999999999999\r\n"), {413})
    add("POST without a length", req("POST /%s/ HTTP/1.1" % T, J), {411})
    add("PUT without a length", req("PUT /%s/x1 HTTP/1.1" % T, J), {411})
    add("Content-Length twice, different",
        req("POST /%s/ HTTP/1.1" % T, J + "Content-Length: 2\r\nContent-Length: 3\r\n", b"{}"),
        {400})
    add("Content-Length not a number",
        req("POST /%s/ HTTP/1.1" % T, J + "Content-Length: 2x\r\n", b"{}"), {400})
    add("Content-Length with chunked",
        req("POST /%s/ HTTP/1.1" % T,
            J + "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\n\r\n"),
        {400})
    add("Transfer-Encoding gzip",
        req("POST /%s/ HTTP/1.1" % T, J + "Transfer-Encoding: gzip\r\n", b"{}"), {501})
    add("Transfer-Encoding gzip, chunked",
        req("POST /%s/ HTTP/1.1" % T, J + "Transfer-Encoding: gzip, chunked\r\n",
            b"2\r\n{}\r\n0\r\n\r\n"), {501})
    # versions and syntax
    add("HTTP/2.0", req("GET /health HTTP/2.0"), {505})
    add("HTTP/1.2", req("GET /health HTTP/1.2"), {505})
    add("HTTP/x.1", req("GET /health HTTP/x.1"), {400})
    add("no Host", req("GET /health HTTP/1.1", host_hdrs=auth), {400})
    add("two Hosts", req("GET /health HTTP/1.1", host), {400})
    add("bare LF", ("GET /health HTTP/1.1\n" + H.replace("\r\n", "\n") + "\n").encode(), {400})
    add("SP before colon", req("GET /health HTTP/1.1", "X-Bad : v\r\n"), {400})
    add("obs-fold", req("GET /health HTTP/1.1", "X-A: v\r\n  folded\r\n"), {400})
    add("empty line first", b"\r\n" + req("GET /health HTTP/1.1"), {400})
    # content type
    add("Content-Type text/plain", post(b'{"a":1}', "Content-Type: text/plain\r\n"), {415})
    add("Content-Type application/jsonx",
        post(b'{"a":1}', "Content-Type: application/jsonx\r\n"), {415})
    add("Content-Type missing", post(b'{"a":1}', ""), {415})
    add("Content-Type text/plain on PUT",
        req("PUT /%s/x1 HTTP/1.1" % T, "Content-Type: text/plain\r\nContent-Length: 7\r\n",
            b'{"a":1}'), {415})
    # JSON
    add("JSON truncated", post(b'{"a":'), {400})
    add("JSON array", post(b"[1,2]"), {400})
    add("JSON null", post(b"null"), {400})
    add("JSON empty body", post(b""), {400})
    add("JSON trailing bytes", post(b'{"a":1} x'), {400})
    add("JSON invalid UTF-8", post(b'{"a":"\xff\xfe"}'), {400})
    add("JSON id not a string", post(b'{"id":5}'), {400})
    add("JSON two objects", post(b'{"a":1}{"b":2}'), {400})
    add("JSON bad PUT", req("PUT /%s/x1 HTTP/1.1" % T, J + "Content-Length: 5\r\n", b'{"a":'),
        {400})
    # routes
    add("absent record", req("GET /%s/absent-record HTTP/1.1" % T), {404})
    add("DELETE absent record", req("DELETE /%s/absent-record HTTP/1.1" % T), {404})
    add("unknown path", req("GET /no/such/path/here HTTP/1.1"), {404})
    add("bad table name", req("GET /bad-table!/x1 HTTP/1.1"), {400, 404})
    # keep-alive survives non-fatal errors (and one pipelined behind a 405)
    C.append(Case("keep-alive after 404", [
        (req("GET /%s/absent-record HTTP/1.1" % T), {404}),
        (req("GET /health HTTP/1.1"), {200})]))
    C.append(Case("pipelined after 405", [
        (req("PATCH /%s/x1 HTTP/1.1" % T) + req("GET /health HTTP/1.1"), {405}),
        (b"", {200})]))
    # garbage: the first byte is never a token character
    for k in range(4):
        n = rng.randrange(16, 600)
        g = bytearray(rng.randbytes(n))
        g[0] = rng.choice([b for b in range(256) if b not in TCHAR and b not in (13, 10)])
        C.append(Case("garbage %d" % k, [(bytes(g) + b"\r\n\r\n", {400})], close_ok=True))
    # credentials
    if a.auth_on:
        user = a.auth.split(":", 1)[0]
        b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
        target = "GET /%s/x1 HTTP/1.1" % T
        add("no credentials", req(target, host_hdrs=host), {401})
        add("wrong password",
            req(target, "Authorization: Basic %s\r\n" % b64(user + ":wrong-password"),
                host_hdrs=host), {401})
        add("unknown user",
            req(target, "Authorization: Basic %s\r\n" % b64("nobody-here:pw"), host_hdrs=host),
            {401})
        add("other scheme", req(target, "Authorization: Bearer abcdef\r\n", host_hdrs=host),
            {401})
        add("token not base64", req(target, "Authorization: Basic !!!$$$\r\n", host_hdrs=host),
            {401, 400})
        add("no credentials on POST",
            req("POST /%s/ HTTP/1.1" % T, J + "Content-Length: 7\r\n", b'{"a":1}',
                host_hdrs=host), {401})
    return C


def check(case, step_no, expect, r):
    """None if response r of step step_no is acceptable, else why not."""
    if r.outcome != "response":
        if case.close_ok and r.outcome in ("closed", "reset"):
            return None
        return "no response: %s" % r.outcome
    if r.status not in expect:
        return "status %d, want %s: %r" % (r.status, "/".join(map(str, sorted(expect))),
                                           r.body[:100])
    if r.status >= 400:
        why = error_body_ok(r)
        if why:
            return why
    if r.status == 401:
        wa = r.headers.get("www-authenticate")
        if wa != 'Basic realm="loom"':
            return "401 with WWW-Authenticate %r" % wa
    return None


def run_case(a, case):
    """None if the case behaved, else why not."""
    try:
        s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    except OSError as e:
        return "connect: %s" % e
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        for k, (data, expect) in enumerate(case.steps):
            if data:
                try:
                    s.sendall(data)
                except OSError:
                    pass  # the server may answer and close before taking it all
            r = read_response(s, buf, a.timeout)
            why = check(case, k, expect, r)
            if why:
                return "step %d: %s" % (k, why) if len(case.steps) > 1 else why
        return None
    finally:
        s.close()


# --- slowloris ----------------------------------------------------------------

def slowloris(a, idx, results, t_stop):
    """One slow connection: partial head, one byte every 250 ms (for ever, or
    for half the header timeout), then wait; the server must answer 408 or
    close within header timeout + margin of the first byte."""
    limit = a.header_timeout_ms / 1000.0 + a.slow_margin
    keep = idx % 2 == 0
    try:
        s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    except OSError as e:
        results.append((idx, False, 0.0, "connect: %s" % e))
        return
    auth = ""
    if a.auth:
        auth = "Authorization: Basic %s\r\n" % base64.b64encode(a.auth.encode()).decode()
    first = ("GET /health HTTP/1.1\r\nHost: %s:%d\r\n%sX-Slow: " % (a.host, a.port, auth)).encode()
    t0 = time.monotonic()
    end = t0 + limit
    dribble_end = end if keep else t0 + a.header_timeout_ms / 2000.0
    outcome = None
    try:
        s.sendall(first)
        s.settimeout(0.25)
        buf = bytearray()
        while time.monotonic() < end and time.monotonic() < t_stop:
            try:
                d = s.recv(4096)
                if not d:
                    outcome = "closed"
                    break
                buf.extend(d)
                if b"\r\n" in buf:
                    outcome = buf.split(b"\r\n", 1)[0].decode("latin-1")
                    break
            except socket.timeout:
                pass
            except OSError:
                outcome = "reset"
                break
            if time.monotonic() < dribble_end:
                try:
                    s.send(b"a")
                except OSError:
                    outcome = "reset"
                    break
    finally:
        s.close()
    el = time.monotonic() - t0
    mode = "dribbling" if keep else "silent after %.1f s" % (a.header_timeout_ms / 2000.0)
    if outcome is None:
        results.append((idx, False, el, "%s: no 408 and no close within %.1f s" % (mode, limit)))
    elif outcome in ("closed", "reset") or outcome.startswith("HTTP/1.1 408"):
        results.append((idx, True, el, "%s: %s after %.2f s" % (mode, outcome, el)))
    else:
        results.append((idx, False, el, "%s: answered %r, want 408 or a close" % (mode, outcome)))


# --- the good client --------------------------------------------------------------

def good_client(a, state, done, run):
    T = a.table
    auth = ""
    if a.auth:
        auth = "Authorization: Basic %s\r\n" % base64.b64encode(a.auth.encode()).decode()
    host = "Host: %s:%d\r\n" % (a.host, a.port)
    try:
        s = socket.create_connection((a.host, a.port), timeout=a.timeout)
    except OSError as e:
        state["error"] = "connect: %s" % e
        return
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray()
    n = 0
    worst = 0.0
    try:
        while not done.is_set():
            rid = "good-%s-%d" % (run, n)
            body = json.dumps({"id": rid, "n": n, "note": "well-behaved"}).encode()
            t = time.monotonic()
            s.sendall(("POST /%s/ HTTP/1.1\r\n%s%sContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n" % (T, host, auth, len(body))).encode() + body)
            r = read_response(s, buf, a.timeout)
            if r.outcome != "response" or r.status != 201 or r.body != b'"%s"' % rid.encode():
                state["error"] = "POST %s: %s %s %r" % (rid, r.outcome, r.status, r.body[:100])
                return
            s.sendall(("GET /%s/%s HTTP/1.1\r\n%s%s\r\n" % (T, rid, host, auth)).encode())
            r = read_response(s, buf, a.timeout)
            ok = r.outcome == "response" and r.status == 200
            if ok:
                try:
                    obj = json.loads(r.body)
                    ok = obj.get("id") == rid and obj.get("n") == n
                except (ValueError, AttributeError):
                    ok = False
            if not ok:
                state["error"] = "GET %s: %s %s %r" % (rid, r.outcome, r.status, r.body[:100])
                return
            worst = max(worst, time.monotonic() - t)
            n += 1
            state["ops"] = n
            state["worst_ms"] = round(worst * 1000, 1)
    except OSError as e:
        state["error"] = "after %d round trips: %s" % (n, e)
    finally:
        s.close()


# --- main -------------------------------------------------------------------------

def main():
    a = parse()
    rng = random.Random(a.seed)
    cases = build_cases(a, rng)
    order = list(range(len(cases)))
    rng.shuffle(order)
    run = os.urandom(4).hex()
    t0 = time.monotonic()
    t_stop = t0 + a.deadline
    lock = threading.Lock()
    nxt = [0]
    stats = collections.defaultdict(lambda: [0, 0])  # name -> [runs, bad]
    samples = collections.defaultdict(list)

    def worker():
        while True:
            with lock:
                i = nxt[0]
                if i >= a.count or time.monotonic() >= t_stop:
                    return
                nxt[0] = i + 1
            case = cases[order[i % len(order)]]
            why = run_case(a, case)
            with lock:
                st = stats[case.name]
                st[0] += 1
                if why:
                    st[1] += 1
                    if len(samples[case.name]) < 3:
                        samples[case.name].append(why)

    done = threading.Event()
    good = {"ops": 0, "worst_ms": 0.0, "error": None}
    gt = threading.Thread(target=good_client, args=(a, good, done, run), daemon=True)
    gt.start()
    slow_results = []
    slow = [threading.Thread(target=slowloris, args=(a, k, slow_results, t_stop), daemon=True)
            for k in range(a.slowloris)]
    for t in slow:
        t.start()
    workers = [threading.Thread(target=worker, daemon=True) for _ in range(a.concurrency)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(max(0.0, t_stop - time.monotonic()) + a.timeout + 5)
    cases_s = time.monotonic() - t0
    for t in slow:
        t.join(max(0.0, t_stop - time.monotonic()) + 5)
    done.set()
    gt.join(a.timeout + 5)
    secs = time.monotonic() - t0

    ran = sum(v[0] for v in stats.values())
    bad = sum(v[1] for v in stats.values())
    for name in sorted(samples):
        for why in samples[name]:
            print("MISMATCH %s: %s" % (name, why))
    slow_ok = sum(1 for r in slow_results if r[1])
    for idx, ok, el, why in sorted(slow_results):
        print("slowloris %d: %s%s" % (idx, "" if ok else "FAILED: ", why))
    if good["error"]:
        print("GOOD CLIENT FAILED: %s" % good["error"])
    print("good client: %d POST+GET round trips (worst %.1f ms)" % (good["ops"], good["worst_ms"]))
    not_run = a.count - ran
    if not_run:
        print("%d cases not run before the deadline" % not_run)
    passed = (bad == 0 and not_run == 0 and slow_ok == a.slowloris
              and not good["error"] and good["ops"] >= a.good_min)
    res = {
        "tool": "http_abuse", "host": a.host, "port": a.port, "count": a.count,
        "ran": ran, "mismatches": bad, "not_run": not_run, "cases": len(cases),
        "by_case": {k: {"runs": v[0], "bad": v[1]} for k, v in sorted(stats.items()) if v[1]},
        "slowloris": {"conns": a.slowloris, "ok": slow_ok,
                      "max_seconds": round(max([r[2] for r in slow_results] or [0]), 2)},
        "good": {"ops": good["ops"], "worst_ms": good["worst_ms"], "error": good["error"]},
        "seconds": round(secs, 3),
        "cases_per_s": round(ran / cases_s, 1) if cases_s > 0 else 0.0,
        "pass": passed,
    }
    print(json.dumps(res))
    sys.stdout.flush()
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

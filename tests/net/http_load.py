#!/usr/bin/env python3
"""A fast HTTP/1.1 load client for loomd's REST API: POSTs reference records
over many keep-alive connections, logs every acknowledged id, and can read
every one of them back afterwards.

One thread, raw non-blocking sockets on a selector; requests are built from
a pre-built head and a record template (no http.client on the load path);
responses are parsed minimally (status line, Content-Length, Connection,
Location). Each connection keeps --pipeline requests in flight (default 1).

The record (--body-bytes, default 400: the reference record) is a JSON
object with 8 fields, "seq" (the request's number) first and a "note"
padded so that the record with a UUID "id" is exactly --body-bytes long,
plus "id" when the client chooses the key:
  --keys uuid   "id" is a random UUIDv4 (the default)
  --keys seq    "id" is --key-prefix + the 10-digit request number
  --keys none   no "id": the server generates it (taken from the 201)
The record's content depends only on "seq", so a reader can rebuild what was
sent from what it reads back.

A 201 counts as acknowledged only if its body is the id as a JSON string
(the one sent, for uuid/seq) and its Location is /TABLE/ID. Each
acknowledged id is appended to --ack-log (one per line) with one write(2)
per batch as responses arrive, so the log is exact even if the server is
killed mid-run (nothing is logged that was not acknowledged).

  --verify           afterwards GET every acknowledged id over
                     --verify-conns keep-alive connections: 200, the same
                     "id", and the record that was sent
  --verify-log FILE  no load: verify every id listed in FILE (an --ack-log
                     of an earlier run with the same --table/--body-bytes);
                     a repeated id there is a failure
  --verify-id-only   (with --verify-log) check 200 and the same "id" only,
                     not the record: for ids another client wrote (wrk)
  --allow-errors     connection errors (reset, refused, EOF with requests
                     in flight, timeouts) are counted, the connection is
                     reopened (after a short back-off) and the load goes on;
                     without it the first one ends the run as a failure.
                     Requests lost with a connection are never retried.
  --stop-file F      stop issuing requests once F exists (so does SIGTERM
                     or SIGINT); what is in flight gets --drain seconds
  --deadline S       hard bound on the whole run (load and verify); whatever
                     is unfinished then has failed (not with --stop-file /
                     --allow-errors: see below)
  --count N          requests in total (always bounded)

Prints failure details, then one JSON summary line (last line): sent,
acked_201, statuses (histogram of the load's responses), errors (by kind),
unanswered, seconds, rate, and "verify" (checked, ok, failed, ...).

Exit 0 iff: every load response was a good 201; no connection error unless
--allow-errors; every request was answered and all --count were issued
unless the run was stopped (stop file, signal) with --allow-errors or
cleanly drained; and the verify pass (if any) found every id.
"""
import argparse
import base64
import collections
import errno
import json
import os
import selectors
import signal
import socket
import sys
import time
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tcpdata import EV_R, EV_W, errname, raise_nofile  # noqa: E402

CONNECTING, OPEN = 0, 1
MAX_HEAD = 65536
NOTE_TEXT = ("loom replicates every write to every node; a record of the "
             "reference load carries this text as padding. ") * 40


def make_body(seq, key, body_bytes):
    """The record for request number seq (bytes). key is its "id" or None.
    Its content depends on seq (and key) only."""
    core = ('"seq":%d,"name":"user%d","email":"user%d@example.com","age":%d,'
            '"active":%s,"score":%d.5,"tags":["t%d","g%d"]'
            % (seq, seq, seq, 18 + seq % 70, "true" if seq % 2 else "false",
               seq % 1000, seq % 7, seq % 13))
    # the padding assumes a 36-character "id" (a UUID), present or not, so
    # that the record's content does not depend on the key
    pad = max(body_bytes - len(core) - len('{"id":"%s",,"note":""}' % ("x" * 36)), 0)
    if key is not None:
        core = '"id":"%s",%s' % (key, core)
    off = seq % 97
    return ('{%s,"note":"%s"}' % (core, NOTE_TEXT[off:off + pad])).encode()


def expected_record(seq, rid, body_bytes):
    """What a GET of the record sent as seq, stored as rid, must return."""
    exp = json.loads(make_body(seq, None, body_bytes))
    exp["id"] = rid
    return exp


class Req:
    __slots__ = ("seq", "key", "data")

    def __init__(self, seq, key, data):
        self.seq, self.key, self.data = seq, key, data


class Conn:
    __slots__ = ("slot", "sock", "state", "out", "unsent", "inbuf",
                 "inflight", "t_progress", "eof_body", "mask")

    def __init__(self, slot, sock, now):
        self.slot, self.sock = slot, sock
        self.state = CONNECTING
        self.out = bytearray()
        self.unsent = collections.deque()  # lengths of requests not all out
        self.inbuf = bytearray()
        self.inflight = collections.deque()
        self.t_progress = now
        self.eof_body = None  # (req, status, head) of a body read to EOF
        self.mask = EV_W


class RespErr(Exception):
    """A malformed response (framing): ends the connection."""


def parse_head(head):
    """(status, content_length or None, close, location) of a response
    head (bytes, without the final CRLF CRLF)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise RespErr("bad status line %r" % lines[0][:80])
    try:
        status = int(parts[1])
    except ValueError:
        raise RespErr("bad status line %r" % lines[0][:80])
    cl = None
    close = parts[0] == "HTTP/1.0"
    loc = None
    for ln in lines[1:]:
        k, sep, v = ln.partition(":")
        if not sep:
            raise RespErr("bad header line %r" % ln[:80])
        k = k.strip().lower()
        if k == "content-length":
            try:
                cl = int(v.strip())
            except ValueError:
                raise RespErr("bad Content-Length %r" % v[:40])
        elif k == "connection":
            close = "close" in v.lower()
        elif k == "location":
            loc = v.strip()
        elif k == "transfer-encoding":
            raise RespErr("chunked response (not expected from loomd)")
    return status, cl, close, loc


class Runner:
    """The connection engine shared by the load and the verify pass."""

    def __init__(self, a, conns, depth, source, on_response, deadline,
                 name):
        self.a = a
        self.nconns = conns
        self.depth = depth
        self.source = source          # () -> Req or None (exhausted)
        self.on_response = on_response  # (req, status, body, loc) -> None
        self.deadline = deadline
        self.name = name
        self.sel = selectors.DefaultSelector()
        self.addr = (a.host, a.port)
        self.conns = {}
        self.errors = collections.Counter()
        self.error_samples = []
        self.sent = 0
        self.answered = 0
        self.reconnects = 0
        self.server_closes = 0
        self.stopping = False
        self.exhausted = False
        self.fatal = None
        self.retry_at = {}  # slot -> time to reopen
        self.lost = 0       # requests in flight on connections that failed
        self.timed_out = False

    # -- connections -------------------------------------------------------
    def open(self, slot, now):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(slot, s, now)
        self.conns[slot] = c
        rc = s.connect_ex(self.addr)
        if rc not in (0, errno.EINPROGRESS):
            self.conn_error(c, "connect: " + errno.errorcode.get(rc, str(rc)), now)
            return
        self.sel.register(s, EV_W, c)

    def drop(self, c):
        try:
            self.sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        if self.conns.get(c.slot) is c:
            del self.conns[c.slot]

    def conn_error(self, c, kind, now, detail=""):
        lost = len(c.inflight)
        self.errors[kind] += 1
        if len(self.error_samples) < 20:
            self.error_samples.append("%s conn %d: %s%s (%d in flight)" % (
                self.name, c.slot, kind, detail, lost))
        self.drop(c)
        self.lost += lost
        if not self.a.allow_errors:
            self.fatal = "%s%s" % (kind, detail)
            return
        self.retry_at[c.slot] = now + 0.1

    def closed_by_server(self, c, now):
        """The server ended the connection cleanly (Connection: close, or
        EOF with nothing in flight): reopen at once if there is more to do."""
        self.server_closes += 1
        self.drop(c)
        self.retry_at[c.slot] = now

    # -- requests ----------------------------------------------------------
    def fill(self, c, now):
        """Queue requests on c up to the pipeline depth, then write."""
        if not c.inflight:
            c.t_progress = now  # the response clock starts now
        while (len(c.inflight) < self.depth and not self.stopping
               and not self.exhausted):
            r = self.source()
            if r is None:
                self.exhausted = True
                break
            c.inflight.append(r)
            c.unsent.append(len(r.data))
            c.out += r.data
        self.flush(c)

    def want(self, c, mask):
        if c.mask != mask:
            c.mask = mask
            self.sel.modify(c.sock, mask, c)

    def flush(self, c):
        if not c.out:
            self.want(c, EV_R)
            return True
        try:
            n = c.sock.send(c.out)
        except BlockingIOError:
            n = 0
        except OSError as e:
            self.conn_error(c, errname(e), time.monotonic(), " on send")
            return False
        if n:
            del c.out[:n]
            # a request counts as sent once its last byte is written
            lens = c.unsent
            while n and lens:
                if n >= lens[0]:
                    n -= lens.popleft()
                    self.sent += 1
                else:
                    lens[0] -= n
                    n = 0
        self.want(c, EV_R | EV_W if c.out else EV_R)
        return True

    def on_readable(self, c, now):
        try:
            data = c.sock.recv(262144)
        except BlockingIOError:
            return
        except OSError as e:
            self.conn_error(c, errname(e), now, " on recv")
            return
        if not data:
            if c.eof_body is not None:
                req, status, _ = c.eof_body
                body = bytes(c.inbuf)
                c.inflight.popleft()
                self.answered += 1
                self.on_response(req, status, body, None)
                self.closed_by_server(c, now)
            elif c.inflight:
                self.conn_error(c, "EOF", now, " with requests in flight")
            elif c.inbuf:
                self.conn_error(c, "EOF", now, " inside a response")
            else:
                self.closed_by_server(c, now)
            return
        c.t_progress = now
        c.inbuf += data
        if c.eof_body is not None:
            return
        buf = c.inbuf
        pos = 0
        close = False
        try:
            while True:
                he = buf.find(b"\r\n\r\n", pos)
                if he < 0:
                    if len(buf) - pos > MAX_HEAD:
                        raise RespErr("response head over %d bytes" % MAX_HEAD)
                    break
                status, cl, close, loc = parse_head(bytes(buf[pos:he]))
                if 100 <= status < 200:
                    pos = he + 4
                    continue
                if not c.inflight:
                    raise RespErr("response %d with no request in flight" % status)
                if cl is None:
                    if status in (204, 304):
                        cl = 0
                    else:  # body delimited by the end of the connection
                        c.eof_body = (c.inflight[0], status, None)
                        del buf[:he + 4]
                        pos = 0
                        return
                if len(buf) < he + 4 + cl:
                    break
                body = bytes(buf[he + 4:he + 4 + cl])
                pos = he + 4 + cl
                req = c.inflight.popleft()
                self.answered += 1
                self.on_response(req, status, body, loc)
                if close:
                    break
        except RespErr as e:
            self.conn_error(c, "bad response", now, ": %s" % e)
            return
        if pos:
            del buf[:pos]
        if close:
            if c.inflight:
                self.conn_error(c, "server closed", now,
                                " (Connection: close) with requests in flight")
            else:
                self.closed_by_server(c, now)
            return
        self.fill(c, now)

    # -- the loop ----------------------------------------------------------
    def run(self, stop_check):
        t0 = time.monotonic()
        for i in range(self.nconns):
            self.open(i, t0)
            if self.fatal:
                break
        next_scan = t0 + 0.1
        drain_end = None
        while not self.fatal:
            now = time.monotonic()
            if now >= self.deadline:
                self.timed_out = True
                break
            if not self.stopping and stop_check(now):
                self.stopping = True
                drain_end = now + self.a.drain
            if self.stopping:
                # stopped: close idle connections, wait for in-flight ones
                for c in list(self.conns.values()):
                    if c.state == OPEN and not c.inflight:
                        self.drop(c)
                self.retry_at.clear()
                if not self.conns or now >= drain_end:
                    break
            elif self.exhausted:
                for c in list(self.conns.values()):
                    if c.state == OPEN and not c.inflight and not c.out:
                        self.drop(c)
                self.retry_at.clear()
                if not self.conns:
                    break
            for slot, at in list(self.retry_at.items()):
                if at <= now:
                    del self.retry_at[slot]
                    self.reconnects += 1
                    self.open(slot, now)
            if now >= next_scan:
                next_scan = now + 0.25
                for c in list(self.conns.values()):
                    limit = self.a.connect_timeout if c.state == CONNECTING \
                        else self.a.timeout
                    busy = c.state == CONNECTING or c.inflight
                    if busy and now - c.t_progress > limit:
                        self.conn_error(c, "timeout", now, " (%s, %.0f s without progress)" % (
                            "connecting" if c.state == CONNECTING else "awaiting a response",
                            now - c.t_progress))
                        if self.fatal:
                            break
            if self.fatal:
                break
            timeout = 0.1
            if self.retry_at:
                timeout = max(0.0, min(timeout, min(self.retry_at.values()) - now))
            for key, mask in self.sel.select(timeout):
                c = key.data
                if self.conns.get(c.slot) is not c:
                    continue
                if c.state == CONNECTING:
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        self.conn_error(c, "connect: " + errno.errorcode.get(err, str(err)),
                                        now)
                        if self.fatal:
                            break
                        continue
                    c.state = OPEN
                    c.t_progress = now
                    if self.stopping or self.exhausted:
                        self.drop(c)
                        continue
                    self.fill(c, now)
                    continue
                if mask & EV_R:
                    self.on_readable(c, now)
                    if self.fatal:
                        break
                    if self.conns.get(c.slot) is not c:
                        continue
                if mask & EV_W and c.out:
                    self.flush(c)
                if self.fatal:
                    break
        unanswered = sum(len(c.inflight) for c in self.conns.values())
        for c in list(self.conns.values()):
            self.drop(c)
        self.sel.close()
        return unanswered + self.lost


def parse():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, default=9926)
    ap.add_argument("--conns", type=int, default=200)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--table", default="load")
    ap.add_argument("--keys", choices=("uuid", "seq", "none"), default="uuid")
    ap.add_argument("--key-prefix", default="k")
    ap.add_argument("--body-bytes", type=int, default=400)
    ap.add_argument("--pipeline", type=int, default=1,
                    help="requests in flight per connection (default 1)")
    ap.add_argument("--ack-log", default="")
    ap.add_argument("--deadline", type=float, default=300.0)
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds a connection may wait for a response")
    ap.add_argument("--connect-timeout", type=float, default=10.0)
    ap.add_argument("--drain", type=float, default=5.0,
                    help="seconds for in-flight requests after a stop")
    ap.add_argument("--auth", default="", metavar="USER:PASS")
    ap.add_argument("--allow-errors", action="store_true")
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--verify-log", default="", metavar="FILE")
    ap.add_argument("--verify-id-only", action="store_true")
    ap.add_argument("--verify-conns", type=int, default=8)
    ap.add_argument("--stop-file", default="")
    a = ap.parse_args()
    if a.conns < 1 or a.count < 0 or a.deadline <= 0 or a.pipeline < 1 \
            or a.verify_conns < 1 or a.body_bytes < 0:
        ap.error("--conns >= 1, --count >= 0, --deadline > 0, --pipeline >= 1, "
                 "--verify-conns >= 1, --body-bytes >= 0")
    if not all(ch.isalnum() or ch == "_" for ch in a.table) or not 1 <= len(a.table) <= 63:
        ap.error("--table must be [A-Za-z0-9_]{1,63}")
    if a.auth and ":" not in a.auth:
        ap.error("--auth USER:PASS")
    return a


def common_headers(a):
    h = "Host: %s:%d\r\n" % (a.host, a.port)
    if a.auth:
        h += "Authorization: Basic %s\r\n" % base64.b64encode(a.auth.encode()).decode()
    return h


def load(a, t_end, stop_check, out):
    """The POST load. Fills out with the load's part of the summary;
    returns ([(id, seq)] acknowledged, [problem lines], passed)."""
    path = "/%s/" % a.table
    head_fmt = ("POST %s HTTP/1.1\r\n%sContent-Type: application/json\r\n"
                "Content-Length: %%d\r\n\r\n" % (path, common_headers(a))).encode()
    keys = a.keys
    body_bytes = a.body_bytes
    state = {"n": 0}
    prefix = a.key_prefix

    def source():
        n = state["n"]
        if n >= a.count:
            return None
        state["n"] = n + 1
        if keys == "uuid":
            key = str(uuid.uuid4())
        elif keys == "seq":
            key = "%s%010d" % (prefix, n)
        else:
            key = None
        body = make_body(n, key, body_bytes)
        return Req(n, key, head_fmt % len(body) + body)

    statuses = collections.Counter()
    acked = []
    seen = set()
    bad = []
    logbuf = []
    logfd = os.open(a.ack_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) \
        if a.ack_log else None
    loc_prefix = path

    def on_response(req, status, body, loc):
        statuses[status] += 1
        if status != 201:
            if len(bad) < 20:
                bad.append("request %d: status %d: %s" % (req.seq, status, body[:200]))
            return
        rid = None
        if len(body) >= 2 and body[:1] == b'"' and body[-1:] == b'"':
            rid = body[1:-1].decode("utf-8", "replace")
        why = None
        if rid is None or not rid:
            why = "201 body is not a JSON string: %r" % body[:100]
        elif req.key is not None and rid != req.key:
            why = "201 names id %r, sent %r" % (rid, req.key)
        elif loc != loc_prefix + rid:
            why = "201 Location %r, expected %r" % (loc, loc_prefix + rid)
        elif rid in seen:
            why = "id %r acknowledged twice" % rid
        if why:
            statuses["201-bad"] += 1
            statuses[201] -= 1
            if len(bad) < 20:
                bad.append("request %d: %s" % (req.seq, why))
            return
        seen.add(rid)
        acked.append((rid, req.seq))
        if logfd is not None:
            logbuf.append(rid)

    r = Runner(a, min(a.conns, max(a.count, 1)), a.pipeline, source,
               on_response, t_end, "load")
    orig_select = r.sel.select

    def select_and_log(timeout):
        # one write(2) per loop iteration: the log never holds an id that
        # was not acknowledged, and lags the acknowledgements by one batch
        if logbuf:
            os.write(logfd, ("\n".join(logbuf) + "\n").encode())
            logbuf.clear()
        return orig_select(timeout)
    r.sel.select = select_and_log

    t0 = time.monotonic()
    if a.count == 0:
        r.exhausted = True
        unanswered = 0
    else:
        unanswered = r.run(stop_check)
    secs = time.monotonic() - t0
    if logbuf:
        os.write(logfd, ("\n".join(logbuf) + "\n").encode())
        logbuf.clear()
    if logfd is not None:
        os.close(logfd)
    problems = list(bad)
    problems += r.error_samples
    out.update({
        "issued": state["n"], "sent": r.sent, "answered": r.answered,
        "acked_201": len(acked),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=lambda x: str(x[0]))
                     if v},
        "errors": dict(r.errors), "unanswered": unanswered,
        "reconnects": r.reconnects, "server_closes": r.server_closes,
        "seconds": round(secs, 3),
        "rate": round(len(acked) / secs, 1) if secs > 0 else 0.0,
    })
    unexpected = sum(v for k, v in statuses.items() if k != 201)
    ok = unexpected == 0
    if r.fatal:
        ok = False
        problems.append("load stopped: %s" % r.fatal)
    if not a.allow_errors and sum(r.errors.values()):
        ok = False
    stopped = r.stopping
    if not stopped:
        if state["n"] < a.count or len(acked) + unexpected < a.count:
            ok = False
            if not r.fatal:
                problems.append("deadline: %d of %d issued, %d answered" % (
                    state["n"], a.count, r.answered))
    elif unanswered and not a.allow_errors:
        ok = False
        problems.append("stopped with %d requests unanswered after %.1f s" % (
            unanswered, a.drain))
    out["stopped"] = stopped
    return acked, problems, ok


def verify(a, ids, t_end, out):
    """GET every (id, seq) in ids; seq None when unknown (from a log)."""
    path = "/%s/" % a.table
    hdrs = common_headers(a)
    it = iter(ids)
    ok_count = [0]
    failures = []
    statuses = collections.Counter()

    def source():
        for rid, seq in it:
            data = ("GET %s%s HTTP/1.1\r\n%s\r\n" % (path, rid, hdrs)).encode()
            return Req(seq, rid, data)
        return None

    def on_response(req, status, body, loc):
        statuses[status] += 1
        why = None
        if status != 200:
            why = "status %d: %s" % (status, body[:200])
        else:
            try:
                obj = json.loads(body)
            except ValueError:
                obj = None
            if not isinstance(obj, dict):
                why = "body is not a JSON object: %r" % body[:200]
            elif obj.get("id") != req.key:
                why = "body has id %r" % obj.get("id")
            elif a.verify_id_only:
                pass
            elif req.seq is not None and obj.get("seq") != req.seq:
                why = "body has seq %r, sent %r" % (obj.get("seq"), req.seq)
            elif not isinstance(obj.get("seq"), int) or \
                    obj != expected_record(obj["seq"], req.key, a.body_bytes):
                why = "body differs from the record sent: %r" % body[:200]
        if why:
            failures.append("GET %s%s: %s" % (path, req.key, why))
        else:
            ok_count[0] += 1

    r = Runner(a, a.verify_conns, a.pipeline, source, on_response, t_end, "verify")
    t0 = time.monotonic()
    unanswered = r.run(lambda now: False) if ids else 0
    secs = time.monotonic() - t0
    checked = r.answered
    failed = len(failures)
    missing = len(ids) - checked
    out.update({
        "ids": len(ids), "checked": checked, "ok": ok_count[0], "failed": failed,
        "not_checked": missing, "unanswered": unanswered,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": dict(r.errors), "seconds": round(secs, 3),
        "rate": round(checked / secs, 1) if secs > 0 else 0.0,
    })
    problems = failures[:20] + r.error_samples
    if r.fatal:
        problems.append("verify stopped: %s" % r.fatal)
    if missing:
        problems.append("verify: %d of %d ids not checked (deadline or errors)" % (
            missing, len(ids)))
    passed = ok_count[0] == len(ids) and not r.fatal and not sum(r.errors.values())
    return problems, passed


def read_log(path):
    ids, seen, dups = [], set(), 0
    with open(path, encoding="utf-8") as f:
        for ln in f:
            rid = ln.strip()
            if not rid:
                continue
            if rid in seen:
                dups += 1
                continue
            seen.add(rid)
            ids.append((rid, None))
    return ids, dups


def main():
    a = parse()
    raise_nofile(max(a.conns, a.verify_conns) + 16)
    t_start = time.monotonic()
    t_end = t_start + a.deadline
    signals = []
    signal.signal(signal.SIGTERM, lambda *_: signals.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: signals.append("SIGINT"))
    last = [0.0, False]

    def stop_check(now):
        if signals:
            return True
        if a.stop_file and now - last[0] >= 0.1:
            last[0] = now
            last[1] = os.path.exists(a.stop_file)
        return last[1]

    res = {"tool": "http_load", "host": a.host, "port": a.port, "table": a.table,
           "conns": a.conns, "count": a.count, "keys": a.keys,
           "body_bytes": a.body_bytes, "pipeline": a.pipeline}
    problems = []
    passed = True
    if a.verify_log:
        ids, dups = read_log(a.verify_log)
        vres = {"log": a.verify_log, "duplicates": dups}
        vprob, vok = verify(a, ids, t_end, vres)
        res["verify"] = vres
        problems += vprob
        if dups:
            problems.append("%d repeated ids in %s" % (dups, a.verify_log))
        passed = vok and not dups and bool(ids)
        if not ids:
            problems.append("no ids in %s" % a.verify_log)
    else:
        acked, lprob, lok = load(a, t_end, stop_check, res)
        problems += lprob
        passed = lok
        if signals:
            res["signal"] = signals[0]
        if a.verify:
            vres = {}
            vprob, vok = verify(a, acked, t_end, vres)
            res["verify"] = vres
            problems += vprob
            passed = passed and vok
    res["total_seconds"] = round(time.monotonic() - t_start, 3)
    res["pass"] = passed
    for p in problems[:40]:
        print(p)
    if len(problems) > 40:
        print("... %d more problems" % (len(problems) - 40))
    print(json.dumps(res, sort_keys=False))
    sys.stdout.flush()
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

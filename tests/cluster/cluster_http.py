#!/usr/bin/env python3
"""Cross-node HTTP checks for the cluster tests (standard library only).

  race     two writers PUT the same keys at the same moment on two nodes:
           for each round, for each key, both PUT /TABLE/KEY (different
           bodies) released together by a barrier. Every PUT must answer
           204 with an ETag ("HLC-ORIGIN", DESIGN §3). The expected winner
           of a key is the PUT with the highest version (HLC, then origin:
           last-writer-wins, the higher origin breaking ties); --out FILE
           gets {KEY: {"etag": ..., "body": {...}, "writer": NAME}}.
           --prior FILE (an earlier race's --out) lets that race's winners
           compete, so the --out of a second race on the same keys names
           the final winners. Keys: "k", "k1", "k2", ... (--keys of them).
  compare  GET keys on every --hosts node: each must answer 200 with the
           same body bytes and the same ETag everywhere; with --expect FILE
           (a race --out) the ETag and the body must also be the expected
           winner's. Keys come from --keys-from (one per line: an ack log;
           --sample K of them, chosen with --seed) or --expect.

Prints problems (at most 40), then one JSON summary line. Exit 0 iff no
problem.
"""
import argparse
import http.client
import json
import random
import sys
import threading
import time

sys.dont_write_bytecode = True


def parse_etag(etag):
    """(hlc, origin) of an ETag '"HHHHHHHHHHHHHHHH-ORIGIN"', or None."""
    if not etag:
        return None
    e = etag.strip().strip('"')
    h, sep, o = e.partition("-")
    if not sep:
        return None
    try:
        return int(h, 16), int(o)
    except ValueError:
        return None


class Client:
    """One keep-alive connection to HOST:PORT, reopened after an error."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def request(self, method, path, body=None):
        """(status, headers dict lower-cased, body bytes); raises OSError or
        http.client.HTTPException on a transport problem."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port,
                                                   timeout=self.timeout)
        hdrs = {}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        h = {k.lower(): v for k, v in r.getheaders()}
        if r.will_close:
            self.close()
        return r.status, h, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def key_name(i):
    return "k" if i == 0 else "k%d" % i


def cmd_race(a):
    keys = [key_name(i) for i in range(a.keys)]
    if a.a_name == a.b_name:
        raise SystemExit("race: --a-name and --b-name must differ")
    writers = {a.a_name: a.a, a.b_name: a.b}
    barrier = threading.Barrier(2, timeout=a.timeout)
    lock = threading.Lock()
    best = {}   # key -> (version, etag, body obj, writer)
    problems = []
    if a.prior:  # the winners of an earlier race on these keys
        with open(a.prior, encoding="utf-8") as f:
            for k, e in json.load(f).items():
                best[k] = (parse_etag(e["etag"]), e["etag"], e["body"], e["writer"])
    counts = {n: 0 for n in writers}
    stop = threading.Event()

    def writer(name, host):
        c = Client(host, a.port, a.timeout)
        try:
            for r in range(a.rounds):
                for k in keys:
                    if stop.is_set():
                        return
                    obj = {"id": k, "writer": name, "round": r,
                           "pad": "%s-%d-%s" % (name, r, "x" * (r % 17))}
                    body = json.dumps(obj, separators=(",", ":")).encode()
                    try:
                        barrier.wait()
                    except threading.BrokenBarrierError:
                        return
                    try:
                        st, h, data = c.request("PUT", "/%s/%s" % (a.table, k), body)
                    except (OSError, http.client.HTTPException) as e:
                        with lock:
                            problems.append("%s: PUT %s round %d: %s" % (name, k, r, e))
                        stop.set()
                        barrier.abort()
                        return
                    v = parse_etag(h.get("etag"))
                    with lock:
                        if st != 204 or v is None:
                            problems.append("%s: PUT %s round %d: status %d, ETag %r: %r"
                                            % (name, k, r, st, h.get("etag"), data[:200]))
                            stop.set()
                            barrier.abort()
                            return
                        counts[name] += 1
                        cur = best.get(k)
                        if cur is not None and cur[0] == v:
                            problems.append("PUT %s: two writes acknowledged with the "
                                            "same version %s" % (k, h.get("etag")))
                        if cur is None or v > cur[0]:
                            best[k] = (v, h.get("etag"), obj, name)
        finally:
            c.close()

    t0 = time.monotonic()
    ts = [threading.Thread(target=writer, args=(n, host)) for n, host in writers.items()]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    secs = time.monotonic() - t0
    wins = {}
    out = {}
    for k, (v, etag, obj, name) in best.items():
        wins[name] = wins.get(name, 0) + 1
        out[k] = {"etag": etag, "body": obj, "writer": name}
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            json.dump(out, f, sort_keys=True)
    want = a.keys * a.rounds
    for n in writers:
        if counts[n] != want and not problems:
            problems.append("writer %s: %d of %d PUTs acknowledged" % (n, counts[n], want))
    res = {"tool": "cluster_http", "cmd": "race", "a": a.a, "b": a.b,
           "table": a.table, "keys": a.keys, "rounds": a.rounds,
           "puts": counts, "winners": wins, "seconds": round(secs, 3),
           "pass": not problems}
    return res, problems


def cmd_compare(a):
    hosts = [h for h in a.hosts.split(",") if h]
    expect = None
    if a.expect:
        with open(a.expect, encoding="utf-8") as f:
            expect = json.load(f)
    if a.keys_from:
        with open(a.keys_from, encoding="utf-8") as f:
            ids = sorted({ln.strip() for ln in f if ln.strip()})
        if a.sample and a.sample < len(ids):
            ids = random.Random(a.seed).sample(ids, a.sample)
    elif expect is not None:
        ids = sorted(expect)
    else:
        raise SystemExit("compare: --keys-from or --expect")
    clients = [Client(h, a.port, a.timeout) for h in hosts]
    problems = []
    same = 0
    t0 = time.monotonic()
    for k in ids:
        path = "/%s/%s" % (a.table, k)
        got = []
        for h, c in zip(hosts, clients):
            try:
                st, hd, data = c.request("GET", path)
            except (OSError, http.client.HTTPException) as e:
                problems.append("GET %s on %s: %s" % (path, h, e))
                got.append(None)
                continue
            got.append((st, hd.get("etag"), data))
        bad = None
        if any(g is None for g in got):
            bad = "no answer from some node"
        elif any(g[0] != 200 for g in got):
            bad = "statuses %s" % [g[0] for g in got]
        elif len({g[1] for g in got}) != 1:
            bad = "ETags differ: %s" % ", ".join("%s %s" % (h, g[1]) for h, g in zip(hosts, got))
        elif len({g[2] for g in got}) != 1:
            bad = "bodies differ: %s" % "; ".join(
                "%s %r" % (h, g[2][:120]) for h, g in zip(hosts, got))
        elif expect is not None and k in expect:
            e = expect[k]
            try:
                obj = json.loads(got[0][2])
            except ValueError:
                obj = None
            if got[0][1] != e["etag"]:
                bad = "ETag %s everywhere, but the newest acknowledged PUT had %s (writer %s)" % (
                    got[0][1], e["etag"], e["writer"])
            elif obj != e["body"]:
                bad = "body %r everywhere, but the newest acknowledged PUT sent %r" % (
                    got[0][2][:200], e["body"])
        if bad:
            problems.append("%s: %s" % (path, bad))
        else:
            same += 1
    for c in clients:
        c.close()
    res = {"tool": "cluster_http", "cmd": "compare", "hosts": hosts, "table": a.table,
           "keys": len(ids), "same": same, "differ": len(ids) - same,
           "seconds": round(time.monotonic() - t0, 3), "pass": not problems and bool(ids)}
    if not ids:
        problems.append("no keys to compare")
    return res, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("race")
    r.add_argument("--a", required=True, help="writer a's node address")
    r.add_argument("--b", required=True, help="writer b's node address")
    r.add_argument("--keys", type=int, default=50)
    r.add_argument("--rounds", type=int, default=20)
    r.add_argument("--a-name", default="a", help="writer a's name (in bodies, winners)")
    r.add_argument("--b-name", default="b")
    r.add_argument("--prior", default="", metavar="FILE",
                   help="the --out of an earlier race on the same keys: its winners "
                        "compete with this race's PUTs")
    r.add_argument("--out", default="")
    c = sub.add_parser("compare")
    c.add_argument("--hosts", required=True, help="A,B,C: the nodes' addresses")
    c.add_argument("--keys-from", default="", metavar="FILE")
    c.add_argument("--sample", type=int, default=0)
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--expect", default="", metavar="FILE")
    for p in (r, c):
        p.add_argument("--port", type=int, default=9926)
        p.add_argument("--table", default="t")
        p.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    if a.cmd == "race":
        if a.keys < 1 or a.rounds < 1:
            ap.error("--keys >= 1, --rounds >= 1")
        res, problems = cmd_race(a)
    else:
        res, problems = cmd_compare(a)
    for p in problems[:40]:
        print(p)
    if len(problems) > 40:
        print("... %d more problems" % (len(problems) - 40))
    res["pass"] = res["pass"] and not problems
    print(json.dumps(res))
    sys.stdout.flush()
    return 0 if res["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())

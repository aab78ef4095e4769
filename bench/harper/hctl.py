#!/usr/bin/env python3
"""hctl.py: the operations-API side of bench/harper.sh (a Harper cluster on
loopback).

  hctl.py ready  --ops URL[,URL..] --rest URL[,URL..] --timeout S
      wait until every node answers its operations API (describe_table of
      data.bench: the component created the table) and serves the table on
      its REST port (GET /bench/?limit(1) -> 200).
  hctl.py mesh   --ops URLs --repl URLs --timeout S
      add_node from every node i to every node j > i (native replication
      over WebSockets, plain ws:// on loopback), then wait until
      cluster_status on every node shows the database "data" connected to
      every other node.
  hctl.py probe  --ops URLs --rest URLs [--tag T] --timeout S
      POST a record probe-T-I on every node I, then wait until every node
      has all of them (every replication path carries data).
  hctl.py count  --ops URLs
      print the exact record counts of data.bench, one a line.
  hctl.py wait   --ops URLs --base C1,C2.. --min N --timeout S [--since T]
                 [--ids FILE --tail K --sessions S1,S2..]
      first (with --ids) poll until every node has the last K ids of FILE
      (search_by_id: cheap), note the time (T, the end of the load, if
      they were there at the first look) and the CPU ticks of the
      processes of the given sessions; then wait until every node's exact
      record count has grown from its count before the load (--base) by
      as much as node 1's, at least N, and the counts stay put for
      --settle seconds. Prints one JSON line: counts, grown, agreed_at,
      ticks, converged.
  hctl.py diff   --ops URLs
      every id on every node (full scans): which ids each node lacks
      (how many, the first few, their creation time range); one JSON line.
  hctl.py verify --ops URLs --rest URLs --ids FILE [--sample K]
      every id of FILE (the acknowledged ids wrk logged) on every node
      (search_by_id in batches), and K of them, chosen at random, read
      over REST (GET /bench/ID -> 200 with that id) on every node; prints
      one JSON line and exits 1 if anything is missing.

Credentials: HARPER_AUTH=user:password (Basic auth on every request).
Every request has a timeout; every wait is bounded.
"""
import argparse
import base64
import json
import os
import random
import sys
import time
import urllib.error
import urllib.request

DB, TABLE = "data", "bench"


def auth_header():
    cred = os.environ.get("HARPER_AUTH", "")
    if not cred:
        sys.exit("hctl.py: HARPER_AUTH=user:password is not set")
    return "Basic " + base64.b64encode(cred.encode()).decode()


AUTH = None


def op(url, body, timeout=30):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": AUTH})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read().decode() or "null")
    except urllib.error.HTTPError as e:
        text = e.read().decode(errors="replace")
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def get(url, timeout=10):
    req = urllib.request.Request(url, headers={"Authorization": AUTH})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def count(url):
    # exact_count: without it Harper estimates the count of a table it
    # cannot scan within 500 ms (and rounds it).
    st, res = op(url, {"operation": "describe_table", "database": DB, "table": TABLE,
                       "exact_count": True}, 60)
    if st != 200 or not isinstance(res, dict) or "record_count" not in res:
        raise RuntimeError(f"describe_table on {url}: {st} {str(res)[:200]}")
    return int(res["record_count"])


def cmd_ready(a):
    deadline = time.time() + a.timeout
    todo = list(zip(a.ops, a.rest))
    last = ""
    while todo:
        o, r = todo[0]
        try:
            count(o)
            st, body = get(r + f"/{TABLE}/?limit(1)", 5)
            if st == 200:
                todo.pop(0)
                continue
            last = f"GET {r}/{TABLE}/?limit(1): {st} {body[:100]!r}"
        except (OSError, RuntimeError) as e:
            last = str(e)
        if time.time() > deadline:
            sys.exit(f"hctl.py ready: {o} not ready within {a.timeout} s: {last}")
        time.sleep(0.2)


def connected_peers(url):
    st, res = op(url, {"operation": "cluster_status"}, 10)
    if st != 200 or not isinstance(res, dict):
        return set(), f"cluster_status {st} {str(res)[:200]}"
    peers = set()
    for c in res.get("connections") or []:
        for s in c.get("database_sockets") or []:
            if s.get("database") == DB and s.get("connected"):
                peers.add(c.get("url"))
    return peers, res


def cmd_mesh(a):
    n = len(a.ops)
    for i in range(n):
        for j in range(i + 1, n):
            st, res = op(a.ops[i], {"operation": "add_node", "url": a.repl[j],
                                    "authorization": {"username": a.user, "password": a.password}}, 60)
            msg = res.get("message") if isinstance(res, dict) else res
            print(f"add_node on node {i + 1} -> {a.repl[j]}: {st} {msg}", flush=True)
            if st != 200:
                sys.exit(1)
    deadline = time.time() + a.timeout
    for i in range(n):
        want = {a.repl[j] for j in range(n) if j != i}
        while True:
            peers, res = connected_peers(a.ops[i])
            if want <= peers:
                print(f"node {i + 1}: {DB} connected to {sorted(want)}", flush=True)
                break
            if time.time() > deadline:
                sys.exit(f"hctl.py mesh: node {i + 1} connected to {sorted(peers)}, "
                         f"not {sorted(want)}: {json.dumps(res)[:600]}")
            time.sleep(0.2)


def cmd_probe(a):
    # One record written on every node, then wait until every node has all
    # of them: every replication path carries data before a load starts.
    ids = [f"probe-{a.tag}-{i + 1}" for i in range(len(a.rest))]
    for r, i in zip(a.rest, ids):
        req = urllib.request.Request(f"{r}/{TABLE}/", method="POST",
                                     data=json.dumps({"id": i, "note": "probe"}).encode(),
                                     headers={"Content-Type": "application/json",
                                              "Authorization": AUTH})
        with urllib.request.urlopen(req, timeout=30) as res:
            if res.status not in (200, 201):
                sys.exit(f"hctl.py probe: POST {r}/{TABLE}/ answered {res.status}")
    t0 = time.time()
    deadline = t0 + a.timeout
    for k, o in enumerate(a.ops):
        while True:
            st, res = op(o, {"operation": "search_by_id", "database": DB, "table": TABLE,
                             "ids": ids, "get_attributes": ["id"]}, 10)
            have = {x.get("id") for x in res} if st == 200 and isinstance(res, list) else set()
            if have >= set(ids):
                break
            if time.time() > deadline:
                sys.exit(f"hctl.py probe: node {k + 1} has {sorted(have)} of {ids} after {a.timeout} s")
            time.sleep(0.1)
    print(f"probe records of all {len(ids)} nodes on every node after {time.time() - t0:.2f} s", flush=True)


def cmd_count(a):
    for o in a.ops:
        print(count(o))


def session_ticks(sessions):
    """utime+stime (clock ticks) of every process in these sessions."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        # after the command: state ppid pgrp session ... utime(12) stime(13)
        if int(fields[3]) in sessions:
            total += int(fields[11]) + int(fields[12])
    return total


def have_all(url, ids):
    st, res = op(url, {"operation": "search_by_id", "database": DB, "table": TABLE,
                       "ids": ids, "get_attributes": ["id"]}, 10)
    return st == 200 and isinstance(res, list) and {r.get("id") for r in res} >= set(ids)


def cmd_wait(a):
    deadline = time.time() + a.timeout
    base = [int(x) for x in a.base.split(",")] if a.base else [0] * len(a.ops)
    if len(base) != len(a.ops):
        sys.exit("hctl.py wait: --base needs one count per node")
    sessions = {int(x) for x in a.sessions.split(",") if x}
    out = {"counts": [], "grown": [], "agreed_at": None, "ticks": None, "converged": False}
    # 1. Cheap polls (search_by_id): when does every node have the last
    # --tail acknowledged ids? That time ends the load's measurement
    # (CPU ticks read then); agreeing at the first look means they did
    # when the load ended (--since).
    if a.ids:
        with open(a.ids) as f:
            last = [line.strip() for line in f if line.strip()][-a.tail:]
        first = True
        while last and time.time() < deadline:
            try:
                ok = all(have_all(o, last) for o in a.ops)
            except OSError:
                ok = False
            if ok:
                out["agreed_at"] = a.since if first and a.since else time.time()
                break
            first = False
            time.sleep(a.interval)
        out["ticks"] = session_ticks(sessions)
    # 2. Exact counts (a full scan: not in the measured time): every node
    # grown alike, at least --min, and unchanged for --settle seconds.
    agreed, agreed_at = None, None
    while time.time() < deadline:
        try:
            counts = [count(o) for o in a.ops]
        except (OSError, RuntimeError) as e:
            out["counts"] = [str(e)]
            time.sleep(0.2)
            continue
        grown = [c - b for c, b in zip(counts, base)]
        out["counts"], out["grown"] = counts, grown
        now = time.time()
        if len(set(grown)) == 1 and grown[0] >= a.min:
            if agreed != counts:
                agreed, agreed_at = counts, now
            if now - agreed_at >= a.settle:
                if out["agreed_at"] is None:
                    out["agreed_at"] = agreed_at
                if out["ticks"] is None:
                    out["ticks"] = session_ticks(sessions)
                out["converged"] = True
                print(json.dumps(out))
                return
        else:
            agreed, agreed_at = None, None
        time.sleep(0.2)
    print(json.dumps(out))
    sys.exit(1)


def cmd_diff(a):
    # Every id on every node (a full scan of each): which ids some node
    # lacks, with their creation times from a node that has them.
    sets = []
    for o in a.ops:
        st, res = op(o, {"operation": "search_by_value", "database": DB, "table": TABLE,
                         "search_attribute": "id", "search_value": "*",
                         "get_attributes": ["id"]}, 300)
        if st != 200 or not isinstance(res, list):
            sys.exit(f"hctl.py diff: search_by_value on {o}: {st} {str(res)[:200]}")
        sets.append({r.get("id") for r in res})
    union = set().union(*sets)
    out = {"ids": [len(s) for s in sets], "nodes": []}
    for k, s in enumerate(sets):
        lack = sorted(union - s)
        if not lack:
            continue
        holder = next(j for j, t in enumerate(sets) if lack[0] in t)
        st, res = op(a.ops[holder], {"operation": "search_by_id", "database": DB, "table": TABLE,
                                     "ids": lack[:2000], "get_attributes": ["id", "__createdtime__"]}, 60)
        times = sorted(r.get("__createdtime__") or 0 for r in res) if isinstance(res, list) else []
        out["nodes"].append({"node": k + 1, "lacks": len(lack), "first": lack[:3],
                             "created_from": times[0] if times else None,
                             "created_to": times[-1] if times else None})
    print(json.dumps(out))


def cmd_verify(a):
    with open(a.ids) as f:
        ids = [line.strip() for line in f if line.strip()]
    out = {"ids": len(ids), "unique": len(set(ids)), "missing": [], "rest_checked": 0, "rest_bad": []}
    if len(set(ids)) != len(ids):
        out["error"] = "duplicate acknowledged ids"
    for k, o in enumerate(a.ops):
        seen = set()
        for b in range(0, len(ids), a.batch):
            chunk = ids[b:b + a.batch]
            st, res = op(o, {"operation": "search_by_id", "database": DB, "table": TABLE,
                             "ids": chunk, "get_attributes": ["id"]}, 120)
            if st != 200 or not isinstance(res, list):
                out["missing"].append({"node": k + 1, "error": f"search_by_id {st} {str(res)[:200]}"})
                break
            seen.update(r.get("id") for r in res if isinstance(r, dict))
        lost = [i for i in ids if i not in seen]
        if lost:
            out["missing"].append({"node": k + 1, "count": len(lost), "first": lost[:5]})
    rng = random.Random(len(ids))
    sample = rng.sample(ids, min(a.sample, len(ids)))
    for k, r in enumerate(a.rest):
        for i in sample:
            st, body = get(f"{r}/{TABLE}/{urllib.request.quote(i, safe='')}")
            out["rest_checked"] += 1
            ok = False
            if st == 200:
                try:
                    ok = json.loads(body).get("id") == i
                except (ValueError, AttributeError):
                    ok = False
            if not ok:
                out["rest_bad"].append({"node": k + 1, "id": i, "status": st})
    out["ok"] = not out["missing"] and not out["rest_bad"] and "error" not in out and len(ids) > 0
    print(json.dumps(out))
    sys.exit(0 if out["ok"] else 1)


def main():
    global AUTH
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("ready")
    p.add_argument("--ops", required=True)
    p.add_argument("--rest", required=True)
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("mesh")
    p.add_argument("--ops", required=True)
    p.add_argument("--repl", required=True)
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("probe")
    p.add_argument("--ops", required=True)
    p.add_argument("--rest", required=True)
    p.add_argument("--tag", default="x")
    p.add_argument("--timeout", type=float, default=60)
    p = sub.add_parser("count")
    p.add_argument("--ops", required=True)
    p = sub.add_parser("diff")
    p.add_argument("--ops", required=True)
    p = sub.add_parser("wait")
    p.add_argument("--ops", required=True)
    p.add_argument("--min", type=int, required=True, help="least growth")
    p.add_argument("--base", default="", help="counts before the load, one per node")
    p.add_argument("--ids", default="", help="the acknowledged ids, one a line")
    p.add_argument("--tail", type=int, default=200, help="how many of the last ids to poll for")
    p.add_argument("--sessions", default="", help="session ids of the nodes' processes (CPU ticks)")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--interval", type=float, default=0.05)
    p.add_argument("--settle", type=float, default=0.5)
    p.add_argument("--since", type=float, default=0.0,
                   help="epoch s the load ended: the agreement time if they agree at the first look")
    p = sub.add_parser("verify")
    p.add_argument("--ops", required=True)
    p.add_argument("--rest", required=True)
    p.add_argument("--ids", required=True)
    p.add_argument("--sample", type=int, default=20)
    p.add_argument("--batch", type=int, default=5000)
    a = ap.parse_args()
    AUTH = auth_header()
    a.user, _, a.password = os.environ["HARPER_AUTH"].partition(":")
    for k in ("ops", "rest", "repl"):
        if hasattr(a, k):
            setattr(a, k, [u.rstrip("/") for u in getattr(a, k).split(",") if u])
    {"ready": cmd_ready, "mesh": cmd_mesh, "probe": cmd_probe, "count": cmd_count, "diff": cmd_diff,
     "wait": cmd_wait, "verify": cmd_verify}[a.cmd](a)


if __name__ == "__main__":
    main()

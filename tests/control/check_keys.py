#!/usr/bin/env python3
"""check_keys.py: what fake_loomd.py's logs say each loomd holds, and checks
on it for test_controld.sh. The logs are DIR/nN/loomd.jsonl, node N's; a
START line (the fake started again) empties what that node holds.

  check_keys.py --dir DIR mesh IDS [--newer FILE]
      every node of IDS (comma-separated) holds a key for every other, the
      two ends of each pair hold the same epoch and secret, and the pairs'
      secrets all differ; with --newer, every pair's epoch is also above
      the one in FILE (an earlier output of mesh) and its secret another.
      Prints {"A-B": {"epoch": E, "secret": HEX}, ...}
  check_keys.py --dir DIR removed ID --on IDS
      each node of IDS got a PEER_REMOVE for ID and holds no key for it
  check_keys.py --dir DIR holds-none ID
      node ID holds no key at all
  check_keys.py --dir DIR never-set IDS
      the nodes of IDS never got a PEER_SET, and no node ever got one for
      them

Exit 0 when the check holds (its result on stdout), 1 when not (why on
stderr). --wait S re-reads the logs until it holds, at most S seconds.
"""
import argparse
import glob
import json
import os
import re
import sys
import time


def load(directory):
    """{node: {"held": {peer: {epoch, secret}}, "sets": [...], "removes": [...]}}"""
    nodes = {}
    for path in sorted(glob.glob(os.path.join(directory, "n*", "loomd.jsonl"))):
        m = re.fullmatch(r"n(\d+)", os.path.basename(os.path.dirname(path)))
        if m is None:
            continue
        node = int(m.group(1))
        held, sets, removes = {}, [], []
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    r = json.loads(line)
                except ValueError:
                    continue  # a line being written
                t = r.get("type")
                if t == "START":
                    held = {}  # a restarted loomd holds nothing
                elif t == "PEER_SET":
                    sets.append(r)
                    if r.get("ok"):
                        held[r["peer"]] = {"epoch": r["epoch"],
                                           "secret": r["secret"]}
                elif t == "PEER_REMOVE":
                    removes.append(r)
                    held.pop(r["peer"], None)
        nodes[node] = {"held": held, "sets": sets, "removes": removes}
    return nodes


def ids(s):
    return [int(x) for x in s.split(",") if x]


def check_mesh(nodes, want, newer):
    out, secrets = {}, {}
    for a in want:
        for b in want:
            if a >= b:
                continue
            key = f"{a}-{b}"
            ka = nodes.get(a, {}).get("held", {}).get(b)
            kb = nodes.get(b, {}).get("held", {}).get(a)
            if ka is None or kb is None or ka != kb:
                return None, f"pair {key}: node {a} holds {ka}, node {b} holds {kb}"
            if newer is not None and key in newer:
                old = newer[key]
                if ka["epoch"] <= old["epoch"] or ka["secret"] == old["secret"]:
                    return None, (f"pair {key}: epoch {ka['epoch']} is not "
                                  f"past {old['epoch']}")
            if ka["secret"] in secrets:
                return None, f"pairs {secrets[ka['secret']]} and {key} share a secret"
            secrets[ka["secret"]] = key
            out[key] = ka
    return out, ""


def check_removed(nodes, gone, on):
    for n in on:
        st = nodes.get(n)
        if st is None:
            return None, f"no log of node {n}"
        if gone in st["held"]:
            return None, f"node {n} still holds a key for {gone}"
        if not any(r["peer"] == gone for r in st["removes"]):
            return None, f"node {n} got no PEER_REMOVE for {gone}"
    return {"removed": gone, "on": on}, ""


def check_none(nodes, n):
    st = nodes.get(n)
    if st is None:
        return None, f"no log of node {n}"
    if st["held"]:
        return None, f"node {n} still holds keys for {sorted(st['held'])}"
    return {"node": n, "holds": []}, ""


def check_never(nodes, bad):
    for n in bad:
        st = nodes.get(n)
        if st is None:
            return None, f"no log of node {n}"
        if st["sets"]:
            return None, f"node {n} got PEER_SET: {st['sets']}"
    for n, st in nodes.items():
        for r in st["sets"]:
            if r["peer"] in bad:
                return None, f"node {n} got PEER_SET for {r['peer']}: {r}"
    return {"never_set": bad}, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--wait", type=float, default=0.0)
    ap.add_argument("what", choices=["mesh", "removed", "holds-none",
                                     "never-set"])
    ap.add_argument("arg")
    ap.add_argument("--on", default="")
    ap.add_argument("--newer")
    a = ap.parse_args()
    newer = None
    if a.newer:
        with open(a.newer, encoding="utf-8") as f:
            newer = json.load(f)
    deadline = time.monotonic() + a.wait
    while True:
        nodes = load(a.dir)
        if a.what == "mesh":
            res, why = check_mesh(nodes, ids(a.arg), newer)
        elif a.what == "removed":
            res, why = check_removed(nodes, int(a.arg), ids(a.on))
        elif a.what == "holds-none":
            res, why = check_none(nodes, int(a.arg))
        else:
            res, why = check_never(nodes, ids(a.arg))
        if res is not None:
            print(json.dumps(res, sort_keys=True))
            return 0
        if time.monotonic() >= deadline:
            print(f"check_keys {a.what} {a.arg}: {why}", file=sys.stderr)
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())

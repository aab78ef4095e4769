#!/usr/bin/env python3
"""repl_sample.py: sample replication progress of a Loom cluster while a load
runs, and report the replication lag from origin commit to peer commit.

Every --interval seconds it reads GET /metrics of every node (in parallel
threads) and records, with the time of the read:
  the origin's loom_storage_own_seq (its committed seq), and
  every other node's loom_repl_cursor{origin=ORIGIN} (committed there).
A peer's lag at time t is t - t0, where t0 is the first time the origin's
committed seq reached the peer's cursor at t (interpolated between
samples): how long ago the origin had committed what the peer has
committed now. Samples where the peer is caught up give 0. It stops when
--stop-file appears (or after --duration) and prints one JSON line: the lag
p50/p99/max in ms over all peers and samples taken while the origin was
writing, the samples count, and the origin's seq range.
"""
import argparse
import json
import os
import re
import threading
import time
import urllib.request


def scrape(host, port, timeout):
    with urllib.request.urlopen(f"http://{host}:{port}/metrics",
                                timeout=timeout) as r:
        return r.read().decode()


def value(text, name, labels=None):
    pat = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else r"") + r" (\d+)"
    m = re.search(r"^" + pat + r"$", text, re.M)
    return int(m.group(1)) if m else None


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", required=True, help="comma-separated node IPs, node 1 first")
    ap.add_argument("--ids", required=True, help="comma-separated node ids, same order")
    ap.add_argument("--origin", type=int, default=1, help="index (1-based) of the writing node")
    ap.add_argument("--port", type=int, default=9926)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--duration", type=float, default=120)
    ap.add_argument("--stop-file")
    args = ap.parse_args()
    hosts = args.hosts.split(",")
    ids = [int(x) for x in args.ids.split(",")]
    oi = args.origin - 1
    origin_id = ids[oi]

    series = []   # (t, origin_seq) for interpolation
    peer_samples = []  # (t, peer_cursor)
    end = time.time() + args.duration
    while time.time() < end:
        if args.stop_file and os.path.exists(args.stop_file):
            break
        t_start = time.time()
        texts = [None] * len(hosts)

        def get(i):
            try:
                texts[i] = scrape(hosts[i], args.port, 2)
            except Exception:
                texts[i] = None
        ths = [threading.Thread(target=get, args=(i,)) for i in range(len(hosts))]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        t = time.time()
        if texts[oi] is not None:
            s = value(texts[oi], "loom_storage_own_seq")
            if s is not None:
                series.append((t, s))
        for i, text in enumerate(texts):
            if i == oi or text is None:
                continue
            c = value(text, "loom_repl_cursor", f'origin="{origin_id}"')
            if c is not None:
                peer_samples.append((t, c))
        dt = args.interval - (time.time() - t_start)
        if dt > 0:
            time.sleep(dt)

    def committed_at(seq):
        """First time the origin's committed seq reached seq (interpolated)."""
        prev = None
        for t, s in series:
            if s >= seq:
                if prev is None or prev[1] >= seq:
                    return t
                t0, s0 = prev
                return t0 + (t - t0) * (seq - s0) / max(1, s - s0)
            prev = (t, s)
        return None

    lags = []
    first = series[0][1] if series else 0
    last = series[-1][1] if series else 0
    for t, c in peer_samples:
        if c <= first:
            continue  # before the load's first entry: nothing to lag on
        at = committed_at(c)
        # Only while the origin was still writing past what the peer has.
        origin_now = None
        for ts, s in series:
            if ts <= t:
                origin_now = s
        if at is None or origin_now is None:
            continue
        lags.append(0.0 if c >= origin_now else max(0.0, (t - at) * 1000))
    out = {
        "tool": "repl_sample", "samples": len(lags),
        "origin_seq_first": first, "origin_seq_last": last,
        "lag_ms_p50": pct(lags, 50), "lag_ms_p99": pct(lags, 99),
        "lag_ms_max": max(lags) if lags else None,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

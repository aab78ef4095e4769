#!/usr/bin/env python3
"""A kernel-TCP stand-in for loomd, to develop and check the net TCP tests
(test_tcp_*.sh) before loomd's own TCP exists. Not a test, not run by ctest:

    LOOM_LOOMD=tests/net/fake_loomd.py bash tests/net/test_tcp_echo.sh

It takes loomd's command line (--check-config FILE, --config FILE), reads
the node-config.sh INI, and inside the node namespace (where lib.sh's
start_loomd runs it) gives dp0 the node's IP so that the *kernel* serves:
  [test] echo_port      an echo service (listen backlog = [tcp] syn_backlog)
  [test] connect(_count) active opens that echo what the server sends
It logs "polling port" once per io lcore, writes [run] stats_file every
stats_interval_ms in the shape the tests read (per io lcore "tcp":{...}
with TCP_STATS_LIST's names, totals.tcp_conns/tcp_established/
tcp_retransmits/tcp_syn_cookies_ok) from the node namespace's kernel
counters, and on SIGTERM logs "clean shutdown" and exits 0.
It cannot inject [fault]s (no netem here): test_tcp_faults.sh fails against
it at the retransmission/fault assertions, after the load itself.
"""
import configparser
import errno
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from tcpdata import send_nb

TCP_STATS = (
    "segs_in segs_out bytes_in bytes_out active_opens passive_opens "
    "established closed resets_in resets_out retransmits fast_retransmits "
    "rto_expired dup_acks ooo_segs ooo_dropped zero_window_probes "
    "delayed_acks challenge_acks syn_cookies_sent syn_cookies_ok "
    "syn_cookies_bad syn_backlog_full time_wait time_wait_reused drop_csum "
    "drop_short drop_bad_flags drop_no_conn drop_out_of_window drop_no_mem "
    "conns_full timeouts no_frame").split()


def log(msg):
    print("%s fake_loomd: %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def read_cfg(path):
    cp = configparser.ConfigParser(interpolation=None)
    with open(path) as f:
        cp.read_file(f)
    return cp


def kernel_counters():
    """/proc/net/snmp and /proc/net/netstat of this namespace, flattened."""
    out = {}
    for p in ("/proc/net/snmp", "/proc/net/netstat"):
        with open(p) as f:
            lines = f.read().splitlines()
        for h, v in zip(lines[::2], lines[1::2]):
            pre, names = h.split(":", 1)
            for n, x in zip(names.split(), v.split(":", 1)[1].split()):
                out[pre + n] = int(x)
    return out


def conns_in_use():
    """Sockets of this namespace in any state but LISTEN."""
    with open("/proc/net/tcp") as f:
        return sum(1 for ln in f.read().splitlines()[1:] if ln.split()[3] != "0A")


def main():
    a = sys.argv[1:]
    if len(a) >= 2 and a[0] == "--check-config":
        read_cfg(a[1])
        print("%s: ok (fake_loomd)" % a[1])
        return 0
    if len(a) < 2 or a[0] != "--config":
        print("usage: fake_loomd.py --check-config FILE | --config FILE", file=sys.stderr)
        return 2
    cfg = read_cfg(a[1])
    ip = cfg.get("dataplane", "ip")
    n_io = len(cfg.get("lcores", "io").split(","))
    stats_file = cfg.get("run", "stats_file")
    interval = cfg.getint("run", "stats_interval_ms", fallback=1000) / 1000.0
    backlog = cfg.getint("tcp", "syn_backlog", fallback=256)
    echo_port = cfg.getint("test", "echo_port", fallback=0)
    connect = cfg.get("test", "connect", fallback="")
    connect_count = cfg.getint("test", "connect_count", fallback=1)

    subprocess.run(["ip", "addr", "add", ip, "dev", "dp0"], check=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    sel = selectors.DefaultSelector()
    if echo_port:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((ip.split("/")[0], echo_port))
        ls.listen(backlog)
        ls.setblocking(False)
        sel.register(ls, selectors.EVENT_READ, "listen")
    counts = {"passive_opens": 0, "active_opens": 0, "established": 0,
              "closed": 0, "resets_in": 0}
    buf = bytearray(256 * 1024)
    mv = memoryview(buf)
    if connect:
        host, port = connect.rsplit(":", 1)
        for _ in range(connect_count):
            s = socket.socket()
            s.setblocking(False)
            rc = s.connect_ex((host, int(port)))
            if rc not in (0, errno.EINPROGRESS):
                log("connect: %s" % errno.errorcode.get(rc, rc))
                continue
            sel.register(s, selectors.EVENT_WRITE, ["connecting", None])
    for i in range(n_io):
        log("lcore %d polling port 0 queue %d" % (i + 1, i))
    k0 = kernel_counters()
    next_stats = 0.0

    def close(s, how):
        sel.unregister(s)
        s.close()
        counts["closed"] += 1
        if how == "reset":
            counts["resets_in"] += 1

    while not stop:
        now = time.monotonic()
        if now >= next_stats:
            k = kernel_counters()
            d = {n: k.get(n, 0) - k0.get(n, 0) for n in k}
            tcp = {n: 0 for n in TCP_STATS}
            tcp.update(counts)
            tcp.update(segs_in=d["TcpInSegs"], segs_out=d["TcpOutSegs"],
                       retransmits=d["TcpRetransSegs"],
                       resets_out=d["TcpOutRsts"],
                       syn_cookies_sent=d["TcpExtSyncookiesSent"],
                       syn_cookies_ok=d["TcpExtSyncookiesRecv"],
                       syn_cookies_bad=d["TcpExtSyncookiesFailed"],
                       syn_backlog_full=d.get("TcpExtTCPReqQFullDoCookies", 0)
                       + d["TcpExtListenDrops"],
                       drop_csum=d["TcpInCsumErrors"])
            st = {"node": cfg.get("node", "name"), "lcores": [
                {"lcore": 1, "role": "io", "queue": 0,
                 "fault": {"dropped": 0, "duplicated": 0, "reordered": 0, "corrupted": 0},
                 "net": {}, "tcp": tcp}] + [
                {"lcore": i + 1, "role": "io", "queue": i,
                 "fault": {"dropped": 0, "duplicated": 0, "reordered": 0, "corrupted": 0},
                 "net": {}, "tcp": {n: 0 for n in TCP_STATS}} for i in range(1, n_io)],
                "totals": {"net_drops": 0, "fault_dropped": 0,
                           "tcp_conns": conns_in_use(),
                           "tcp_established": tcp["established"],
                           "tcp_retransmits": tcp["retransmits"],
                           "tcp_syn_cookies_ok": tcp["syn_cookies_ok"]}}
            with open(stats_file + ".tmp", "w") as f:
                json.dump(st, f)
            os.replace(stats_file + ".tmp", stats_file)
            next_stats = now + interval
        for key, mask in sel.select(min(interval, 0.1)):
            s, d = key.fileobj, key.data
            if d == "listen":
                while True:
                    try:
                        c, _ = s.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    counts["passive_opens"] += 1
                    counts["established"] += 1
                    sel.register(c, selectors.EVENT_READ, ["open", None])
                continue
            try:
                if d[0] == "connecting":
                    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        log("active open: %s" % errno.errorcode.get(err, err))
                        close(s, "error")
                        continue
                    counts["active_opens"] += 1
                    counts["established"] += 1
                    d[0] = "open"
                    sel.modify(s, selectors.EVENT_READ, d)
                    continue
                if mask & selectors.EVENT_WRITE:
                    n = s.send(d[1])
                    d[1] = d[1][n:]
                    if not d[1]:
                        d[1] = None
                        sel.modify(s, selectors.EVENT_READ, d)
                    continue
                n = s.recv_into(buf)
                if n == 0:
                    close(s, "fin")
                    continue
                m = send_nb(s, mv[:n])
                if m < n:
                    d[1] = memoryview(bytes(mv[m:n]))
                    sel.modify(s, selectors.EVENT_WRITE, d)
            except BlockingIOError:
                continue
            except OSError as e:
                log("connection error: %s" % e)
                close(s, "reset")
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    subprocess.run(["ip", "addr", "del", ip, "dev", "dp0"], check=False)
    log("clean shutdown")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""fake_loomd.py: a stand-in for loomd's control socket ([control] socket,
dataplane/ctl_server.c), for loom-controld's tests.

  fake_loomd.py --socket PATH --id N --name NAME --cluster ID --log FILE
                [--rate ENTRIES_PER_S]

Listens on PATH (a stale socket file is replaced; mode 0600), one client
at a time (a new connection replaces the old one, as loomd does), and
speaks common/ctl_msg.h's framing:

  HELLO        -> HELLO (our --id, --cluster, --name)
  PEER_SET     -> OK; or ERROR(INVALID) for the same epoch with another
                  secret, as loomd refuses it
  PEER_REMOVE  -> OK; or ERROR(NO_NODE) for a peer it does not hold
  STATUS_REQ   -> STATUS built from what it holds: every peer with a key,
                  up=1, its epoch; cursor = head = acked = sent growing by
                  --rate entries per second since the key came
  anything else, or anything before HELLO -> ERROR(PROTOCOL) and close

Every line of --log is one JSON object, written and flushed as it happens:
  {"type": "START", "id": N, "name": ..., "pid": ...}
  {"type": "HELLO", "node_id": ..., "name": ..., "cluster_id": ...}
  {"type": "PEER_SET", "peer": ID, "ip": "A.B.C.D", "epoch": E,
   "secret": HEX, "ok": true|false}
  {"type": "PEER_REMOVE", "peer": ID, "ok": true|false}
  {"type": "CONNECT"} / {"type": "DISCONNECT"}
SIGTERM or SIGINT: exits 0 and removes the socket.
"""
import argparse
import json
import os
import selectors
import signal
import socket
import stat
import struct
import sys
import time

HELLO, OK, ERROR, PEER_SET, PEER_REMOVE, STATUS_REQ, STATUS = 1, 2, 3, 4, 5, 6, 7
CODE_PROTOCOL, CODE_INVALID, CODE_NO_NODE = 1, 5, 7
FRAME_MAX = 4 + 65536


def frame(mtype, payload):
    return struct.pack(">IHH", 4 + len(payload), mtype, 0) + payload


def string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


class FakeLoomd:
    def __init__(self, args):
        self.args = args
        self.peers = {}  # id -> {"epoch", "secret", "ip", "since"}
        self.client = None
        self.rx = b""
        self.tx = b""
        self.hello = False
        self.closing = False
        self.log = open(args.log, "a", encoding="utf-8")
        self.sel = selectors.DefaultSelector()
        self.stop = False

    def record(self, **obj):
        obj["t"] = round(time.time(), 3)
        self.log.write(json.dumps(obj, sort_keys=True) + "\n")
        self.log.flush()

    def listen(self):
        path = self.args.socket
        try:
            if stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        except FileNotFoundError:
            pass
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self.lsock.bind(path)
        finally:
            os.umask(old)
        self.lsock.listen(4)
        self.lsock.setblocking(False)
        self.sel.register(self.lsock, selectors.EVENT_READ, "listen")
        self.record(type="START", id=self.args.id, name=self.args.name,
                    pid=os.getpid())

    def drop_client(self):
        if self.client is None:
            return
        self.sel.unregister(self.client)
        self.client.close()
        self.client = None
        self.rx = self.tx = b""
        self.hello = self.closing = False
        self.record(type="DISCONNECT")

    def accept(self):
        try:
            c, _ = self.lsock.accept()
        except BlockingIOError:
            return
        self.drop_client()
        c.setblocking(False)
        self.client = c
        self.sel.register(c, selectors.EVENT_READ, "client")
        self.record(type="CONNECT")

    def send(self, mtype, payload):
        self.tx += frame(mtype, payload)

    def error(self, code, req, msg):
        self.send(ERROR, struct.pack(">HI", code, req) + string(msg))

    def status(self, req):
        now = time.time()
        entries = b""
        ids = sorted(self.peers)
        for pid in ids:
            p = self.peers[pid]
            n = int((now - p["since"]) * self.args.rate)
            entries += struct.pack(">HBH7Q", pid, 1, p["epoch"], n, n, n, n,
                                   0, 0, 0)
        own = int((now - self.start) * self.args.rate)
        return struct.pack(">IHQQH", req, self.args.id, own,
                           int(now * 1000), len(ids)) + entries

    def handle(self, mtype, p):
        if mtype == HELLO:
            version, node_id, cluster_id, nlen = struct.unpack(">HHQH", p[:14])
            self.record(type="HELLO", node_id=node_id, cluster_id=cluster_id,
                        name=p[14:14 + nlen].decode())
            self.hello = True
            self.send(HELLO, struct.pack(">HHQ", 1, self.args.id,
                                         self.args.cluster)
                      + string(self.args.name))
            return
        if not self.hello:
            self.error(CODE_PROTOCOL, 0, "HELLO first")
            self.closing = True
            return
        if mtype == PEER_SET:
            req, pid = struct.unpack(">IH", p[:6])
            ip = socket.inet_ntoa(p[6:10])
            (epoch,) = struct.unpack(">H", p[10:12])
            secret = p[12:44].hex()
            old = self.peers.get(pid)
            ok = not (old and old["epoch"] == epoch and old["secret"] != secret)
            self.record(type="PEER_SET", peer=pid, ip=ip, epoch=epoch,
                        secret=secret, ok=ok)
            if not ok:
                self.error(CODE_INVALID, req, "the same epoch with another "
                           "secret")
                return
            if not old or old["epoch"] != epoch:
                self.peers[pid] = {"epoch": epoch, "secret": secret, "ip": ip,
                                   "since": time.time()}
            self.send(OK, struct.pack(">HI", PEER_SET, req))
        elif mtype == PEER_REMOVE:
            req, pid = struct.unpack(">IH", p[:6])
            ok = pid in self.peers
            self.record(type="PEER_REMOVE", peer=pid, ok=ok)
            if ok:
                del self.peers[pid]
                self.send(OK, struct.pack(">HI", PEER_REMOVE, req))
            else:
                self.error(CODE_NO_NODE, req, "no such peer")
        elif mtype == STATUS_REQ:
            (req,) = struct.unpack(">I", p[:4])
            self.send(STATUS, self.status(req))
        else:
            self.error(CODE_PROTOCOL, 0, f"unexpected type {mtype}")
            self.closing = True

    def read(self):
        try:
            data = self.client.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.drop_client()
            return
        self.rx += data
        while len(self.rx) >= 4 and not self.closing:
            (length,) = struct.unpack(">I", self.rx[:4])
            if not 4 <= length <= 65536:
                self.error(CODE_PROTOCOL, 0, "bad frame length")
                self.closing = True
                break
            if len(self.rx) < 4 + length:
                break
            body, self.rx = self.rx[4:4 + length], self.rx[4 + length:]
            mtype, _flags = struct.unpack(">HH", body[:4])
            try:
                self.handle(mtype, body[4:])
            except (struct.error, UnicodeDecodeError) as e:
                self.error(CODE_PROTOCOL, 0, f"malformed: {e}")
                self.closing = True

    def write(self):
        while self.client is not None and self.tx:
            try:
                n = self.client.send(self.tx)
            except BlockingIOError:
                return
            except OSError:
                self.drop_client()
                return
            self.tx = self.tx[n:]
        if self.client is not None and self.closing and not self.tx:
            self.drop_client()

    def run(self):
        self.start = time.time()
        self.listen()
        while not self.stop:
            if self.client is not None:
                ev = selectors.EVENT_READ
                if self.tx:
                    ev |= selectors.EVENT_WRITE
                self.sel.modify(self.client, ev, "client")
            for key, mask in self.sel.select(timeout=0.5):
                if key.data == "listen":
                    self.accept()
                elif self.client is not None:
                    if mask & selectors.EVENT_READ:
                        self.read()
                    if self.client is not None:
                        self.write()
        self.drop_client()
        self.lsock.close()
        try:
            os.unlink(self.args.socket)
        except FileNotFoundError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--id", type=int, required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--cluster", type=lambda s: int(s, 0), required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--rate", type=float, default=0.0)
    args = ap.parse_args()
    fake = FakeLoomd(args)

    def stop(_sig, _frm):
        fake.stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    fake.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""ctl_keys.py: talk to loomd's control socket ([control] socket) the way
loom-controld does (common/ctl_msg.h framing, docs/CONTROL.md), so the
cluster tests can drive the data plane's keys and peers directly: install
a key (PEER_SET), remove a peer (PEER_REMOVE), read the links (STATUS).

  ctl_keys.py set SOCKET PEER_ID PEER_IP EPOCH SECRET_HEX
  ctl_keys.py remove SOCKET PEER_ID
  ctl_keys.py status SOCKET          (one JSON object)
  ctl_keys.py hello SOCKET           (loomd's HELLO as JSON)

Exit 0 on OK, 1 on an ERROR answer (printed), 2 on usage, 3 when loomd
cannot be reached or answers something unexpected.
"""
import json
import socket
import struct
import sys

HELLO, OK, ERROR, PEER_SET, PEER_REMOVE, STATUS_REQ, STATUS = 1, 2, 3, 4, 5, 6, 7
TIMEOUT_S = 10


def frame(mtype, payload):
    return struct.pack(">IHH", 4 + len(payload), mtype, 0) + payload


def hello_payload():
    name = b"ctl_keys"
    return struct.pack(">HHQH", 1, 0, 0, len(name)) + name


def read_frame(sock):
    buf = b""
    while len(buf) < 4:
        chunk = sock.recv(4 - len(buf))
        if not chunk:
            raise ConnectionError("loomd closed the socket")
        buf += chunk
    (length,) = struct.unpack(">I", buf)
    if not 4 <= length <= 65536:
        raise ConnectionError(f"bad frame length {length}")
    body = b""
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        if not chunk:
            raise ConnectionError("loomd closed the socket mid-frame")
        body += chunk
    mtype, flags = struct.unpack(">HH", body[:4])
    return mtype, body[4:]


def decode_hello(p):
    version, node_id, cluster_id, nlen = struct.unpack(">HHQH", p[:14])
    return {"version": version, "node_id": node_id, "cluster_id": cluster_id,
            "name": p[14:14 + nlen].decode()}


def decode_error(p):
    code, req, mlen = struct.unpack(">HIH", p[:8])
    return {"code": code, "req": req, "message": p[8:8 + mlen].decode()}


def decode_status(p):
    req, node_id, own_seq, now_ms, n = struct.unpack(">IHQQH", p[:24])
    peers = []
    off = 24
    for _ in range(n):
        (pid, up, epoch, cursor, head, acked, sent, lag_ms, reconnects,
         rejected) = struct.unpack(">HBHQQQQQQQ", p[off:off + 61])
        peers.append({"peer": pid, "up": up, "epoch": epoch, "cursor": cursor,
                      "head": head, "acked": acked, "sent": sent,
                      "lag_ms": lag_ms, "reconnects": reconnects,
                      "frames_rejected": rejected})
        off += 61
    return {"node_id": node_id, "own_seq": own_seq, "now_ms": now_ms,
            "peers": peers}


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT_S)
    s.connect(path)
    s.sendall(frame(HELLO, hello_payload()))
    mtype, p = read_frame(s)
    if mtype != HELLO:
        raise ConnectionError(f"expected HELLO, got type {mtype}")
    return s, decode_hello(p)


def answer(s, want):
    mtype, p = read_frame(s)
    if mtype == ERROR:
        print(json.dumps(decode_error(p)))
        return 1
    if mtype != want:
        raise ConnectionError(f"expected type {want}, got {mtype}")
    return p


def main(argv):
    if len(argv) < 3 or argv[1] not in ("set", "remove", "status", "hello"):
        print(__doc__, file=sys.stderr)
        return 2
    cmd, path = argv[1], argv[2]
    try:
        s, hello = connect(path)
        if cmd == "hello":
            print(json.dumps(hello))
            return 0
        if cmd == "set":
            if len(argv) != 7:
                print(__doc__, file=sys.stderr)
                return 2
            peer, ip, epoch, secret = (int(argv[3]), argv[4], int(argv[5]),
                                       bytes.fromhex(argv[6]))
            if len(secret) != 32:
                print("the secret is 32 bytes (64 hex digits)", file=sys.stderr)
                return 2
            s.sendall(frame(PEER_SET, struct.pack(">IH", 1, peer) +
                            socket.inet_aton(ip) + struct.pack(">H", epoch) +
                            secret))
            r = answer(s, OK)
            return r if isinstance(r, int) else 0
        if cmd == "remove":
            s.sendall(frame(PEER_REMOVE, struct.pack(">IH", 2, int(argv[3]))))
            r = answer(s, OK)
            return r if isinstance(r, int) else 0
        s.sendall(frame(STATUS_REQ, struct.pack(">IB", 3, 0)))
        r = answer(s, STATUS)
        if isinstance(r, int):
            return r
        print(json.dumps(decode_status(r)))
        return 0
    except (OSError, ConnectionError, struct.error) as e:
        print(f"ctl_keys.py: {path}: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Truth log: what a client itself did, written beside each capture as <name>.truth.json.

The format is documented at the top of scripts/make-captures.sh. Clients record connections and
operations here; `Truth.write()` derives the per-command counts, per-key hits/misses and the
per-server split from the ordered op list, so the counts can never disagree with the ops.
"""
import json
import os
import socket
import threading
import time

TRUTH_VERSION = 1


def endpoint(addr):
    """(host, port[, flow, scope]) -> "host:port", IPv6 as "[host]:port" (the workload model's serverKey)."""
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def lat(b):
    """Keys are bytes on the wire; latin1 round-trips every byte (the workload model does the same)."""
    return b.decode("latin1") if isinstance(b, (bytes, bytearray)) else str(b)


class Truth:
    """Thread-safe recorder of connections and ops, in the order the client issued them."""

    def __init__(self, capture, source, client, protocol, transport="tcp", notes=None, t0=None):
        self.capture = capture
        self.source = source
        self.client = client
        self.protocol = protocol
        self.transport = transport
        self.notes = list(notes or [])
        self.servers = []
        self.conns = []
        self.ops = []
        self.lock = threading.Lock()
        # CLOCK_MONOTONIC is system-wide: worker processes given the parent's t0 share its time base
        self.t0 = t0 if t0 is not None else time.monotonic_ns()
        self.extra = {}

    def server(self, ep):
        with self.lock:
            if ep not in self.servers:
                self.servers.append(ep)

    def connection(self, sock, transport=None, midstream=False, note=None):
        """Registers a connected socket; returns its connection id (ids are in connect order)."""
        local = endpoint(sock.getsockname())
        peer = endpoint(sock.getpeername())
        return self.connection_eps(local, peer, transport, midstream, note)

    def connection_eps(self, local, peer, transport=None, midstream=False, note=None):
        """Registers a connection by its endpoints; returns its id."""
        with self.lock:
            cid = len(self.conns)
            c = {"id": cid, "transport": transport or self.transport, "client": local, "server": peer,
                 "midstream": midstream, "requests": 0}
            if note:
                c["note"] = note
            self.conns.append(c)
            if peer not in self.servers:
                self.servers.append(peer)
            return cid

    def op(self, conn, cmd, keys=(), quiet=False, value_len=0, result=None, hits=None, misses=None,
           error=None, **extra):
        """Records one protocol request (a multi-key get is ONE op with several keys)."""
        o = {"conn": conn, "cmd": cmd, "keys": [lat(k) for k in keys], "quiet": bool(quiet),
             "valueLen": int(value_len), "result": result}
        if hits is not None:
            o["hits"] = hits
            o["misses"] = misses
        if error:
            o["error"] = error
        o.update(extra)
        with self.lock:
            o["tMs"] = round((time.monotonic_ns() - self.t0) / 1e6, 3)
            o["seq"] = self.conns[conn]["requests"]
            self.conns[conn]["requests"] += 1
            self.ops.append(o)
        return o

    def summary(self):
        """Counts derived from the ops (see make-captures.sh for the meaning of each field)."""
        per_cmd = {}
        per_server = {}
        keys = {}
        errors = {}
        for o in self.ops:
            c = per_cmd.setdefault(o["cmd"], {"requests": 0, "keys": 0, "quiet": 0, "errors": 0})
            c["requests"] += 1
            c["keys"] += len(o["keys"])
            if o["quiet"]:
                c["quiet"] += 1
            if o.get("error"):
                c["errors"] += 1
                errors[o["error"]] = errors.get(o["error"], 0) + 1
            srv = self.conns[o["conn"]]["server"]
            s = per_server.setdefault(srv, {"connections": 0, "requests": 0, "perCommand": {}})
            s["requests"] += 1
            s["perCommand"][o["cmd"]] = s["perCommand"].get(o["cmd"], 0) + 1
            if "hits" in o:
                c["hits"] = c.get("hits", 0) + o["hits"]
                c["misses"] = c.get("misses", 0) + o["misses"]
            hit_keys = o.get("hitKeys")
            for k in o["keys"]:
                kk = keys.setdefault(k, {"server": srv, "requests": 0})
                kk["requests"] += 1
                if kk["server"] != srv:
                    kk["server"] = "several"
                if hit_keys is not None:
                    kk["reads"] = kk.get("reads", 0) + 1
                    if k in hit_keys:
                        kk["hits"] = kk.get("hits", 0) + 1
                    else:
                        kk["misses"] = kk.get("misses", 0) + 1
        for kk in keys.values():
            if "reads" in kk:
                kk.setdefault("hits", 0)
                kk.setdefault("misses", 0)
        for cn in self.conns:
            s = per_server.setdefault(cn["server"], {"connections": 0, "requests": 0, "perCommand": {}})
            s["connections"] += 1
        return per_cmd, per_server, keys, errors

    def write(self, path, file_info, include_ops=True, include_keys=True):
        per_cmd, per_server, keys, errors = self.summary()
        hits = sum(c.get("hits", 0) for c in per_cmd.values())
        misses = sum(c.get("misses", 0) for c in per_cmd.values())
        doc = {
            "truthVersion": TRUTH_VERSION,
            "capture": self.capture,
            "source": self.source,
            "client": self.client,
            "protocol": self.protocol,
            "transport": self.transport,
            "file": file_info,
            "servers": self.servers,
            "connectionCount": sum(1 for c in self.conns if c["transport"] == "tcp"),
            "midstreamConnections": sum(1 for c in self.conns if c["midstream"]),
            "requests": len(self.ops),
            "quietRequests": sum(1 for o in self.ops if o["quiet"]),
            "readKeys": {"hits": hits, "misses": misses},
            "perCommand": dict(sorted(per_cmd.items())),
            "perServer": per_server,
            "errors": errors,
            "distinctKeys": len(keys),
            "notes": self.notes,
        }
        doc.update(self.extra)
        doc["connections"] = self.conns
        if include_keys:
            doc["keys"] = keys
        if include_ops:
            doc["ops"] = self.ops
        write_json(path, doc)
        return doc


def write_json(path, doc):
    """Writes JSON with one op / connection per line: diffable, and small enough for git."""
    def dump(v):
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)

    lines = ["{"]
    items = list(doc.items())
    for i, (k, v) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(v, list) and v and isinstance(v[0], dict):
            lines.append(f"  {dump(k)}: [")
            for j, e in enumerate(v):
                lines.append("    " + dump(e) + ("," if j < len(v) - 1 else ""))
            lines.append("  ]" + comma)
        elif isinstance(v, dict) and k in ("keys",):
            lines.append(f"  {dump(k)}: {{")
            ks = list(v.items())
            for j, (kk, vv) in enumerate(ks):
                lines.append(f"    {dump(kk)}: {dump(vv)}" + ("," if j < len(ks) - 1 else ""))
            lines.append("  }" + comma)
        else:
            lines.append(f"  {dump(k)}: {json.dumps(v, ensure_ascii=False)}" + comma)
    lines.append("}")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def parse_server(s):
    """"host:port" or "[v6]:port" -> (host, port)."""
    if s.startswith("["):
        host, _, port = s[1:].partition("]:")
    else:
        host, _, port = s.rpartition(":")
    return host, int(port)


def connect(server, rcvbuf=None):
    """Plain TCP connection for the raw clients (TCP_NODELAY like real clients)."""
    host, port = parse_server(server)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(10)
    s.connect((host, port))
    return s


class Reader:
    """Buffered reads of lines and exact byte counts from a socket (the raw clients' own view)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        d = self.sock.recv(262144)
        if not d:
            raise EOFError("connection closed by server")
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                ln = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return ln
            self._fill()

    def exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

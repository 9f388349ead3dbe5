"""Raw-socket binary protocol client: quiet pipelines (getkq/getq/setq/deleteq/... ended by noop),
plain opcodes, incr/decr, touch/gat, append/prepend, multi-packet stat, version, and SASL packets.

Usage: binary_client.py SERVER TRUTH_JSON CAPTURE_NAME
Each request carries a unique opaque; the client matches answers by it. A quiet request without
an answer before the closing noop's answer gets result "none" (getq/getkq/gatq: a miss; the
quiet mutators: success).
"""
import struct
import sys

from truthlog import Reader, Truth, connect

OPS = {
    "get": 0x00, "set": 0x01, "add": 0x02, "replace": 0x03, "delete": 0x04, "increment": 0x05,
    "decrement": 0x06, "quit": 0x07, "flush": 0x08, "getq": 0x09, "noop": 0x0A, "version": 0x0B,
    "getk": 0x0C, "getkq": 0x0D, "append": 0x0E, "prepend": 0x0F, "stat": 0x10, "setq": 0x11,
    "addq": 0x12, "replaceq": 0x13, "deleteq": 0x14, "incrementq": 0x15, "decrementq": 0x16,
    "quitq": 0x17, "flushq": 0x18, "appendq": 0x19, "prependq": 0x1A, "verbosity": 0x1B,
    "touch": 0x1C, "gat": 0x1D, "gatq": 0x1E, "sasl_list_mechs": 0x20, "sasl_auth": 0x21,
    "sasl_step": 0x22, "gatk": 0x23, "gatkq": 0x24,
}
STATUS = {0x00: "no_error", 0x01: "key_not_found", 0x02: "key_exists", 0x03: "value_too_large",
          0x04: "invalid_arguments", 0x05: "item_not_stored", 0x06: "non_numeric",
          0x07: "vbucket_mismatch", 0x20: "auth_error", 0x21: "auth_continue",
          0x81: "unknown_command", 0x82: "out_of_memory"}
READS = {"get", "getq", "getk", "getkq", "gat", "gatq", "gatk", "gatkq"}
# what silence means for a quiet opcode
SILENT_MEANS = {"getq": "key_not_found", "getkq": "key_not_found", "gatq": "key_not_found",
                "gatkq": "key_not_found", "quitq": "no_error"}
HDR = struct.Struct(">BBHBBHIIQ")


class BinConn:
    def __init__(self, truth, server, note=None):
        self.t = truth
        self.sock = connect(server)
        self.rd = Reader(self.sock)
        self.cid = truth.connection(self.sock, note=note)
        self.opaque = 0x1000

    def req(self, op, key=b"", extras=b"", value=b"", cas=0):
        self.opaque += 1
        body = len(extras) + len(key) + len(value)
        raw = HDR.pack(0x80, OPS[op], len(key), len(extras), 0, 0, body, self.opaque, cas) + extras + key + value
        return {"op": op, "key": key, "value": value, "opaque": self.opaque, "raw": raw,
                "quiet": op.endswith("q")}

    def read_packet(self):
        h = self.rd.exact(24)
        magic, op, klen, elen, _dt, status, body, opaque, cas = HDR.unpack(h)
        if magic != 0x81:
            raise SystemExit(f"bad response magic {magic:#x}")
        payload = self.rd.exact(body)
        return {"op": op, "status": status, "opaque": opaque, "cas": cas, "key": payload[elen:elen + klen],
                "value": payload[elen + klen:]}

    def batch(self, reqs, close_expected=False):
        """Sends reqs in one write; reads until every non-quiet request (and stat's end) is answered."""
        self.sock.sendall(b"".join(r["raw"] for r in reqs))
        by_opaque = {r["opaque"]: r for r in reqs}
        waiting = {r["opaque"] for r in reqs if not r["quiet"]}
        while waiting:
            try:
                p = self.read_packet()
            except EOFError:
                if close_expected:
                    break
                raise
            r = by_opaque[p["opaque"]]
            if r["op"] == "stat":
                r.setdefault("stats", 0)
                if p["key"]:
                    r["stats"] += 1
                    continue
            r["resp"] = p
            self.last_resp = p
            waiting.discard(p["opaque"])
        for r in reqs:
            self.log(r)

    def log(self, r):
        op = r["op"]
        p = r.get("resp")
        status = STATUS.get(p["status"], f"0x{p['status']:04x}") if p else None
        extra = {"opcode": OPS[op]}
        if op.startswith("sasl_auth") or op == "sasl_step":
            extra["credentials"] = True
        if r.get("stats") is not None:
            extra["statPackets"] = r["stats"] + 1
        if op in READS:
            st = status or SILENT_MEANS[op]
            hit = st == "no_error"
            extra.update(hits=int(hit), misses=int(not hit) if st in ("no_error", "key_not_found") else 0,
                         hitKeys=[r["key"].decode("latin1")] if hit else [])
            if p and hit:
                extra["valueBytes"] = len(p["value"])
        err = status if status in ("unknown_command", "invalid_arguments", "out_of_memory",
                                   "value_too_large", "non_numeric", "auth_error") else None
        keys = [r["key"]] if r["key"] else []
        if op in ("stat", "sasl_auth", "sasl_step") and keys:
            # the key field names a stat group or a SASL mechanism; kept as the key the wire carries
            extra["args"] = [k.decode("latin1") for k in keys]
        self.t.op(self.cid, op, keys, quiet=r["quiet"], value_len=len(r["value"]),
                  result=status or "none", error=err, **extra)


def store_extras(flags=0, exp=0):
    return struct.pack(">II", flags, exp)


def arith_extras(delta, initial=0, exp=0):
    return struct.pack(">QQI", delta, initial, exp)


def main():
    server, truth_path, capture = sys.argv[1], sys.argv[2], sys.argv[3]
    t = Truth(capture, "client-log", "scripts/clients/binary_client.py (raw socket)", "binary", notes=[
        "cmd is the opcode name (memcached protocol_binary.h names, lower case); opcode holds the number",
        "result is the response status name; 'none' = a quiet request answered by silence",
        "binary verbosity is left out: memcached 1.6.18 answers it unknown_command and swallows the next request, or not at all after a stat",
        "memcached runs without SASL: sasl_* requests are answered unknown_command",
        "the sasl_auth request carries the credentials PLAIN \\0user\\0s3cret-password (fake; must never be printed)",
    ])
    c = BinConn(t, server)
    b = c.batch
    b([c.req("version"), c.req("noop")])
    # quiet sets, then a noop: only errors would answer
    b([c.req("setq", b"q:%d" % i, store_extras(i, 0), b"value-%d" % i) for i in range(6)] + [c.req("noop")])
    # the classic multi-get: getkq for each key, noop at the end; misses are silent
    b([c.req("getkq", b"q:%d" % i) for i in range(10)] + [c.req("noop")])
    b([c.req("getq", b"q:%d" % i) for i in (0, 7, 2, 8)] + [c.req("noop")])
    b([c.req("get", b"q:1")])
    b([c.req("get", b"absent")])
    b([c.req("getk", b"q:2"), c.req("getk", b"absent2")])
    b([c.req("set", b"s1", store_extras(3, 0), b"x" * 3000)])
    b([c.req("add", b"s1", store_extras(), b"dup"), c.req("add", b"s2", store_extras(), b"new"),
       c.req("replace", b"none", store_extras(), b"r"), c.req("replace", b"s2", store_extras(), b"r2")])
    b([c.req("addq", b"s1", store_extras(), b"dup"), c.req("replaceq", b"none", store_extras(), b"r"),
       c.req("appendq", b"s2", b"", b"-a"), c.req("prependq", b"s2", b"", b"p-"), c.req("noop")])
    b([c.req("append", b"s2", b"", b"+"), c.req("prepend", b"nokey", b"", b"+")])
    b([c.req("increment", b"ctr", arith_extras(1, 100, 0)), c.req("increment", b"ctr", arith_extras(5)),
       c.req("decrement", b"ctr", arith_extras(2)), c.req("increment", b"noauto", arith_extras(1, 0, 0xFFFFFFFF)),
       c.req("increment", b"s2", arith_extras(1))])
    b([c.req("incrementq", b"ctr", arith_extras(10)), c.req("decrementq", b"ctr", arith_extras(1)),
       c.req("incrementq", b"s1", arith_extras(1)), c.req("noop")])
    b([c.req("touch", b"s1", struct.pack(">I", 300)), c.req("touch", b"ghost", struct.pack(">I", 300))])
    b([c.req("gat", b"q:3", struct.pack(">I", 600)), c.req("gat", b"ghost", struct.pack(">I", 600))])
    b([c.req("gatq", b"q:4", struct.pack(">I", 600)), c.req("gatq", b"ghost", struct.pack(">I", 600)),
       c.req("gatkq", b"q:5", struct.pack(">I", 600)), c.req("gatk", b"q:0", struct.pack(">I", 600)),
       c.req("noop")])
    b([c.req("delete", b"q:0"), c.req("delete", b"q:0")])
    b([c.req("deleteq", b"q:1"), c.req("deleteq", b"never"), c.req("noop")])
    b([c.req("setq", b"big", store_extras(), bytes(range(256)) * 200), c.req("getq", b"big"), c.req("noop")])
    b([c.req("set", b"cas1", store_extras(), b"v1")])
    # cas on set: the token from a get, then the same (now stale) token
    b([c.req("getk", b"cas1")])
    b([c.req("get", b"cas1")])
    p = c.last_resp
    b([c.req("set", b"cas1", store_extras(), b"v2", cas=p["cas"]), c.req("set", b"cas1", store_extras(), b"v3", cas=p["cas"])])
    b([c.req("stat")])
    b([c.req("stat", b"settings")])
    b([c.req("quitq")], close_expected=True)
    c.sock.close()

    # a second connection: SASL (credentials!) then an unknown opcode, then quit
    s = BinConn(t, server, note="SASL attempt against a server without SASL")
    s.batch([s.req("sasl_list_mechs")])
    s.batch([s.req("sasl_auth", b"PLAIN", b"", b"\x00user\x00s3cret-password")])
    s.batch([s.req("get", b"q:2")])
    s.batch([s.req("quit")], close_expected=True)
    s.sock.close()
    t.write(truth_path, {})


if __name__ == "__main__":
    main()

"""Raw-socket meta protocol client: mg/ms/md/ma/mn/me with q, O, k, b (base64 keys), T, N, c ...

Usage: meta_client.py SERVER TRUTH_JSON CAPTURE_NAME
Requests go out in pipelined groups; quiet (q) requests carry an O token so the client can tell
which of them were answered. What a suppressed quiet request means is the protocol's own rule:
mg q -> EN (miss), ms/md/ma q -> HD (success).
"""
import base64
import sys

from truthlog import Reader, Truth, connect

QUIET_MEANS = {"mg": "EN", "ms": "HD", "md": "HD", "ma": "HD"}


class MetaConn:
    def __init__(self, truth, server):
        self.t = truth
        self.sock = connect(server)
        self.rd = Reader(self.sock)
        self.cid = truth.connection(self.sock)
        self.opaque = 0

    def req(self, cmd, key=None, flags=(), data=None, b64=False, opaque=False):
        """Builds one request; returns a dict describing it (bytes are sent by group())."""
        flags = list(flags)
        if b64:
            flags.append("b")
        tok = None
        if opaque or "q" in flags:
            self.opaque += 1
            tok = str(self.opaque)
            flags.append("O" + tok)
        wire_key = base64.b64encode(key) if (b64 and key is not None) else key
        parts = [cmd.encode()]
        if wire_key is not None:
            parts.append(wire_key)
        if cmd == "ms":
            parts.append(str(len(data)).encode())
        parts += [f.encode() for f in flags]
        raw = b" ".join(parts) + b"\r\n"
        if data is not None:
            raw += data + b"\r\n"
        return {"cmd": cmd, "key": key, "flags": flags, "data": data, "tok": tok, "raw": raw,
                "quiet": "q" in flags}

    def group(self, reqs):
        """Sends reqs in one write, reads every answer, logs one op per request."""
        self.sock.sendall(b"".join(r["raw"] for r in reqs))
        by_tok = {r["tok"]: r for r in reqs if r["tok"]}
        plain = [r for r in reqs if not r["tok"]]
        ends_with_mn = reqs[-1]["cmd"] == "mn"
        # requests whose answer can be suppressed are the quiet ones; all others answer exactly once
        to_read = sum(1 for r in reqs if not r["quiet"])
        got = 0
        while got < to_read:
            line = self.rd.line()
            toks = line.split(b" ")
            status = toks[0].decode()
            data = None
            if status == "VA":
                data = self.rd.exact(int(toks[1]) + 2)[:-2]
            rflags = [t.decode("latin1") for t in toks[1:]] if status not in ("ME", "CLIENT_ERROR", "SERVER_ERROR") else []
            if status == "VA":
                rflags = rflags[1:]
            tok = next((f[1:] for f in rflags if f.startswith("O")), None)
            if tok is not None:
                r = by_tok[tok]
            else:
                r = plain.pop(0)
            if "resp" in r:
                raise SystemExit(f"two answers for {r['raw']!r}")
            r["resp"] = (status, rflags, data, line)
            if not r["quiet"]:
                got += 1
        if not ends_with_mn and any(r["quiet"] for r in reqs):
            raise SystemExit("a group with quiet requests must end with mn")
        for r in reqs:
            self.log(r)

    def log(self, r):
        cmd = r["cmd"]
        keys = [r["key"]] if r["key"] is not None else []
        if "resp" in r:
            status, rflags, data, line = r["resp"]
            result = status
        else:
            status, rflags, data, line = QUIET_MEANS[cmd], [], None, b""
            result = "none"
        extra = {"metaFlags": r["flags"], "base64": "b" in r["flags"]}
        if rflags:
            extra["respFlags"] = rflags
        if cmd == "mg":
            # VA/HD = found; EN = miss; VA with W = the key was missing and N created it (a miss)
            hit = status in ("VA", "HD") and "W" not in rflags
            extra.update(hits=int(hit), misses=int(not hit) if status in ("VA", "HD", "EN") else 0,
                         hitKeys=[k.decode("latin1") for k in keys] if hit else [])
            if data is not None:
                extra["valueBytes"] = len(data)
        err = status if status in ("CLIENT_ERROR", "SERVER_ERROR", "ERROR") else None
        if err:
            extra.pop("hits", None), extra.pop("misses", None), extra.pop("hitKeys", None)
        self.t.op(self.cid, cmd, keys, quiet=r["quiet"], value_len=len(r["data"] or b""), result=result,
                  error=err, **extra)


def main():
    server, truth_path, capture = sys.argv[1], sys.argv[2], sys.argv[3]
    t = Truth(capture, "client-log", "scripts/clients/meta_client.py (raw socket)", "meta", notes=[
        "result 'none' = a quiet (q) request the server did not answer; what that means: mg q -> EN (miss), ms/md/ma q -> HD",
        "mg ... N<ttl> on a missing key answers VA 0 W (created, the client won the fill): counted as a miss",
        "keys are the decoded keys; base64: true marks requests that sent them base64-encoded with the b flag",
        "one text 'get' and one 'version' are mixed into the meta connection on purpose",
    ])
    m = MetaConn(t, server)
    g = m.group
    g([m.req("mn")])
    g([m.req("ms", b"foo", ["T60", "F5"], b"bar"), m.req("mg", b"foo", ["v"])])
    g([m.req("mg", b"foo", ["v", "k", "c", "f", "t", "s"], opaque=True)])
    # pipelined quiet gets: hits answer, misses are silent; mn closes the batch
    g([m.req("ms", b"k%d" % i, ["T0", "q"], b"val%d" % i) for i in range(5)] + [m.req("mn")])
    g([m.req("mg", b"k%d" % i, ["v", "k", "q"]) for i in range(8)] + [m.req("mn")])
    g([m.req("mg", b"k1", ["s", "t"])])  # HD with flags, no value
    g([m.req("mg", b"absent", ["v"])])  # EN
    # base64 keys: binary-safe key bytes
    bkey = b"bin\x00key\xff\x10"
    g([m.req("ms", bkey, ["T0"], b"binary-keyed", b64=True), m.req("mg", bkey, ["v", "k"], b64=True)])
    g([m.req("md", bkey, ["q"], b64=True), m.req("mg", bkey, ["v", "q"], b64=True), m.req("mn")])
    # N: vivify on miss, then fill it; T: touch on get; c: cas; C: compare-and-swap
    g([m.req("mg", b"viv", ["N30", "v", "c"])])
    g([m.req("ms", b"viv", ["T30"], b"filled"), m.req("mg", b"viv", ["v", "T120", "t"])])
    g([m.req("mg", b"foo", ["c", "v"])])
    cas = next(f[1:] for f in t.ops[-1]["respFlags"] if f.startswith("c"))
    g([m.req("ms", b"foo", ["C" + cas, "T60"], b"swapped"), m.req("ms", b"foo", ["C" + cas], b"stale")])
    # modes: E add, A append, P prepend, R replace, S set; invalidate
    g([m.req("ms", b"foo", ["ME"], b"x"), m.req("ms", b"new1", ["ME"], b"x"),
       m.req("ms", b"foo", ["MA"], b"-app"), m.req("ms", b"foo", ["MP"], b"pre-"),
       m.req("ms", b"nope", ["MR"], b"x"), m.req("mg", b"foo", ["v"])])
    # arithmetic: NF, auto-create with N/J, delta, decrement mode, quiet
    g([m.req("ma", b"cnt"), m.req("ma", b"cnt", ["N0", "J10", "v"]), m.req("ma", b"cnt", ["D5", "v"]),
       m.req("ma", b"cnt", ["MD", "D2", "q"]), m.req("ma", b"cnt", ["v", "t", "c"]), m.req("mn")])
    # debug
    g([m.req("me", b"foo"), m.req("me", b"no-such-key")])
    # deletes, quiet and not
    g([m.req("md", b"k0"), m.req("md", b"k0"), m.req("md", b"k1", ["q"]), m.req("md", b"gone", ["q"]),
       m.req("mn")])
    # errors: an unknown flag, a key that is too long
    g([m.req("mg", b"foo", ["v", "zz"])])
    g([m.req("mg", b"a" * 260, ["v"])])
    # a text get and version on the same connection
    m.sock.sendall(b"get foo k2 absent\r\n")
    hits = []
    while True:
        ln = m.rd.line()
        if ln == b"END":
            break
        _, k, _, n = ln.split(b" ")[:4]
        m.rd.exact(int(n) + 2)
        hits.append(k.decode("latin1"))
    t.op(m.cid, "get", [b"foo", b"k2", b"absent"], result="END", hits=len(hits), misses=3 - len(hits),
         hitKeys=hits)
    m.sock.sendall(b"version\r\n")
    t.op(m.cid, "version", [], result=m.rd.line().split(b" ")[0].decode())
    g([m.req("mn")])
    m.sock.close()
    t.write(truth_path, {})


if __name__ == "__main__":
    main()

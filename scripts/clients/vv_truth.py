"""Truth for clients that keep no log of their own (memccapable): what memcached -vv printed.

Usage: vv_truth.py MEMCACHED_STDERR SERVER TRUTH_JSON CAPTURE_NAME CLIENT_DESCRIPTION [FROM_LINE]
FROM_LINE: log lines before it (connections from before the capture started) are ignored.
memcached -vv (one worker thread, so lines are in processing order) prints every text command
line ("<fd get a b"), its answer lines (">fd sending key a", ">fd END", ">fd NOREPLY STORED"), and
for binary the 24-byte request and response headers as hex. Connections are told apart by
"new ... client connection" / "connection closed." lines; the client's address is not printed,
so finalize.py fills it in from the capture's SYNs in connection order.
"""
import re
import sys

from truthlog import Truth

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from binary_client import OPS, READS, STATUS  # noqa: E402

OPNAME = {v: k for k, v in OPS.items()}
LINE = re.compile(r"^([<>])(\d+) (.*)$")
HEXROW = re.compile(r"^\s*((?:0x[0-9a-f]{2}\s*){4})$")
GET_FAMILY = {"get": 1, "gets": 1, "gat": 2, "gats": 2}
STORE = {"set", "add", "replace", "append", "prepend", "cas"}
KEYED = {"delete", "incr", "decr", "touch"}


def main():
    log, server, truth_path, capture, client = sys.argv[1:6]
    from_line = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    t = Truth(capture, "memcached-vv", client, "mixed", notes=[
        "truth from memcached -vv (server side, one worker thread): every request the server read, in order",
        "connections[].client is filled from the capture's SYNs in connection order (memcached does not print it)",
        "binary requests: memcached prints headers only, so keys are unknown (keyLen says how long they were); "
        "a get-family request is a hit when its status is no_error; a silent quiet get is a miss",
        "text noreply requests: memcached prints the answer it suppressed as 'NOREPLY <answer>' (kept as serverResult)",
        "stats/stat: memcached -vv prints neither the STAT lines nor the binary stat packets; result END / no_error stands for them",
    ])
    conn_of_fd = {}
    pending = {}  # fd -> list of open request dicts (binary: waiting for an answer; text: the last one)
    hexbuf = {}  # fd -> ('req'|'resp', [bytes])
    proto_of_fd = {}  # fd -> "ascii" | "binary" (memcached detects it per connection)

    def new_conn(fd):
        conn_of_fd[fd] = t.connection_eps("unknown", server)
        pending[fd] = []

    def flush_text(fd):
        for r in pending.get(fd, []):
            finish(fd, r)
        pending[fd] = []

    def finish(fd, r):
        if r.get("logged"):
            return
        r["logged"] = True
        extra = dict(r.get("extra", {}))
        quiet = r.get("quiet", False)
        result = r.get("result")
        if result is None and r["cmd"] in ("stats", "stat"):
            # memcached -vv prints neither STAT lines nor binary stat packets, but they were sent
            result = "END" if r["proto"] == "text" else "no_error"
        if result is None:
            result = "none"
            if r["proto"] == "text":
                quiet = True
        if r["proto"] == "text" and r["cmd"] in GET_FAMILY:
            hk = r.get("hits", [])
            extra.update(hits=len(hk), misses=len(r["keys"]) - len(hk), hitKeys=hk)
        if r["proto"] == "binary" and r["cmd"] in READS:
            hit = result == "no_error"
            extra.update(hits=int(hit), misses=int(not hit))
        err = None
        if result in ("ERROR", "CLIENT_ERROR", "SERVER_ERROR", "unknown_command", "invalid_arguments",
                      "non_numeric", "value_too_large", "out_of_memory"):
            err = result
        t.op(conn_of_fd[fd], r["cmd"], [k.encode("latin1") for k in r["keys"]], quiet=quiet,
             value_len=r.get("valueLen", 0), result=result, error=err, **extra)

    def on_header(fd, kind, b):
        magic, op, klen, elen, status = b[0], b[1], (b[2] << 8) | b[3], b[4], (b[6] << 8) | b[7]
        body = int.from_bytes(b[8:12], "big")
        opaque = int.from_bytes(b[12:16], "big")
        name = OPNAME.get(op, f"0x{op:02x}")
        if kind == "req":
            pending[fd].append({"proto": "binary", "cmd": name, "keys": [], "quiet": name.endswith("q"),
                                "valueLen": body - klen - elen, "opaque": opaque,
                                "extra": {"opcode": op, "keyLen": klen}})
            return
        # an answer: earlier quiet requests that got none were answered by silence
        q = pending[fd]
        # memcached (one worker thread) answers a request before it reads the next, so an answer
        # belongs to the LAST request read that it fits: clients that send the same opaque on every
        # request (Dalli: 0) would otherwise have a getkq hit pinned on the first silent miss before it
        for i in reversed(range(len(q))):
            r = q[i]
            if r["cmd"] == name and r["opaque"] == opaque:
                for s in q[:i]:
                    finish(fd, s)
                if name == "stat":
                    r.setdefault("extra", {}).setdefault("statPackets", 0)
                    r["extra"]["statPackets"] += 1
                    if klen:
                        del q[:i]
                        return
                r["result"] = STATUS.get(status, f"0x{status:04x}")
                finish(fd, r)
                del q[: i + 1]
                return
        raise SystemExit(f"fd {fd}: binary answer {name} opaque {opaque:#x} matches no request")

    for lineno, raw in enumerate(open(log, encoding="latin1")):
        if lineno < from_line:
            continue
        raw = raw.rstrip("\n")
        m = LINE.match(raw)
        if not m:
            mm = re.match(r"^(\d+): Client using the (\w+) protocol", raw)
            if mm:
                proto_of_fd[int(mm.group(1))] = mm.group(2)
            continue
        d, fd, rest = m.group(1), int(m.group(2)), m.group(3)
        if d == "<" and rest.startswith("new ") and rest.endswith("connection"):
            if "server listening" in rest:
                continue
            new_conn(fd)
            proto_of_fd.pop(fd, None)
            continue
        if rest.startswith("server listening"):
            continue
        if fd not in conn_of_fd:
            continue
        if d == "<" and rest == "connection closed.":
            flush_text(fd)
            del conn_of_fd[fd]
            continue
        if rest in ("Read binary protocol data:", "Writing bin response:"):
            hexbuf[fd] = ("req" if d == "<" else "resp", [])
            continue
        hm = HEXROW.match(rest)
        if hm and fd in hexbuf:
            kind, acc = hexbuf[fd]
            acc += [int(x, 16) for x in hm.group(1).split()]
            if len(acc) == 24:
                del hexbuf[fd]
                on_header(fd, kind, acc)
            continue
        if proto_of_fd.get(fd) == "binary":
            continue  # detail lines ("GET key", "Writing an error: ...") of binary requests
        if d == "<":
            # a text request: the previous one on this fd is complete
            flush_text(fd)
            toks = rest.split(" ")
            cmd = toks[0]
            r = {"proto": "text", "cmd": cmd, "keys": []}
            if cmd in GET_FAMILY:
                r["keys"] = toks[GET_FAMILY[cmd]:]
            elif cmd in STORE and len(toks) > 4:
                r["keys"] = [toks[1]]
                try:
                    r["valueLen"] = int(toks[4])
                except ValueError:
                    pass
            elif cmd in KEYED and len(toks) > 1:
                r["keys"] = [toks[1]]
            elif cmd == "stats":
                r["extra"] = {"args": toks[1:]}
            pending[fd] = [r]
            continue
        # a text answer line
        q = pending.get(fd) or []
        if not q or q[-1]["proto"] != "text":
            continue
        r = q[-1]
        if rest.startswith("sending key "):
            r.setdefault("hits", []).append(rest[len("sending key "):])
        elif rest.startswith("NOREPLY "):
            r["quiet"] = True
            r["result"] = "none"
            r.setdefault("extra", {})["serverResult"] = rest[len("NOREPLY "):].split(" ")[0]
        elif r.get("result") is None:
            r["result"] = rest.split(" ")[0]
            if r["result"].isdigit():
                pass
    for fd in list(conn_of_fd):
        flush_text(fd)
        for r in pending.get(fd, []):
            finish(fd, r)
    for o in t.ops:
        o.pop("tMs", None)  # the time this script read the log: meaningless here
    t.write(truth_path, {})


if __name__ == "__main__":
    main()

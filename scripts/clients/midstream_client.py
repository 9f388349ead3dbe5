"""Long-lived connections that the capture joins mid-way, in the middle of large value transfers.

Usage: midstream_client.py SERVER TRUTH_JSON CAPTURE_NAME READY_FILE GO_FILE
Before the capture (a setup connection, not logged) stores `bigB` (300000 bytes). Then:
  A sends `set bigA 0 0 300000` and only the first 100000 value bytes,
  B (8 KB receive buffer) sends `get bigB` and reads only 32768 bytes of the answer,
then the client creates READY_FILE and waits for GO_FILE (the script starts tcpdump in between).
After GO both finish their transfer and carry on with ordinary requests; C is a fresh connection
opened after the capture started (SYN seen) for contrast.
"""
import os
import socket
import sys
import time

from truthlog import Reader, Truth, connect

N = 300_000


def value(seed):
    return bytes((i * seed + 11) % 256 for i in range(N))


def wait_for(path, timeout=30):
    end = time.time() + timeout
    while not os.path.exists(path):
        if time.time() > end:
            raise SystemExit(f"{path} did not appear")
        time.sleep(0.01)


def text_get(t, cid, sock, rd, keys, cmd="get", **extra):
    sock.sendall(cmd.encode() + b" " + b" ".join(keys) + b"\r\n")
    hits, vb = [], 0
    while True:
        ln = rd.line()
        if ln == b"END":
            break
        parts = ln.split(b" ")
        rd.exact(int(parts[3]) + 2)
        hits.append(parts[1].decode("latin1"))
        vb += int(parts[3])
    t.op(cid, cmd, keys, result="END", hits=len(hits), misses=len(keys) - len(hits), hitKeys=hits,
         valueBytes=vb, **extra)


def text_line(t, cid, sock, rd, cmd, keys, payload, value_len=0):
    sock.sendall(payload)
    res = rd.line().split(b" ")[0].decode()
    t.op(cid, cmd, keys, value_len=value_len, result=res)


def main():
    server, truth_path, capture, ready, go = sys.argv[1:6]
    t = Truth(capture, "client-log", "scripts/clients/midstream_client.py (raw socket)", "text", notes=[
        "connections A (id 0) and B (id 1) were open before the capture started: no SYN in the capture",
        "A's first op (set bigA, 300000 bytes) was mid-way through its data block when the capture started: "
        "about 200000 value bytes and the STORED answer are in the capture, its command line is not",
        "B's first op (get bigB) was sent before the capture; most of its 300000-byte answer is in the capture, "
        "its first bytes (at least 32768) are not",
        "partial 'request': only the tail of the request's bytes is in the capture; partial 'response': the request "
        "is not in the capture at all, only the tail of its answer. Neither can be read from the capture as a "
        "request: requests counts them, capturedRequests does not",
    ])
    setup = connect(server)
    setup.sendall(b"set bigB 0 0 %d\r\n" % N + value(7) + b"\r\n")
    assert Reader(setup).line() == b"STORED"
    setup.close()

    a = connect(server)
    ra = Reader(a)
    ca = t.connection(a, midstream=True, note="A: capture starts inside a request data block")
    b = connect(server, rcvbuf=8192)
    rb = Reader(b)
    cb = t.connection(b, midstream=True, note="B: capture starts inside a response value")

    va = value(13)
    a.sendall(b"set bigA 0 0 %d\r\n" % N + va[:100_000])
    b.sendall(b"get bigB\r\n")
    got = 0
    while got < 32768:
        got += len(b.recv(32768 - got))
    time.sleep(0.2)
    open(ready, "w").close()
    wait_for(go)
    time.sleep(0.05)

    # A finishes its value in chunks; B reads the rest of its answer slowly
    for off in range(100_000, N, 50_000):
        a.sendall(va[off:off + 50_000])
        time.sleep(0.005)
    a.sendall(b"\r\n")
    res = ra.line().decode()
    t.op(ca, "set", [b"bigA"], value_len=N, result=res, partial="request")
    rest = bytearray()
    need = len(b"VALUE bigB 0 %d\r\n" % N) + N + 2 + 5 - got
    while len(rest) < need:
        rest += b.recv(16384)
        time.sleep(0.001)
    assert rest.endswith(b"\r\nEND\r\n")
    t.op(cb, "get", [b"bigB"], result="END", hits=1, misses=0, hitKeys=["bigB"], valueBytes=N, partial="response")

    # ordinary traffic on both, and a fresh connection C
    for i in range(5):
        text_line(t, ca, a, ra, "set", [b"m%d" % i], b"set m%d 0 0 4\r\nv%03d\r\n" % (i, i), value_len=4)
        text_get(t, cb, b, rb, [b"m%d" % i, b"x%d" % i])
    text_get(t, ca, a, ra, [b"m3", b"m4"])
    text_get(t, cb, b, rb, [b"m0", b"m9"], cmd="gets")
    c = connect(server)
    rc = Reader(c)
    cc = t.connection(c)
    text_get(t, cc, c, rc, [b"m1", b"m2", b"m3", b"absent"])
    text_line(t, cc, c, rc, "delete", [b"m1"], b"delete m1\r\n")
    text_line(t, cc, c, rc, "incr", [b"m1"], b"incr m1 1\r\n")
    for s in (a, b, c):
        s.sendall(b"quit\r\n")
    for s, cid in ((a, ca), (b, cb), (c, cc)):
        t.op(cid, "quit", [], quiet=True, result="none")
        s.close()
    t.extra["partialRequests"] = sum(1 for o in t.ops if o.get("partial"))
    # requests whose bytes are wholly in the capture: what a reader of the capture can count
    t.extra["capturedRequests"] = len(t.ops) - t.extra["partialRequests"]
    t.write(truth_path, {})


if __name__ == "__main__":
    main()

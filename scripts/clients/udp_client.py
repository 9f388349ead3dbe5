"""Raw UDP memcached client (text protocol behind the 8-byte frame header).

Usage: udp_client.py setup SERVER                    (TCP: stores a 4000-byte value; not captured)
       udp_client.py run SERVER TRUTH_JSON CAPTURE_NAME
Frame header: request id, sequence number, datagram count, reserved (all 16-bit big endian).
memcached 1.6 answers a multi-key get with one datagram sequence per item, each numbered from 0.
"""
import socket
import struct
import sys

from truthlog import Truth, connect, endpoint, parse_server

FRAME = struct.Struct(">HHHH")
BIG = bytes(b"0123456789abcdef"[i % 16] for i in range(4000))


class Udp:
    def __init__(self, truth, server):
        host, port = parse_server(server)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.connect((host, port))
        self.sock.settimeout(2)
        self.t = truth
        self.cid = truth.connection_eps(endpoint(self.sock.getsockname()), endpoint(self.sock.getpeername()),
                                        transport="udp")
        self.rid = 100

    def call(self, payload, kind, noreply=False):
        """Sends one request datagram; returns (joined response payload, datagrams) or (None, 0)."""
        self.rid += 1
        self.sock.send(FRAME.pack(self.rid, 0, 1, 0) + payload)
        if noreply:
            return None, 0
        chunks = []
        while True:
            d = self.sock.recv(65536)
            rid, seq, total, _ = FRAME.unpack_from(d)
            if rid != self.rid:
                raise SystemExit(f"answer for request id {rid}, expected {self.rid}")
            chunks.append(d[8:])
            body = b"".join(chunks)
            if kind == "values" and body.endswith(b"END\r\n") and values_complete(body):
                return body, len(chunks)
            if kind == "line" and body.endswith(b"\r\n"):
                return body, len(chunks)


def values_complete(body):
    """True when body is VALUE blocks followed by END (a value may itself contain END\\r\\n)."""
    i = 0
    while True:
        j = body.find(b"\r\n", i)
        if j < 0:
            return False
        line = body[i:j]
        if line == b"END":
            return j + 2 == len(body)
        if not line.startswith(b"VALUE "):
            return False
        n = int(line.split(b" ")[3])
        i = j + 2 + n + 2
        if i > len(body):
            return False


def hit_keys(body):
    """[(key, value length)] of the VALUE blocks in a complete get answer."""
    keys = []
    i = 0
    while True:
        j = body.find(b"\r\n", i)
        line = body[i:j]
        if line == b"END":
            return keys
        parts = line.split(b" ")
        keys.append((parts[1].decode("latin1"), int(parts[3])))
        i = j + 2 + int(parts[3]) + 2


def main():
    if sys.argv[1] == "setup":
        s = connect(sys.argv[2])
        s.sendall(b"set ubig 0 0 4000\r\n" + BIG + b"\r\n")
        assert s.recv(100) == b"STORED\r\n"
        s.close()
        return
    server, truth_path, capture = sys.argv[2], sys.argv[3], sys.argv[4]
    t = Truth(capture, "client-log", "scripts/clients/udp_client.py (raw UDP)", "text", transport="udp", notes=[
        "UDP: connections lists one entry per client socket (transport udp); connectionCount counts TCP only",
        "ubig (4000 bytes) was stored over TCP before the capture started: its gets need several datagrams",
        "datagrams = how many response datagrams the client read for the request",
    ])
    u = Udp(t, server)

    def get(cmd, *keys):
        body, n = u.call(cmd.encode() + b" " + b" ".join(keys) + b"\r\n", "values")
        hk = hit_keys(body)
        t.op(u.cid, cmd, keys, result="END", hits=len(hk), misses=len(keys) - len(hk), hitKeys=[k for k, _ in hk],
             datagrams=n, valueBytes=sum(n for _, n in hk))

    def line(cmd, keys, payload, noreply=False, value_len=0):
        body, n = u.call(payload, "line", noreply)
        res = "none" if noreply else body.split(b"\r\n")[0].split(b" ")[0].decode()
        err = res if res in ("ERROR", "CLIENT_ERROR", "SERVER_ERROR") else None
        t.op(u.cid, cmd, keys, quiet=noreply, value_len=value_len, result=res, error=err, datagrams=n)

    line("version", [], b"version\r\n")
    line("set", [b"u1"], b"set u1 0 0 5\r\nhello\r\n", value_len=5)
    line("set", [b"u2"], b"set u2 7 0 900\r\n" + b"y" * 900 + b"\r\n", value_len=900)
    get("get", b"u1")
    get("get", b"nope")
    get("get", b"u1", b"u2", b"ubig", b"nope2")
    get("gets", b"u1", b"ubig")
    get("get", b"ubig")
    line("delete", [b"u2"], b"delete u2\r\n")
    get("get", b"u2")
    line("incr", [b"uc"], b"incr uc 1\r\n")
    line("set", [b"uc"], b"set uc 0 0 1\r\n5\r\n", value_len=1)
    line("incr", [b"uc"], b"incr uc 3\r\n")
    line("decr", [b"uc"], b"decr uc 1\r\n")
    line("touch", [b"u1"], b"touch u1 60\r\n")
    line("set", [b"u3"], b"set u3 0 0 3 noreply\r\nabc\r\n", noreply=True, value_len=3)
    get("get", b"u3", b"u1")
    line("bogus", [], b"bogus\r\n")
    t.write(truth_path, {})


if __name__ == "__main__":
    main()

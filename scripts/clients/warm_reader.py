"""A real client reading a planned set of keys, for the `warm` tests (recorded with tcpdump).

Usage: warm_reader.py PORT PLAN_JSON
PLAN_JSON is a list of [op, keys]: op "get" (pymemcache get), "get_many" (one multi-key get),
"gets" (pymemcache gets) or "mg" (a meta get on a raw socket, as pymemcache has no meta).
Every op is sent exactly as planned; the plan is the truth of what the client read.
"""
import json
import socket
import sys

from pymemcache.client.base import Client


def main():
    port, plan_path = int(sys.argv[1]), sys.argv[2]
    with open(plan_path) as f:
        plan = json.load(f)
    c = Client(("127.0.0.1", port), connect_timeout=5, timeout=5)
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    for op, keys in plan:
        if op == "get":
            c.get(keys[0])
        elif op == "gets":
            c.gets(keys[0])
        elif op == "get_many":
            c.get_many(keys)
        elif op == "mg":
            raw.sendall(f"mg {keys[0]} v f\r\n".encode())
            buf = b""
            while not (buf.startswith(b"EN\r\n") or (buf.startswith(b"VA ") and buf.count(b"\r\n") >= 2)):
                buf += raw.recv(1 << 20)
        else:
            raise SystemExit(f"unknown op {op}")
    c.close()
    raw.close()


if __name__ == "__main__":
    main()

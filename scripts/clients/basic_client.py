"""A small everyday pymemcache session, used for the link-layer / file-format variants
(-i any, pcapng, nanosecond timestamps, IPv6): the traffic is ordinary so the file is the test.

Usage: basic_client.py SERVER TRUTH_JSON CAPTURE_NAME
"""
import sys

import pymemcache

from pymc_logging import logging_client_class
from truthlog import Truth, parse_server


def main():
    server, truth_path, capture = sys.argv[1], sys.argv[2], sys.argv[3]
    t = Truth(capture, "client-log", f"pymemcache {pymemcache.__version__} (base.Client)", "text")
    C = logging_client_class(t)
    c = C(parse_server(server), default_noreply=False, no_delay=True, connect_timeout=5, timeout=5)
    c.version()
    c.set_many({f"b:{i}": b"x" * (10 + i * 50) for i in range(8)})
    for i in range(0, 12, 2):
        c.get(f"b:{i}")
    c.get_many([f"b:{i}" for i in range(4, 12)])
    c.set("b:big", bytes(range(256)) * 80)  # 20 KB: several segments
    c.get("b:big")
    v, tok = c.gets("b:1")
    c.cas("b:1", b"changed", tok)
    c.cas("b:1", b"again", tok)
    c.delete("b:2")
    c.delete("b:2")
    c.set("n", b"41")
    c.incr("n", 1)
    c.touch("b:3", 60)
    c.set("b:q", b"quiet", noreply=True)
    c.get_many(["b:q", "b:2", "b:big"])
    c.quit()
    c2 = C(parse_server(server), default_noreply=False, no_delay=True, connect_timeout=5, timeout=5)
    c2.get_many(["b:0", "b:1", "nothing"])
    c2.close()
    t.write(truth_path, {})


if __name__ == "__main__":
    main()

"""pymemcache mix: multi-get, noreply, cas, large values (~500 KB) and errors, on two connections.

Usage: pymc_mix.py SERVER TRUTH_JSON CAPTURE_NAME
The server must run with -I 600k: a 500 KB value fits and a 660 KB one gets SERVER_ERROR.
"""
import sys

import pymemcache
from pymemcache.exceptions import MemcacheError

from pymc_logging import logging_client_class
from truthlog import Truth, parse_server


def expect_error(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except MemcacheError:
        return
    raise SystemExit(f"{fn.__name__}{a!r}: expected an error")


def main():
    server, truth_path, capture = sys.argv[1], sys.argv[2], sys.argv[3]
    t = Truth(capture, "client-log", f"pymemcache {pymemcache.__version__} (base.Client)", "text",
              notes=["errors close the connection in pymemcache: the next request opens a new one",
                     "the 660000-byte set is answered SERVER_ERROR object too large for cache"])
    LC = logging_client_class(t)
    c = LC(parse_server(server), default_noreply=False, connect_timeout=5, timeout=5)

    c.version()
    c.set_many({b"a": b"alpha", b"b": b"bravo", b"c": b"charlie", b"d": b"delta", b"e": b"echo"})
    c.get_many([b"a", b"b", b"c", b"x", b"y"])
    c.get(b"a")
    c.get(b"nope")
    c.set(b"nr1", b"one", noreply=True)
    c.set_many({b"nr2": b"two", b"nr3": b"three", b"nr4": b"four"}, noreply=True)
    c.delete(b"nr4", noreply=True)
    c.get_many([b"nr1", b"nr2", b"nr3", b"nr4"])
    v, tok = c.gets(b"a")
    c.cas(b"a", b"alpha2", tok)
    c.cas(b"a", b"alpha3", tok)  # stale token: EXISTS
    c.cas(b"missing-cas", b"x", b"12345")  # NOT_FOUND
    c.gets_many([b"a", b"b", b"zz"])
    c.add(b"a", b"again")  # NOT_STORED
    c.add(b"fresh", b"new")
    c.replace(b"not-there", b"x")  # NOT_STORED
    c.replace(b"b", b"bravo2")
    c.append(b"c", b"-tail")
    c.prepend(b"c", b"head-")
    c.append(b"no-such", b"x")  # NOT_STORED
    c.incr(b"counter", 1)  # NOT_FOUND
    c.set(b"counter", b"10")
    c.incr(b"counter", 5)
    c.decr(b"counter", 3)
    c.incr(b"counter", 1, noreply=True)
    c.get(b"counter")
    expect_error(c.incr, b"a", 1)  # CLIENT_ERROR cannot increment or decrement non-numeric value
    c.touch(b"a", 100)
    c.touch(b"gone", 100)  # NOT_FOUND
    big = bytes((i * 7 + 3) % 251 for i in range(500_000))
    c.set(b"big", big)
    c.get(b"big")
    c.get_many([b"a", b"b", b"big-not-there"])
    expect_error(c.set, b"toobig", b"z" * 660_000)  # SERVER_ERROR object too large for cache
    c.get(b"toobig")
    expect_error(c._misc_cmd, [b"bogus_cmd arg\r\n"], b"bogus_cmd", False)  # ERROR
    c.delete(b"d")
    c.delete(b"d")  # NOT_FOUND
    c.delete_many([b"e", b"fresh", b"nonexistent"], noreply=True)
    c.stats()
    c.stats("settings")
    c.get_many([b"a", b"b", b"c", b"d", b"e", b"fresh", b"counter"])
    c._misc_cmd([b"verbosity 1\r\n"], b"verbosity", False)  # OK: a destructive-class command
    c.flush_all()
    c.get(b"a")  # miss after flush_all
    c.quit()

    # a second client: pipelined set_many of 20 keys, then one multi-get of all of them plus misses
    c2 = LC(parse_server(server), default_noreply=False, connect_timeout=5, timeout=5)
    vals = {f"p:{i:02d}".encode(): (b"v" * (1 + i * 37)) for i in range(20)}
    c2.set_many(vals)
    c2.get_many(list(vals) + [b"p:missing1", b"p:missing2"])
    c2.delete_many(list(vals)[:5])
    c2.get_many(list(vals)[:8])
    c2.close()

    t.write(truth_path, {})


if __name__ == "__main__":
    main()

"""A pymemcache client that opens 50 connections at once (a web tier starting up, a pool filled
eagerly) and then drives them from 50 threads released together: bursts of sets, gets and
multi-gets on every connection in the same few milliseconds. The bursty start the replay must
keep from its first millisecond.

Usage: pymc_burst.py SERVER TRUTH_JSON CAPTURE_NAME
"""
import random
import sys
import threading

import pymemcache

from pymc_logging import logging_client_class
from truthlog import Truth, parse_server

CONNS = 50
ROUNDS = 6


def main():
    server, truth_path, capture = sys.argv[1], sys.argv[2], sys.argv[3]
    t = Truth(capture, "client-log", f"pymemcache {pymemcache.__version__} (base.Client) x {CONNS} threads", "text",
              notes=[f"{CONNS} connections opened back to back by the main thread (in connect order), then "
                     f"{CONNS} threads released at once by a barrier, {ROUNDS} rounds each"])
    C = logging_client_class(t)
    clients = [C(parse_server(server), default_noreply=False, no_delay=True, connect_timeout=5, timeout=5)
               for _ in range(CONNS)]
    for c in clients:
        c._ensure()  # connect now, all of them, before any request
    go = threading.Barrier(CONNS)

    def work(i):
        rng = random.Random(i)
        c = clients[i]
        go.wait()
        for r in range(ROUNDS):
            keys = [f"u:{i}:{r}:{j}" for j in range(3)]
            c.set_many({k: bytes([65 + j]) * rng.randint(20, 400) for j, k in enumerate(keys)})
            c.get(keys[0])
            # reads only its own keys: a replay keeps the order inside a connection, not across them
            c.get_many(keys + [f"u:{i}:{r - 1}:1", f"none:{i}:{r}"])

    ths = [threading.Thread(target=work, args=(i,)) for i in range(CONNS)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    for c in clients:
        c.close()
    t.write(truth_path, {})


if __name__ == "__main__":
    main()

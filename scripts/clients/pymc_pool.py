"""Client-side pool over two memcached servers: pymemcache HashClient (rendezvous hashing) with
connection pooling, used by 4 threads. Every op is logged by the underlying per-server client, so
the truth says which server each key went to (keys[k].server and connections[].server).

Usage: pymc_pool.py SERVER1 SERVER2 TRUTH_JSON CAPTURE_NAME
"""
import random
import sys
import threading

import pymemcache
from pymemcache.client.hash import HashClient

from pymc_logging import logging_client_class
from truthlog import Truth, endpoint, parse_server


def main():
    s1, s2, truth_path, capture = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    t = Truth(capture, "client-log", f"pymemcache {pymemcache.__version__} HashClient(use_pooling=True)", "text",
              notes=["a HashClient get_many becomes one get per server holding some of the keys",
                     "keyServer: the server HashClient itself picks for each key (rendezvous hash)"])
    C = logging_client_class(t)

    class Pool(HashClient):
        client_class = C

    pool = Pool([parse_server(s1), parse_server(s2)], use_pooling=True, max_pool_size=4,
                default_noreply=False, no_delay=True, connect_timeout=5, timeout=5)
    keys = [f"obj:{i}" for i in range(60)]

    def work(seed):
        rng = random.Random(seed)
        for _ in range(60):
            r = rng.random()
            k = rng.choice(keys)
            if r < 0.4:
                if pool.get(k) is None:
                    pool.set(k, (k * rng.randint(1, 30)).encode())
            elif r < 0.6:
                pool.get_many(rng.sample(keys, rng.randint(2, 6)))
            elif r < 0.75:
                pool.set_many({kk: kk.encode() for kk in rng.sample(keys, 3)})
            elif r < 0.85:
                pool.delete(k)
            elif r < 0.95:
                if pool.incr(f"cnt:{rng.randint(0, 4)}", 1) is None:
                    pool.set(f"cnt:{rng.randint(0, 4)}", b"0")
            else:
                pool.touch(k, 100)

    ths = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    t.extra["keyServer"] = {k: endpoint(pool._get_client(k).server) for k in sorted({k for o in t.ops for k in o["keys"]})}
    pool.close()
    t.write(truth_path, {})


if __name__ == "__main__":
    main()

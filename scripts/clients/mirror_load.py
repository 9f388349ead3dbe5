"""Steady live traffic for the mirror tests: THREADS pymemcache clients (one connection each) for
SECONDS at about RATE requests/s in all, over KEYS keys: sets with flags, gets, multi-gets,
deletes, incr on counters, noreply sets. Prints per-command counts as JSON on stdout (the truth the
tests compare the mirror's counts with).

With PARTITION=1 each connection writes only its own keys (key i belongs to thread i % THREADS):
no two connections write the same key, so the end state does not depend on how the writes of two
connections interleave (a mirror, like any copy, cannot order writes made in the same instant on
different connections).

Usage: mirror_load.py HOST:PORT SECONDS RATE KEYS [THREADS] [SEED] [PARTITION]
"""
import json
import random
import sys
import threading
import time

from pymemcache.client.base import Client


def main():
    host, port = sys.argv[1].rsplit(':', 1)
    seconds = float(sys.argv[2])
    rate = float(sys.argv[3])
    nkeys = int(sys.argv[4])
    threads = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    partition = len(sys.argv) > 7 and sys.argv[7] == '1'
    counts = {}
    lock = threading.Lock()
    start = time.time()

    def run(t):
        rng = random.Random(seed * 1000 + t)
        c = Client((host, int(port)), default_noreply=False)
        mine = {}
        per = rate / threads
        n = 0
        while True:
            due = start + n / per
            now = time.time()
            if now - start >= seconds:
                break
            if due > now:
                time.sleep(due - now)
            n += 1
            i = rng.randrange(nkeys)
            if partition:
                i = i - i % threads + t
                if i >= nkeys:
                    i -= threads
            k = 'k%d' % i
            r = rng.random()
            if r < 0.35:
                c.set(k, ('v%d-' % rng.randrange(10**6)) * rng.randrange(1, 20), expire=0, flags=rng.randrange(0, 2**16))
                cmd = 'set'
            elif r < 0.40:
                c.set(k, 'nr%d' % rng.randrange(10**6), flags=7, noreply=True)
                cmd = 'set'
            elif r < 0.70:
                c.get(k)
                cmd = 'get'
            elif r < 0.80:
                c.get_many(['k%d' % rng.randrange(nkeys) for _ in range(rng.randrange(2, 6))])
                cmd = 'get'
            elif r < 0.92:
                c.delete(k, noreply=False)
                cmd = 'delete'
            else:
                ck = 'ctr%d' % (rng.randrange(20 // threads) * threads + t if partition else rng.randrange(20))
                if c.incr(ck, 1, noreply=False) is None:
                    c.add(ck, '0', noreply=False)
                    cmd2 = 'add'
                    mine[cmd2] = mine.get(cmd2, 0) + 1
                cmd = 'incr'
            mine[cmd] = mine.get(cmd, 0) + 1
        c.close()
        with lock:
            for k, v in mine.items():
                counts[k] = counts.get(k, 0) + v

    ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps({'counts': counts, 'seconds': time.time() - start}))


if __name__ == '__main__':
    main()

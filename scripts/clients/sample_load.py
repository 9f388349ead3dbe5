"""Realistic web-cache traffic for captures/sample.pcap: pymemcache clients in several processes and
threads, Poisson arrivals, zipf key popularity, cache-aside reads with fills on miss, multi-gets,
write-through sessions, invalidations, counters, touch, gets+cas, noreply writes, short-lived
connections. Value sizes run from a few bytes to ~100 KB.

Usage: sample_load.py SERVER TRUTH_JSON OPS_JSONL_GZ CAPTURE_NAME [SECONDS] [RATE]
"""
import bisect
import gzip
import json
import math
import multiprocessing as mp
import os
import random
import sys
import threading
import time

import pymemcache
from pymc_logging import logging_client_class
from truthlog import Truth, parse_server

PROCS = 2
THREADS = 5  # long-lived connections per process


class Zipf:
    def __init__(self, n, s, rng):
        w = [1.0 / (i + 1) ** s for i in range(n)]
        tot = sum(w)
        acc, self.cum = 0.0, []
        for x in w:
            acc += x / tot
            self.cum.append(acc)
        self.rng = rng
        self.n = n

    def __call__(self):
        return min(bisect.bisect_left(self.cum, self.rng.random()), self.n - 1)


def user_size(rank):
    """Deterministic per key: median ~100 B; only unpopular keys get the rare large values."""
    r = random.Random(rank * 7919)
    size = int(math.exp(r.gauss(4.6, 0.8)))
    if rank >= 300 and r.random() < 0.004:
        size = r.randint(20_000, 100_000)
    return max(4, min(size, 100_000))


def page_size(rank):
    r = random.Random(rank * 104729)
    return r.randint(1_000, 4_000) if rank >= 10 or r.random() < 0.5 else r.randint(300, 1_000)


def blob(n, tag):
    unit = (tag.encode() + b"|") * (n // (len(tag) + 1) + 1)
    return unit[:n]


def worker_thread(C, server, rng, stop_at, rate, idx):
    c = C(parse_server(server), default_noreply=False, no_delay=True, connect_timeout=5, timeout=5)
    users = Zipf(3000, 1.05, rng)
    pages = Zipf(300, 1.1, rng)
    sess = Zipf(800, 0.8, rng)
    ctrs = Zipf(40, 1.2, rng)
    next_t = time.monotonic()
    while True:
        next_t += rng.expovariate(rate)
        now = time.monotonic()
        if next_t > stop_at:
            break
        if next_t > now:
            time.sleep(next_t - now)
        r = rng.random()
        if r < 0.42:
            k = users()
            key = f"user:{k}:profile"
            if c.get(key) is None:
                c.set(key, blob(user_size(k), key), expire=300)
        elif r < 0.52:
            ks = sorted({users() for _ in range(rng.randint(2, 8))})
            keys = [f"user:{k}:profile" for k in ks]
            got = c.get_many(keys)
            miss = {f"user:{k}:profile": blob(user_size(k), f"user:{k}:profile") for k in ks
                    if f"user:{k}:profile" not in got}
            if miss:
                c.set_many(miss, expire=300)
        elif r < 0.56:
            k = pages()
            key = f"page:/item/{k}"
            if c.get(key) is None:
                c.set(key, blob(page_size(k), key), expire=60)
        elif r < 0.66:
            k = sess()
            c.set(f"sess:{k:05d}", blob(rng.randint(40, 220), f"s{k}"), expire=1800)
        elif r < 0.71:
            c.get(f"sess:{sess():05d}")
        elif r < 0.75:
            c.delete(f"user:{users()}:profile")
        elif r < 0.81:
            key = f"ctr:views:{ctrs()}"
            if c.incr(key, 1) is None:
                c.add(key, b"1", expire=0)
        elif r < 0.84:
            c.touch(f"sess:{sess():05d}", 1800)
        elif r < 0.89:
            k = users()
            key = f"user:{k}:profile"
            v, cas = c.gets(key)
            if v is not None:
                c.cas(key, blob(user_size(k), key + "*"), cas, expire=300)
        elif r < 0.93:
            k = users()
            c.set(f"user:{k}:profile", blob(user_size(k), f"user:{k}:profile"), expire=300, noreply=True)
        elif r < 0.96:
            key = f"lock:job:{rng.randint(0, 30)}"
            if c.add(key, b"1", expire=5):
                c.delete(key)
        elif r < 0.97:
            c.decr(f"ctr:views:{ctrs()}", 1)
        else:
            c.gets_many([f"sess:{sess():05d}" for _ in range(rng.randint(2, 4))])
    c.quit()


def churn_thread(C, server, rng, stop_at):
    """Short-lived connections: connect, a couple of requests, quit (like cron jobs and CLIs)."""
    while time.monotonic() + 0.6 < stop_at:
        time.sleep(rng.uniform(0.2, 0.8))
        c = C(parse_server(server), default_noreply=False, no_delay=True, connect_timeout=5, timeout=5)
        c.get_many([f"user:{rng.randint(0, 50)}:profile", f"cfg:flag:{rng.randint(0, 5)}"])
        if rng.random() < 0.5:
            c.set(f"cfg:flag:{rng.randint(0, 5)}", b"on", expire=120)
        c.quit()


def process_main(pi, server, t0, stop_at, rate, capture, out):
    t = Truth(capture, "client-log", "", "text", t0=t0)
    C = logging_client_class(t)
    ths = [threading.Thread(target=worker_thread, args=(C, server, random.Random(pi * 100 + i), stop_at,
                                                        rate / (PROCS * THREADS), i)) for i in range(THREADS)]
    if pi == 0:
        ths.append(threading.Thread(target=churn_thread, args=(C, server, random.Random(999), stop_at)))
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    with open(out, "w") as f:
        json.dump({"conns": t.conns, "ops": t.ops}, f)


def main():
    server, truth_path, ops_path, capture = sys.argv[1:5]
    secs = float(sys.argv[5]) if len(sys.argv) > 5 else 12
    rate = float(sys.argv[6]) if len(sys.argv) > 6 else 1800
    t0 = time.monotonic_ns()
    stop_at = time.monotonic() + secs
    parts = [f"{truth_path}.part{i}" for i in range(PROCS)]
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=process_main, args=(i, server, t0, stop_at, rate, capture, parts[i]))
             for i in range(PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"worker process failed ({p.exitcode})")
    t = Truth(capture, "client-log", f"pymemcache {pymemcache.__version__} (base.Client), "
              f"{PROCS} processes x {THREADS} threads + short-lived connections", "text", t0=t0, notes=[
                  f"{secs:g} s of Poisson arrivals at ~{rate:g} requests/s (pymemcache calls; a miss adds a fill)",
                  "the ordered ops are in the .ops.jsonl.gz file beside this one (one op object per line, "
                  "sorted by tMs); connection ids there are this file's",
              ])
    for i, path in enumerate(parts):
        with open(path) as f:
            part = json.load(f)
        os.unlink(path)
        base = len(t.conns)
        for cn in part["conns"]:
            cn["id"] += base
            t.conns.append(cn)
            if cn["server"] not in t.servers:
                t.servers.append(cn["server"])
        for o in part["ops"]:
            o["conn"] += base
            t.ops.append(o)
    t.ops.sort(key=lambda o: o["tMs"])
    doc = t.write(truth_path, {}, include_ops=False)
    with gzip.open(ops_path, "wt", encoding="utf-8", compresslevel=9) as f:
        for o in t.ops:
            f.write(json.dumps(o, separators=(",", ":"), ensure_ascii=False) + "\n")
    dur = max(o["tMs"] for o in t.ops) / 1000
    print(f"sample: {doc['requests']} requests on {doc['connectionCount']} connections in {dur:.1f} s "
          f"({doc['requests'] / dur:.0f}/s), hits {doc['readKeys']}", file=sys.stderr)


if __name__ == "__main__":
    main()

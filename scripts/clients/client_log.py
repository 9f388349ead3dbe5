"""Adds a client's own log (calls per method, hits/misses it saw) to a memcached -vv truth file and
checks that the two agree on reads: clients that log nothing per request (Dalli, Cache::Memcached::Fast,
php-memcached) still say what they did, and the truth's per-op detail comes from the server.

Usage: client_log.py TRUTH_JSON CLIENT_LOG_JSON [PART_TRUTH_JSON...]
With parts (one vv_truth.py file per server of a pool), they are merged into TRUTH_JSON first:
connections renumbered server by server, counts derived again. The client log is {"client": str, "calls": {method: n}, "reads": {"hits": n, "misses": n}, "errors": {...}};
it is stored as "clientLog". A disagreement on hits or misses stops the capture script.
"""
import json
import sys

from truthlog import Truth, write_json


def main():
    truth_path, log_path, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
    if parts:
        docs = [json.load(open(p)) for p in parts]
        t = Truth(docs[0]["capture"], docs[0]["source"], docs[0]["client"], docs[0]["protocol"],
                  docs[0]["transport"], notes=docs[0]["notes"] + [
                      "one memcached -vv log per server, merged: connections numbered server by server"])
        for d in docs:
            base = len(t.conns)
            t.conns += [dict(c, id=c["id"] + base) for c in d["connections"]]
            t.ops += [dict(o, conn=o["conn"] + base) for o in d["ops"]]
            for ep in d["servers"]:
                t.server(ep)
        t.write(truth_path, {})
        for o in json.load(open(truth_path))["ops"]:
            o.pop("tMs", None)
    doc = json.load(open(truth_path))
    for o in doc.get("ops", []):
        o.pop("tMs", None)  # the merge's own clock: meaningless here
    log = json.load(open(log_path))
    rk = doc["readKeys"]
    if (rk["hits"], rk["misses"]) != (log["reads"]["hits"], log["reads"]["misses"]):
        raise SystemExit(f"{truth_path}: memcached -vv saw {rk} read keys, the client {log['reads']}")
    doc["client"] = f"{log['client']}: {doc['client']}"
    doc["notes"] = doc.get("notes", []) + [
        "clientLog: the client's own count of its calls per method and of the hits/misses it got back "
        "(checked equal to readKeys)"]
    doc["clientLog"] = log
    for k in ("connections", "keys", "ops"):
        if k in doc:
            doc[k] = doc.pop(k)
    write_json(truth_path, doc)


if __name__ == "__main__":
    main()

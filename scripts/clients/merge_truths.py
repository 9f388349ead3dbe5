"""Merges truth files of captures that were concatenated (mergecap): connections are renumbered in
file order, ops follow their connection, counts are derived again.

Usage: merge_truths.py OUT_JSON CAPTURE_NAME TRUTH_JSON...
"""
import json
import sys

from truthlog import Truth


def main():
    out, capture, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
    docs = [json.load(open(p)) for p in parts]
    t = Truth(capture, docs[0]["source"], docs[0]["client"], docs[0]["protocol"], docs[0]["transport"], notes=[
        "merged from " + ", ".join(d["capture"] for d in docs) + " (mergecap -F pcapng): one interface per file",
    ])
    for d in docs:
        base = len(t.conns)
        for c in d["connections"]:
            t.conns.append(dict(c, id=c["id"] + base))
            if c["server"] not in t.servers:
                t.servers.append(c["server"])
        for o in d["ops"]:
            t.ops.append(dict(o, conn=o["conn"] + base))
    t.write(out, {})


if __name__ == "__main__":
    main()

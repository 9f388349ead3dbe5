"""Completes a truth file once its capture is written: checks the capture's own header against what
the script asked for, adds file facts and the capture tool's statistics, fills unknown client
endpoints from the capture's SYNs (memccapable truths), and adds tshark's memcache dissector counts.

Usage: finalize.py TRUTH_JSON CAPTURE --format pcap|pcapng --link NAME [--ns] [--tool-log FILE]
                   [--command "tcpdump ..."] [--ports 11211,11212] [--no-tshark]
"""
import argparse
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from binary_client import OPS  # noqa: E402
from truthlog import write_json  # noqa: E402

LINKTYPES = {0: "NULL", 1: "EN10MB", 101: "RAW", 113: "LINUX_SLL", 228: "IPV4", 229: "IPV6", 276: "LINUX_SLL2"}
OPNAME = {v: k for k, v in OPS.items()}


def read_header(path):
    """(format, nanosecond, link type name, packets) read straight from the file."""
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        le = magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1")
        e = "<" if le else ">"
        ns = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        link = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
        off, n = 24, 0
        while off + 16 <= len(data):
            incl = struct.unpack_from(e + "I", data, off + 8)[0]
            off += 16 + incl
            n += 1
        return {"format": "pcap", "nanosecond": ns, "linkType": LINKTYPES.get(link, f"LINKTYPE_{link}"),
                "packets": n, "byteOrder": "little" if le else "big"}
    if magic == b"\x0a\x0d\x0d\x0a":
        bom = data[8:12]
        e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
        off, n, ifaces = 0, 0, []
        while off + 12 <= len(data):
            btype, blen = struct.unpack_from(e + "II", data, off)
            if btype == 1:  # IDB: link type, then options (if_tsresol = 9)
                link = struct.unpack_from(e + "H", data, off + 8)[0]
                res = 6
                o = off + 16
                while o + 4 <= off + blen - 4:
                    code, olen = struct.unpack_from(e + "HH", data, o)
                    if code == 0:
                        break
                    if code == 9:
                        v = data[o + 4]
                        res = v & 0x7F if not v & 0x80 else -(v & 0x7F)
                    o += 4 + ((olen + 3) & ~3)
                ifaces.append({"linkType": LINKTYPES.get(link, f"LINKTYPE_{link}"), "tsresol": res})
            elif btype in (3, 6):
                n += 1
            off += blen
        return {"format": "pcapng", "nanosecond": bool(ifaces and ifaces[0]["tsresol"] == 9),
                "linkType": ifaces[0]["linkType"] if ifaces else None, "interfaces": ifaces, "packets": n,
                "byteOrder": "little" if e == "<" else "big"}
    raise SystemExit(f"{path}: not a pcap/pcapng file (magic {magic.hex()})")


def tshark_json(path, ports, fields, yfilter):
    dec = []
    for p in ports:
        if p != 11211:
            dec += ["-d", f"tcp.port=={p},memcache", "-d", f"udp.port=={p},memcache"]
    cmd = ["tshark", "-r", path, "-n", *dec, "-Y", yfilter, "-T", "json"] + sum((["-e", f] for f in fields), [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [p["_source"]["layers"] for p in json.loads(out or "[]")]


def syn_clients(path, ports):
    """(client, server) endpoints of the SYNs in capture order (for truths that lack clients)."""
    rows = tshark_json(path, ports, ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport"],
                       "tcp.flags.syn==1 && tcp.flags.ack==0")
    out = []

    def ep(host, port):
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    for r in rows:
        out.append((ep((r.get("ip.src") or r.get("ipv6.src"))[0], r["tcp.srcport"][0]),
                    ep((r.get("ip.dst") or r.get("ipv6.dst"))[0], r["tcp.dstport"][0])))
    return out


def tshark_counts(path, ports):
    """Counts from tshark's memcache dissector. Binary: every request/response header. Text: only the
    first command of each TCP segment, and no meta commands (Wireshark 4.0)."""
    ver = subprocess.run(["tshark", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    rows = tshark_json(path, ports, ["frame.number", "memcache.magic", "memcache.opcode", "memcache.status",
                                     "memcache.command", "memcache.response"], "memcache")
    req, resp, status, text_cmd, text_resp = {}, {}, {}, {}, {}
    for r in rows:
        magics = r.get("memcache.magic", [])
        ops = r.get("memcache.opcode", [])
        sts = r.get("memcache.status", [])
        si = 0
        for m, op in zip(magics, ops):
            name = OPNAME.get(int(op), f"0x{int(op):02x}")
            if int(m) == 0x80:
                req[name] = req.get(name, 0) + 1
            elif int(m) == 0x81:
                resp[name] = resp.get(name, 0) + 1
                if si < len(sts):
                    st = int(sts[si])
                    si += 1
                    key = f"{name}:{st}"
                    status[key] = status.get(key, 0) + 1
        for c in r.get("memcache.command", []):
            text_cmd[c] = text_cmd.get(c, 0) + 1
        for c in r.get("memcache.response", []):
            text_resp[c] = text_resp.get(c, 0) + 1
    out = {"version": ver, "framesWithMemcache": len(rows)}
    if req or resp:
        out.update(binaryRequestsPerOpcode=dict(sorted(req.items())),
                   binaryResponsesPerOpcode=dict(sorted(resp.items())),
                   binaryResponsesPerOpcodeStatus=dict(sorted(status.items())))
    if text_cmd:
        out.update(textCommands=dict(sorted(text_cmd.items())), textResponses=dict(sorted(text_resp.items())))
    out["limits"] = ("Wireshark 4.0 memcache dissector: binary headers decoded correctly; text: only the first "
                     "command of each TCP segment, no meta commands, nothing over UDP; a request is reported "
                     "on the frame where its reassembly ends")
    return out


def binary_keys_from_tshark(doc, path, ports):
    """memcached -vv prints binary headers but not keys; tshark decodes binary correctly, so the keys
    of binary requests come from it: the n-th request of a TCP stream is the n-th op of that
    connection (streams and connections are both in SYN order), and the opcodes must agree."""
    rows = tshark_json(path, ports, ["tcp.stream", "memcache.magic", "memcache.opcode", "memcache.key.length",
                                     "memcache.key"], "memcache.magic == 0x80")
    per_stream = {}
    for r in rows:
        stream = int(r["tcp.stream"][0])
        keys = iter(r.get("memcache.key", []))
        for op, klen in zip(r.get("memcache.opcode", []), r.get("memcache.key.length", [])):
            per_stream.setdefault(stream, []).append((int(op), next(keys) if int(klen) else None))
    conns = [c for c in doc["connections"] if c["transport"] == "tcp"]
    by_conn = {}
    for o in doc["ops"]:
        by_conn.setdefault(o["conn"], []).append(o)
    filled = 0
    for stream, c in enumerate(conns):
        ops = [o for o in by_conn.get(c["id"], []) if "opcode" in o]
        reqs = per_stream.get(stream, [])
        if not ops:
            continue
        if len(ops) != len(reqs) or any(o["opcode"] != op for o, (op, _) in zip(ops, reqs)):
            raise SystemExit(f"{path}: connection {c['id']}: tshark's binary requests do not line up with memcached -vv's")
        for o, (_, key) in zip(ops, reqs):
            if key is not None:
                o["keys"] = [key]
                if "hits" in o:
                    o["hitKeys"] = [key] if o["hits"] else []
                filled += 1
    if filled:
        doc["notes"] = [n for n in doc["notes"] if not n.startswith("binary requests: memcached prints headers only")]
        doc["notes"].append("binary requests: memcached -vv prints headers only; their keys come from tshark's memcache "
                            "dissector (right for binary), matched request by request with opcodes checked")
        # derived counts change with the keys: recount them
        from truthlog import Truth
        t = Truth(doc["capture"], doc["source"], doc["client"], doc["protocol"], doc["transport"])
        t.conns, t.ops = doc["connections"], doc["ops"]
        per_cmd, per_server, keys, errors = t.summary()
        doc["perCommand"], doc["perServer"], doc["keys"], doc["distinctKeys"] = dict(sorted(per_cmd.items())), per_server, keys, len(keys)


def tool_stats(log):
    text = open(log, encoding="latin1").read()
    st = {}
    for k, pat in (("captured", r"(\d+) packets? captured"), ("receivedByFilter", r"(\d+) packets? received by filter"),
                   ("droppedByKernel", r"(\d+) packets? dropped by kernel"),
                   ("droppedByInterface", r"(\d+) packets? dropped by interface")):
        m = re.search(pat, text)
        if m:
            st[k] = int(m.group(1))
    m = re.search(r"Packets received/dropped on interface .*?: (\d+)/(\d+)", text)  # dumpcap
    if m:
        st["captured"], st["droppedByKernel"] = int(m.group(1)), int(m.group(2))
    return st


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("truth")
    ap.add_argument("capture")
    ap.add_argument("--format", required=True)
    ap.add_argument("--link", required=True)
    ap.add_argument("--ns", action="store_true")
    ap.add_argument("--tool-log")
    ap.add_argument("--command")
    ap.add_argument("--ports", default="11211")
    ap.add_argument("--no-tshark", action="store_true")
    a = ap.parse_args()
    ports = [int(p) for p in a.ports.split(",")]
    with open(a.truth) as f:
        doc = json.load(f)
    h = read_header(a.capture)
    if h["format"] != a.format or h["linkType"] != a.link or h["nanosecond"] != a.ns:
        raise SystemExit(f"{a.capture}: expected {a.format}/{a.link}/ns={a.ns}, the file is {h}")
    finfo = {"name": os.path.basename(a.capture), "bytes": os.path.getsize(a.capture),
             "gzip": open(a.capture, "rb").read(2) == b"\x1f\x8b", **h}
    if a.command:
        finfo["command"] = a.command
    if a.tool_log:
        finfo["toolStats"] = tool_stats(a.tool_log)
    doc["file"] = finfo
    doc["capture"] = os.path.basename(a.capture)
    have_tshark = shutil.which("tshark") is not None and not a.no_tshark
    conns = doc.get("connections", [])
    if any(c["client"] == "unknown" for c in conns) and have_tshark:
        syns = syn_clients(a.capture, ports)
        tcp = [c for c in conns if c["transport"] == "tcp"]
        # server by server: a pool's truth (one memcached -vv log per server) lists each server's
        # connections in its own connect order
        by_server = {}
        for cl, srv in syns:
            by_server.setdefault(srv, []).append(cl)
        if len(syns) == len(tcp) and all(len(by_server.get(s, [])) == sum(1 for c in tcp if c["server"] == s)
                                         for s in {c["server"] for c in tcp}):
            for c in tcp:
                c["client"] = by_server[c["server"]].pop(0)
        else:
            doc.setdefault("notes", []).append(f"client endpoints unknown: {len(syns)} SYNs for {len(tcp)} connections")
    if have_tshark and doc.get("source") == "memcached-vv":
        binary_keys_from_tshark(doc, a.capture, ports)
    if have_tshark:
        doc["tshark"] = tshark_counts(a.capture, ports)
    # keep the big lists last, as truthlog writes them
    for k in ("connections", "keys", "ops"):
        if k in doc:
            doc[k] = doc.pop(k)
    write_json(a.truth, doc)


if __name__ == "__main__":
    main()

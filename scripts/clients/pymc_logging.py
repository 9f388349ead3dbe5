"""A pymemcache Client that logs every protocol request it sends, and what it saw back.

It hooks pymemcache's three senders (_fetch_cmd, _store_cmd, _misc_cmd) and _connect, so the log
is per protocol request exactly as pymemcache puts it on the wire: get_many is ONE `get` with
several keys, set_many is one pipelined `set` per key, delete_many one `delete` per key.
Written against Debian bookworm's python3-pymemcache 3.5.2 (checked at import).
"""
import pymemcache
from pymemcache.client.base import Client
from pymemcache.exceptions import (MemcacheClientError, MemcacheServerError,
                                   MemcacheUnknownCommandError)

from truthlog import endpoint

for _m in ("_fetch_cmd", "_store_cmd", "_misc_cmd", "_connect"):
    if not hasattr(Client, _m):
        raise SystemExit(f"pymemcache {pymemcache.__version__}: Client.{_m} is missing; the logging hooks need 3.x/4.x")

STORE_LINES = {
    b"cas": {True: "STORED", False: "EXISTS", None: "NOT_FOUND"},
}


def _err(e):
    if isinstance(e, MemcacheUnknownCommandError):
        return "ERROR"
    if isinstance(e, MemcacheClientError):
        return "CLIENT_ERROR"
    if isinstance(e, MemcacheServerError):
        return "SERVER_ERROR"
    return type(e).__name__


def logging_client_class(truth):
    """A Client subclass bound to one Truth recorder (HashClient takes it as client_class)."""

    class LoggingClient(Client):
        _truth = truth
        _conn_id = None

        def _connect(self):
            super()._connect()
            self._conn_id = self._truth.connection(self.sock)

        def _ensure(self):
            if self.sock is None:
                self._connect()
            return self._conn_id

        def _fetch_cmd(self, name, keys, expect_cas):
            cmd = name.decode()
            if cmd == "stats":
                # stats arguments are not keys
                conn = self._ensure()
                args = [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
                try:
                    res = super()._fetch_cmd(name, keys, expect_cas)
                except Exception as e:
                    self._truth.op(conn, cmd, [], result=_err(e), error=_err(e), args=args)
                    raise
                self._truth.op(conn, cmd, [], result="END", args=args)
                return res
            else:
                try:
                    wire = [self.check_key(k) for k in keys]
                except Exception:
                    return super()._fetch_cmd(name, keys, expect_cas)  # raises before anything is sent
            conn = self._ensure()
            read = cmd in ("get", "gets")
            try:
                res = super()._fetch_cmd(name, keys, expect_cas)
            except Exception as e:
                self._truth.op(conn, cmd, wire, result=_err(e), error=_err(e),
                               **({"hits": 0, "misses": 0, "hitKeys": []} if read else {}))
                raise
            if read:
                hit = [w for k, w in zip(keys, wire) if k in res]
                vlen = 0
                for k in keys:
                    if k in res:
                        v = res[k][0] if expect_cas else res[k]
                        vlen += len(v) if isinstance(v, (bytes, str)) else 0
                self._truth.op(conn, cmd, wire, result="END", hits=len(hit), misses=len(wire) - len(hit),
                               hitKeys=[w.decode("latin1") for w in hit], valueBytes=vlen)
            else:
                self._truth.op(conn, cmd, wire, result="END")
            return res

        def _store_cmd(self, name, values, expire, noreply, flags=None, cas=None):
            cmd = name.decode()
            try:
                items = [(k, self.check_key(k), self.serde.serialize(k, v)[0]) for k, v in values.items()]
            except Exception:
                return super()._store_cmd(name, values, expire, noreply, flags, cas)
            conn = self._ensure()
            try:
                res = super()._store_cmd(name, values, expire, noreply, flags, cas)
            except Exception as e:
                for i, (_, w, data) in enumerate(items):
                    # one request per key went out; with a single key the error is its answer
                    r = _err(e) if len(items) == 1 else "unknown"
                    self._truth.op(conn, cmd, [w], quiet=bool(noreply), value_len=len(data), result=r,
                                   error=_err(e) if len(items) == 1 else None)
                raise
            for k, w, data in items:
                if noreply:
                    r = "none"
                else:
                    r = STORE_LINES.get(name, {True: "STORED", False: "NOT_STORED"})[res[k]]
                self._truth.op(conn, cmd, [w], quiet=bool(noreply), value_len=len(data), result=r)
            return res

        def _misc_cmd(self, cmds, cmd_name, noreply):
            cmd = cmd_name.decode()
            conn = self._ensure()
            parsed = []
            for line in cmds:
                toks = line.rstrip(b"\r\n").split()
                keyed = cmd in ("delete", "incr", "decr", "touch")
                parsed.append([toks[1]] if keyed and len(toks) > 1 else [])
            quiet = bool(noreply) or cmd == "quit"
            try:
                res = super()._misc_cmd(cmds, cmd_name, noreply)
            except Exception as e:
                for i, keys in enumerate(parsed):
                    r = _err(e) if len(parsed) == 1 else "unknown"
                    self._truth.op(conn, cmd, keys, quiet=quiet, result=r,
                                   error=_err(e) if len(parsed) == 1 else None)
                raise
            for i, keys in enumerate(parsed):
                # status word as the client saw it; incr/decr answer the new number itself
                r = "none" if quiet else res[i].split(b" ")[0].decode("latin1")
                self._truth.op(conn, cmd, keys, quiet=quiet, result=r)
            return res

    return LoggingClient


def server_key(client):
    """serverKey of a pymemcache client's server tuple."""
    return endpoint(client.server)

# Drives real memcached clients for test/topology/hashing.test.ts.
#   real-clients.py pymemcache HOST:PORT,HOST:PORT KEYFILE         -> sets every key through pymemcache HashClient
#   real-clients.py libmemcached MODE HOST:PORT,HOST:PORT KEYFILE  -> sets every key through libmemcached (ctypes);
#       HOST:PORT:WEIGHT adds the server with a weight (memcached_server_add_with_weight).
#       MODE: modula | ketama | ketama_weighted; prints {"behavior": ..., "index": {key: server index}} (memcached_generate_hash)
# KEYFILE holds one key per line, latin1.
import ctypes, json, sys

def servers(arg):
    # HOST:PORT or HOST:PORT:WEIGHT (libmemcached's server string form)
    out = []
    for s in arg.split(','):
        parts = s.split(':')
        w = int(parts[2]) if len(parts) == 3 else None
        out.append((parts[0], int(parts[1]), w))
    return out

def keys(path):
    with open(path, 'rb') as f:
        return [l for l in f.read().split(b'\n') if l]

def pymemcache(srv, path):
    from pymemcache.client.hash import HashClient
    c = HashClient([(h, p) for h, p, _ in srv])
    for k in keys(path):
        c.set(k.decode('latin1'), b'1')
    print(json.dumps({"client": "pymemcache", "hasher": type(c.hasher).__name__}))

def libmemcached(mode, srv, path):
    lm = ctypes.CDLL('libmemcached.so.11')
    lm.memcached_create.restype = ctypes.c_void_p
    lm.memcached_create.argtypes = [ctypes.c_void_p]
    lm.libmemcached_string_behavior.restype = ctypes.c_char_p
    lm.libmemcached_string_behavior.argtypes = [ctypes.c_int]
    lm.libmemcached_string_distribution.restype = ctypes.c_char_p
    lm.libmemcached_string_distribution.argtypes = [ctypes.c_int]
    lm.memcached_behavior_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64]
    lm.memcached_behavior_get_distribution.argtypes = [ctypes.c_void_p]
    lm.memcached_server_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint16]
    lm.memcached_server_add_with_weight.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint16, ctypes.c_uint32]
    lm.memcached_set.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_long, ctypes.c_uint32]
    lm.memcached_generate_hash.restype = ctypes.c_uint32
    lm.memcached_generate_hash.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    m = lm.memcached_create(None)
    # find behaviour numbers by name, so a reordered enum cannot fool the test
    names = {}
    for i in range(0, 64):
        n = lm.libmemcached_string_behavior(i)
        if n:
            names[n.decode()] = i
    if mode == 'ketama_weighted':
        rc = lm.memcached_behavior_set(m, names['MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED'], 1)
        assert rc == 0, rc
    elif mode == 'ketama':
        rc = lm.memcached_behavior_set(m, names['MEMCACHED_BEHAVIOR_KETAMA'], 1)
        assert rc == 0, rc
    for h, p, w in srv:
        if w is None:
            assert lm.memcached_server_add(m, h.encode(), p) == 0
        else:
            assert lm.memcached_server_add_with_weight(m, h.encode(), p, w) == 0
    dist = lm.libmemcached_string_distribution(lm.memcached_behavior_get_distribution(m)).decode()
    index = {}
    connect = len(sys.argv) > 5 and sys.argv[5] == 'set'
    for k in keys(path):
        index[k.decode('latin1')] = lm.memcached_generate_hash(m, k, len(k))
        if connect:
            rc = lm.memcached_set(m, k, len(k), b'1', 1, 0, 0)
            assert rc == 0, (k, rc)
    print(json.dumps({"client": "libmemcached", "distribution": dist, "index": index}))

if sys.argv[1] == 'pymemcache':
    pymemcache(servers(sys.argv[2]), sys.argv[3])
else:
    libmemcached(sys.argv[2], servers(sys.argv[3]), sys.argv[4])

#!/usr/bin/env bash
# make-captures.sh: records REAL memcached clients with tcpdump/dumpcap on loopback and writes
# captures/sample.pcap and captures/fixtures/*, each with a <capture>.truth.json beside it.
#
#   bash scripts/make-captures.sh            # everything (about 1 minute)
#   bash scripts/make-captures.sh meta udp   # only the named ones (names as in the list below)
#   KEEP=1 bash scripts/make-captures.sh ... # keep the work dir (memcached -vv logs, tool logs)
#
# Re-runnable; outputs are overwritten. As root it re-executes itself in a private network
# namespace (unshare -n) whose loopback has MTU 1500 and no GSO: captured TCP segments are then
# Ethernet-sized (1448 payload bytes) as on a real network, every port is free, and nothing else
# is in the capture. Without root it uses the host loopback; the ports below must be free.
# Needs: memcached, tcpdump, dumpcap, memccapable, /usr/bin/python3 + pymemcache; tshark for the
# dissector counts; ruby + ruby-dalli and libcache-memcached-fast-perl, php-cli + php-memcached for
# dalli-binary, cmfast-two-servers and php-memcached only (`bash scripts/ensure-tools.sh captures`
# installs them all).
#
# Captures (server port 11211 unless said; tcpdump -s 0 -B 131072 and a port filter, no
# --immediate-mode; dumpcap -s 0 for pcapng):
#   sample.pcap                  ~10 s of web-cache traffic (~1k requests/s), 10 long-lived + short-lived
#                                connections; server 127.0.0.2:11211 (so 127.0.0.1:11211 can be its target)
#   fixtures/memccapable-ascii   memccapable -a, all tests but "ascii verbosity" (see below)
#   fixtures/memccapable-binary  memccapable -b
#   fixtures/pymemcache-mix      multi-get, noreply, cas, 500 KB values, errors, verbosity, flush_all
#   fixtures/pool-two-servers    HashClient over 127.0.0.1:11211 and 127.0.0.1:11212
#   fixtures/meta                mg/ms/md/ma/mn/me with q, O, k, b (base64 keys), T, N, c, C, M ...
#   fixtures/binary-quiet        getkq/getq/setq/... pipelines ended by noop, stat, SASL (credentials)
#   fixtures/basic               a small pymemcache session: the control for the next five
#   fixtures/any-sll2            same session, tcpdump -i any (LINUX_SLL2)
#   fixtures/pcapng.pcapng       same session, dumpcap (pcapng, one interface)
#   fixtures/nanosecond          same session, tcpdump --time-stamp-precision nano
#   fixtures/pcapng-two-interfaces.pcapng  mergecap of any-sll2 + nanosecond: two interfaces
#                                (LINUX_SLL2 with if_tsresol 6, EN10MB with 9), two sessions
#   fixtures/ipv6                same session, memcached on [::1]:11211
#   fixtures/gzip-no-suffix.pcap basic.pcap gzip-compressed, name without .gz (detect by content)
#   fixtures/midstream           capture started while two connections were mid-way through
#                                300 KB value transfers (one request, one response)
#   fixtures/udp                 memcached -U 11211 with a raw UDP client (8-byte frame header)
#   fixtures/memcslap-burst      memcslap --binary --noreply: setq pipelines of ~2 KB values, then gets
#   fixtures/memaslap-64conns    memcaslap, 64 connections started at once, multi-gets of 8 keys
#   fixtures/pymemcache-50conns  pymemcache, 50 connections opened at once, 50 threads in bursts
#   fixtures/dalli-binary        Ruby Dalli 3.0 (binary): get_multi (getkq... noop), multi { } (setq/addq/
#                                replaceq/deleteq ... noop), cas via get_cas/set_cas/delete_cas, incr with and
#                                without a default, append/prepend, touch/gat, 100/150 KB values; truth from
#                                memcached -vv, the client's own counts beside it (clientLog)
#   fixtures/cmfast-two-servers  Perl Cache::Memcached::Fast (text) over 127.0.0.1:11211 and :11212: get_multi,
#                                gets_multi/cas_multi, *_multi pipelines, noreply (void context), nowait,
#                                gat/gats, 200 KB values, a reconnect after CLIENT_ERROR (close_on_error);
#                                truth from both servers' memcached -vv, merged, plus clientLog
#   fixtures/php-memcached       PHP php-memcached 3.2 (libmemcached 1.1): one session over text, one over binary
#                                (OPT_BINARY_PROTOCOL): getMulti, getDelayed/fetchAll, cas (GET_EXTENDED), setMulti,
#                                deleteMulti, OPT_NOREPLY connections (noreply / setq, deleteq), quit, 120 KB values;
#                                truth from memcached -vv plus clientLog
#
# Truth file format (<capture>.truth.json, truthVersion 1). What the CLIENT did, as it logged it
# (source "client-log"), or for memccapable, which logs nothing, what memcached -vv printed
# (source "memcached-vv"). Fields:
#   capture, source, client         file name; where the truth comes from; the client program
#   protocol                        "text" | "meta" | "binary" | "mixed"; transport "tcp" | "udp"
#   file                            read back from the capture: format pcap|pcapng, nanosecond,
#                                   linkType (EN10MB, LINUX_SLL2 ...), byteOrder, packets, bytes,
#                                   gzip, command (how it was captured), toolStats (tcpdump/dumpcap
#                                   counters: captured, droppedByKernel ...; on lo "receivedByFilter"
#                                   counts each packet twice), interfaces (pcapng)
#   servers                         server endpoints "ip:port" ("[::1]:11211" for IPv6)
#   connectionCount                 TCP connections the client opened (UDP sockets not counted)
#   midstreamConnections            connections already open when the capture started (no SYN)
#   requests                        protocol requests, as the protocol defines them: a text get
#                                   with 3 keys is ONE get request with 3 keys; set_many of 5
#                                   keys is 5 set requests; binary getkq x10 + noop is 11 requests
#   quietRequests                   requests that expect no answer: text noreply (as honoured),
#                                   binary quiet opcodes (…q), meta q flag, quit/quitq
#   readKeys {hits, misses}         per-key outcome of read requests (get/gets/gat*, mg, binary
#                                   get*/gat*), summed; a silent quiet get is a miss
#   perCommand {cmd: {requests, keys, quiet, errors[, hits, misses]}}
#                                   cmd: text/meta as typed ("get", "mg"), binary by opcode name
#                                   (get set add replace delete increment decrement quit flush getq
#                                   noop version getk getkq append prepend stat setq addq replaceq
#                                   deleteq incrementq decrementq quitq flushq appendq prependq
#                                   verbosity touch gat gatq sasl_list_mechs sasl_auth sasl_step
#                                   gatk gatkq); unknown text commands by name ("bogus_cmd")
#   perServer {ep: {connections, requests, perCommand: {cmd: n}}}
#   errors {class: n}               ERROR / CLIENT_ERROR / SERVER_ERROR, binary error status names
#   distinctKeys, notes[]           notes explain anything special about that capture
#   connections[] {id, transport, client "ip:port", server, midstream, requests[, note]}
#                                   in connect order; client is the socket's own local address, so
#                                   it matches the capture's 4-tuple exactly
#   keys {key: {server, requests[, reads, hits, misses]}}
#                                   keys as latin1 strings (meta base64 keys decoded); server is the
#                                   endpoint every request for it went to ("several" otherwise)
#   ops[] {conn, seq, cmd, keys[], quiet, valueLen, result, tMs[, hits, misses, hitKeys[],
#          valueBytes, error, opcode, keyLen, metaFlags[], respFlags[], base64, args[], partial,
#          datagrams, statPackets, credentials, serverResult]}
#                                   every request in issue order (seq = order inside its connection;
#                                   tMs = client clock, ms since the client started). result = the
#                                   status the client saw: STORED, NOT_STORED, EXISTS, NOT_FOUND,
#                                   DELETED, TOUCHED, END (get family, see hits), a number (incr/
#                                   decr), VERSION, OK, ERROR, CLIENT_ERROR, SERVER_ERROR; meta HD VA
#                                   EN NF NS EX MN ME; binary status names (no_error, key_not_found,
#                                   key_exists, item_not_stored, non_numeric, unknown_command ...);
#                                   "none" = expected no answer and got none; "unknown" = sent in a
#                                   pipeline that an earlier error cut short.
#                                   partial (midstream only): "request" = only the tail of the
#                                   request's bytes is in the capture; "response" = the request is
#                                   not in the capture at all, only the tail of its answer.
#                                   memccapable truths have no tMs (memcached -vv has no times).
#   tshark (optional)               counts from Wireshark's memcache dissector on the capture:
#                                   binaryRequestsPerOpcode, binaryResponsesPerOpcode,
#                                   binaryResponsesPerOpcodeStatus ("get:1" = status 1), textCommands,
#                                   textResponses, version, limits. Right for binary; for text it
#                                   sees only the first command of each TCP segment and no meta.
#   sample.pcap only                ops are not inline: sample.truth.ops.jsonl.gz holds them, one op
#                                   object per line in tMs order; keys is there, as usual.
#   pool-two-servers only           keyServer {key: ep}: HashClient's own choice for each key.
#   clientLog (dalli, cmfast, php) the client's own calls per method and the hits/misses it got back
#                                   (scripts/clients/client_log.py checks them equal to readKeys)
#   midstream only                  partialRequests: ops marked partial; capturedRequests: the
#                                   requests wholly in the capture (requests - partialRequests).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=/usr/bin/python3
CL=$ROOT/scripts/clients
OUT=$ROOT/captures
FIX=$OUT/fixtures

if [[ -z "${MC_NETNS:-}" && $(id -u) == 0 ]] && unshare -n true 2>/dev/null; then
  exec env MC_NETNS=1 unshare -n bash "${BASH_SOURCE[0]}" "$@"
fi
if [[ -n "${MC_NETNS:-}" ]]; then
  ip link set lo up
  ip link set lo mtu 1500
  # no segmentation offload: the capture then holds wire-sized segments, not 64 KB super-packets
  ip link set lo gso_max_size 1500 2>/dev/null || true
  ip link set lo gso_max_segs 1 2>/dev/null || true
fi

for t in memcached tcpdump dumpcap memccapable; do
  command -v "$t" >/dev/null || { echo "make-captures: $t is missing; run: bash scripts/ensure-tools.sh captures" >&2; exit 1; }
done
$PY -c 'import pymemcache' 2>/dev/null || { echo "make-captures: $PY lacks pymemcache (apt-get install python3-pymemcache)" >&2; exit 1; }

mkdir -p "$FIX"
WORK=$(mktemp -d /tmp/make-captures.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -z "${KEEP:-}" ]]; then rm -rf "$WORK"; else echo "work dir kept: $WORK" >&2; fi
}
trap cleanup EXIT
ROOTARGS=()
[[ $(id -u) == 0 ]] && ROOTARGS=(-u root)
TCPDUMP_Z=()
[[ $(id -u) == 0 ]] && TCPDUMP_Z=(-Z root)

wait_port() { # host port: until memcached answers version
  $PY - "$1" "$2" <<'EOF'
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
end = time.time() + 10
while time.time() < end:
    try:
        s = socket.create_connection((host, port), timeout=0.5)
        s.sendall(b"version\r\n")
        if s.recv(100).startswith(b"VERSION"):
            sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(f"memcached on {host}:{port} did not answer")
EOF
}

MC_PIDS=()
start_mc() { # host port [memcached args...]; stderr to $WORK/mc-<port>.log
  local host=$1 port=$2
  shift 2
  memcached "${ROOTARGS[@]}" -l "$host" -p "$port" -U 0 -t 1 -m 64 -c 1024 "$@" 2>"$WORK/mc-$port.log" &
  MC_PIDS+=($!)
  PIDS+=($!)
  wait_port "$host" "$port"
}
stop_mcs() {
  for p in "${MC_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  MC_PIDS=()
}

CAP_PID=
CAP_LOG=
CAP_CMD=
start_tcpdump() { # out filter [tcpdump args...]
  local out=$1 filter=$2
  shift 2
  CAP_LOG=$WORK/$(basename "$out").log
  local args=(-i lo -s 0 -B 131072 "${TCPDUMP_Z[@]}" "$@" -w "$out" "$filter")
  # a later -i wins: callers pass "-i any" in "$@"
  CAP_CMD="tcpdump ${args[*]}"
  tcpdump "${args[@]}" 2>"$CAP_LOG" &
  CAP_PID=$!
  PIDS+=($CAP_PID)
  wait_log "listening on"
}
start_dumpcap() { # out filter
  CAP_LOG=$WORK/$(basename "$1").log
  local args=(-i lo -f "$2" -s 0 -B 2 -w "$1")
  CAP_CMD="dumpcap ${args[*]}"
  dumpcap "${args[@]}" 2>"$CAP_LOG" &
  CAP_PID=$!
  PIDS+=($CAP_PID)
  wait_log "Capturing on"
}
wait_log() {
  for _ in $(seq 200); do
    grep -q "$1" "$CAP_LOG" 2>/dev/null && return 0
    kill -0 "$CAP_PID" 2>/dev/null || { cat "$CAP_LOG" >&2; exit 1; }
    sleep 0.05
  done
  echo "make-captures: capture tool did not start:" >&2
  cat "$CAP_LOG" >&2
  exit 1
}
stop_capture() {
  # libpcap's TPACKET_V3 hands packets over per block, a block retires after its 1 s timeout:
  # stopping sooner loses the last packets ("0 packets captured")
  sleep 2
  kill -INT "$CAP_PID"
  wait "$CAP_PID" || true
  if grep -Eq '^[1-9][0-9]* packets? dropped by kernel|dropped on interface .*: [0-9]+/[1-9]' "$CAP_LOG"; then
    echo "make-captures: WARNING the capture tool reports drops:" >&2
    cat "$CAP_LOG" >&2
  fi
}
finalize() { # truth capture format link [finalize args...]
  local truth=$1 cap=$2 fmt=$3 link=$4
  shift 4
  $PY "$CL/finalize.py" "$truth" "$cap" --format "$fmt" --link "$link" --tool-log "$CAP_LOG" \
    --command "$CAP_CMD" "$@"
  printf '  %-34s %8s bytes  %s\n' "${cap#"$OUT"/}" "$(stat -c %s "$cap")" \
    "$(grep -Eo '[0-9]+ packets captured|Packets received/dropped[^(]*' "$CAP_LOG" | head -1)"
}

cap_sample() {
  # the sample's server is 127.0.0.2:11211, not 127.0.0.1:11211: a newcomer's memcached (Debian's
  # listens on 127.0.0.1:11211) is then a valid target for it, not "a server of the capture" that
  # replay refuses, and the default --port 11211 still finds it
  start_mc 127.0.0.2 11211 -t 2
  start_tcpdump "$OUT/sample.pcap" "tcp port 11211"
  $PY "$CL/sample_load.py" 127.0.0.2:11211 "$OUT/sample.truth.json" "$OUT/sample.truth.ops.jsonl.gz" sample.pcap \
    "${SAMPLE_SECONDS:-10}" "${SAMPLE_RATE:-800}"
  stop_capture
  stop_mcs
  finalize "$OUT/sample.truth.json" "$OUT/sample.pcap" pcap EN10MB
}

cap_memccapable_ascii() {
  # memcached -vv is the truth, and the suite's "ascii verbosity" test turns it off (verbosity 0):
  # run the whole suite in one process with -P, answering "skip" to that test only
  start_mc 127.0.0.1 11211 -vv
  start_tcpdump "$FIX/memccapable-ascii.pcap" "tcp port 11211"
  local from
  from=$(wc -l <"$WORK/mc-11211.log") # start_mc's own check connection is not in the capture
  $PY "$CL/memccapable_prompted.py" "ascii verbosity" memccapable -h 127.0.0.1 -p 11211 -a \
    >"$WORK/memccapable-a.out" 2>&1 || { cat "$WORK/memccapable-a.out" >&2; exit 1; }
  stop_capture
  stop_mcs
  $PY "$CL/vv_truth.py" "$WORK/mc-11211.log" 127.0.0.1:11211 "$FIX/memccapable-ascii.truth.json" \
    memccapable-ascii.pcap "memccapable -a -P, every ascii test but 'ascii verbosity' (answered skip)" "$from"
  finalize "$FIX/memccapable-ascii.truth.json" "$FIX/memccapable-ascii.pcap" pcap EN10MB
}

cap_memccapable_binary() {
  start_mc 127.0.0.1 11211 -vv
  start_tcpdump "$FIX/memccapable-binary.pcap" "tcp port 11211"
  local from
  from=$(wc -l <"$WORK/mc-11211.log")
  memccapable -h 127.0.0.1 -p 11211 -b >"$WORK/memccapable-b.out" 2>&1 || { cat "$WORK/memccapable-b.out" >&2; exit 1; }
  stop_capture
  stop_mcs
  $PY "$CL/vv_truth.py" "$WORK/mc-11211.log" 127.0.0.1:11211 "$FIX/memccapable-binary.truth.json" \
    memccapable-binary.pcap "memccapable -b" "$from"
  finalize "$FIX/memccapable-binary.truth.json" "$FIX/memccapable-binary.pcap" pcap EN10MB
}

cap_pymemcache_mix() {
  # -I 640k: the 500 KB value fits, the 660 KB one is refused (SERVER_ERROR object too large)
  start_mc 127.0.0.1 11211 -I 640k -o slab_chunk_max=131072
  start_tcpdump "$FIX/pymemcache-mix.pcap" "tcp port 11211"
  $PY "$CL/pymc_mix.py" 127.0.0.1:11211 "$FIX/pymemcache-mix.truth.json" pymemcache-mix.pcap
  stop_capture
  stop_mcs
  finalize "$FIX/pymemcache-mix.truth.json" "$FIX/pymemcache-mix.pcap" pcap EN10MB
}

cap_pool_two_servers() {
  start_mc 127.0.0.1 11211
  start_mc 127.0.0.1 11212
  start_tcpdump "$FIX/pool-two-servers.pcap" "tcp port 11211 or tcp port 11212"
  $PY "$CL/pymc_pool.py" 127.0.0.1:11211 127.0.0.1:11212 "$FIX/pool-two-servers.truth.json" pool-two-servers.pcap
  stop_capture
  stop_mcs
  finalize "$FIX/pool-two-servers.truth.json" "$FIX/pool-two-servers.pcap" pcap EN10MB --ports 11211,11212
}

cap_meta() {
  start_mc 127.0.0.1 11211
  start_tcpdump "$FIX/meta.pcap" "tcp port 11211"
  $PY "$CL/meta_client.py" 127.0.0.1:11211 "$FIX/meta.truth.json" meta.pcap
  stop_capture
  stop_mcs
  finalize "$FIX/meta.truth.json" "$FIX/meta.pcap" pcap EN10MB
}

cap_binary_quiet() {
  start_mc 127.0.0.1 11211
  start_tcpdump "$FIX/binary-quiet.pcap" "tcp port 11211"
  $PY "$CL/binary_client.py" 127.0.0.1:11211 "$FIX/binary-quiet.truth.json" binary-quiet.pcap
  stop_capture
  stop_mcs
  finalize "$FIX/binary-quiet.truth.json" "$FIX/binary-quiet.pcap" pcap EN10MB
}

basic_session() { # name host server-endpoint
  $PY "$CL/basic_client.py" "$3" "$FIX/${1%.*}.truth.json" "$1"
}

cap_basic() {
  start_mc 127.0.0.1 11211
  start_tcpdump "$FIX/basic.pcap" "tcp port 11211"
  basic_session basic.pcap 127.0.0.1 127.0.0.1:11211
  stop_capture
  stop_mcs
  finalize "$FIX/basic.truth.json" "$FIX/basic.pcap" pcap EN10MB
}

cap_gzip_no_suffix() {
  [[ -f $FIX/basic.pcap ]] || cap_basic
  gzip -9 -n -c "$FIX/basic.pcap" >"$FIX/gzip-no-suffix.pcap"
  $PY -c '
import json, os, sys
sys.path.insert(0, sys.argv[3])
from truthlog import write_json
d = json.load(open(sys.argv[1]))
d["capture"] = "gzip-no-suffix.pcap"
d["notes"] = d.get("notes", []) + ["basic.pcap compressed with gzip -9 -n; the name has no .gz on purpose"]
d["file"] = dict(d["file"], name="gzip-no-suffix.pcap", gzip=True, bytes=os.path.getsize(sys.argv[4]),
                 command="gzip -9 -n -c basic.pcap")
write_json(sys.argv[2], d)' "$FIX/basic.truth.json" "$FIX/gzip-no-suffix.truth.json" "$CL" "$FIX/gzip-no-suffix.pcap"
  printf '  %-34s %8s bytes\n' fixtures/gzip-no-suffix.pcap "$(stat -c %s "$FIX/gzip-no-suffix.pcap")"
}

cap_any_sll2() {
  start_mc 127.0.0.1 11211
  start_tcpdump "$FIX/any-sll2.pcap" "tcp port 11211" -i any
  basic_session any-sll2.pcap 127.0.0.1 127.0.0.1:11211
  stop_capture
  stop_mcs
  finalize "$FIX/any-sll2.truth.json" "$FIX/any-sll2.pcap" pcap LINUX_SLL2
}

cap_pcapng() {
  start_mc 127.0.0.1 11211
  start_dumpcap "$FIX/pcapng.pcapng" "tcp port 11211"
  basic_session pcapng.pcapng 127.0.0.1 127.0.0.1:11211
  stop_capture
  stop_mcs
  chmod 644 "$FIX/pcapng.pcapng"
  # dumpcap writes if_tsresol 9: nanosecond timestamps
  finalize "$FIX/pcapng.truth.json" "$FIX/pcapng.pcapng" pcapng EN10MB --ns
}

cap_nanosecond() {
  start_mc 127.0.0.1 11211
  start_tcpdump "$FIX/nanosecond.pcap" "tcp port 11211" --time-stamp-precision nano
  basic_session nanosecond.pcap 127.0.0.1 127.0.0.1:11211
  stop_capture
  stop_mcs
  finalize "$FIX/nanosecond.truth.json" "$FIX/nanosecond.pcap" pcap EN10MB --ns
}

cap_ipv6() {
  start_mc ::1 11211
  start_tcpdump "$FIX/ipv6.pcap" "tcp port 11211"
  basic_session ipv6.pcap ::1 "[::1]:11211"
  stop_capture
  stop_mcs
  finalize "$FIX/ipv6.truth.json" "$FIX/ipv6.pcap" pcap EN10MB
}

cap_pcapng_two_interfaces() {
  # two real captures merged: interface 0 = any-sll2.pcap (LINUX_SLL2, us), 1 = nanosecond.pcap
  # (EN10MB, ns); the sessions were recorded seconds apart, so they do not interleave
  [[ -f $FIX/any-sll2.pcap ]] || cap_any_sll2
  [[ -f $FIX/nanosecond.pcap ]] || cap_nanosecond
  mergecap -F pcapng -w "$FIX/pcapng-two-interfaces.pcapng" "$FIX/any-sll2.pcap" "$FIX/nanosecond.pcap"
  $PY "$CL/merge_truths.py" "$FIX/pcapng-two-interfaces.truth.json" pcapng-two-interfaces.pcapng \
    "$FIX/any-sll2.truth.json" "$FIX/nanosecond.truth.json"
  CAP_LOG=/dev/null CAP_CMD="mergecap -F pcapng -w pcapng-two-interfaces.pcapng any-sll2.pcap nanosecond.pcap" \
    finalize "$FIX/pcapng-two-interfaces.truth.json" "$FIX/pcapng-two-interfaces.pcapng" pcapng LINUX_SLL2
}

cap_midstream() {
  start_mc 127.0.0.1 11211
  rm -f "$WORK/ready" "$WORK/go"
  $PY "$CL/midstream_client.py" 127.0.0.1:11211 "$FIX/midstream.truth.json" midstream.pcap "$WORK/ready" "$WORK/go" &
  local cpid=$!
  PIDS+=($cpid)
  for _ in $(seq 300); do [[ -f $WORK/ready ]] && break; sleep 0.02; done
  [[ -f $WORK/ready ]] || { echo "make-captures: midstream client did not get ready" >&2; exit 1; }
  start_tcpdump "$FIX/midstream.pcap" "tcp port 11211"
  touch "$WORK/go"
  wait "$cpid"
  stop_capture
  stop_mcs
  finalize "$FIX/midstream.truth.json" "$FIX/midstream.pcap" pcap EN10MB
}

cap_udp() {
  start_mc 127.0.0.1 11211 -U 11211
  $PY "$CL/udp_client.py" setup 127.0.0.1:11211
  start_tcpdump "$FIX/udp.pcap" "udp port 11211"
  $PY "$CL/udp_client.py" run 127.0.0.1:11211 "$FIX/udp.truth.json" udp.pcap
  stop_capture
  stop_mcs
  finalize "$FIX/udp.truth.json" "$FIX/udp.pcap" pcap EN10MB
}

cap_memcslap_burst() {
  # libmemcached memslap, binary protocol, --noreply: the initial load goes out as setq
  # pipelines of ~2 KB values (hundreds of requests inside a few ms), then the get test (--buffer
  # would batch them too, but libmemcached 1.1.4 desyncs the binary stream with it: memcached resets)
  start_mc 127.0.0.1 11211 -vv
  start_tcpdump "$FIX/memcslap-burst.pcap" "tcp port 11211"
  local from
  from=$(wc -l <"$WORK/mc-11211.log")
  memcslap -s 127.0.0.1:11211 --binary --noreply --tcp-nodelay -t get -l 300 -e 300 -c 1 \
    >"$WORK/memcslap.out" 2>&1 || { cat "$WORK/memcslap.out" >&2; exit 1; }
  stop_capture
  stop_mcs
  $PY "$CL/vv_truth.py" "$WORK/mc-11211.log" 127.0.0.1:11211 "$FIX/memcslap-burst.truth.json" \
    memcslap-burst.pcap "memcslap --binary --noreply --tcp-nodelay -t get -l 300 -e 300 -c 1" "$from"
  finalize "$FIX/memcslap-burst.truth.json" "$FIX/memcslap-burst.pcap" pcap EN10MB
}

cap_memaslap_64conns() {
  # memaslap (memcaslap) with 64 concurrent connections on 2 threads, multi-gets of 8 keys:
  # every connection starts at the same moment and keeps a request in flight
  start_mc 127.0.0.1 11211 -vv
  start_tcpdump "$FIX/memaslap-64conns.pcap" "tcp port 11211"
  local from
  from=$(wc -l <"$WORK/mc-11211.log")
  memcaslap -s 127.0.0.1:11211 -T 2 -c 64 -x 1600 -d 8 -X 64 -w 1k \
    >"$WORK/memaslap.out" 2>&1 || { cat "$WORK/memaslap.out" >&2; exit 1; }
  stop_capture
  stop_mcs
  $PY "$CL/vv_truth.py" "$WORK/mc-11211.log" 127.0.0.1:11211 "$FIX/memaslap-64conns.truth.json" \
    memaslap-64conns.pcap "memcaslap -T 2 -c 64 -x 1600 -d 8 -X 64 -w 1k" "$from"
  finalize "$FIX/memaslap-64conns.truth.json" "$FIX/memaslap-64conns.pcap" pcap EN10MB
}

cap_pymemcache_50conns() {
  start_mc 127.0.0.1 11211
  start_tcpdump "$FIX/pymemcache-50conns.pcap" "tcp port 11211"
  $PY "$CL/pymc_burst.py" 127.0.0.1:11211 "$FIX/pymemcache-50conns.truth.json" pymemcache-50conns.pcap
  stop_capture
  stop_mcs
  finalize "$FIX/pymemcache-50conns.truth.json" "$FIX/pymemcache-50conns.pcap" pcap EN10MB
}

cap_dalli_binary() {
  # Ruby Dalli 3.0 (binary protocol): it logs nothing per request, so memcached -vv is the truth
  # and the client's own counts (calls per method, hits/misses) are checked against it
  ruby -e 'require "dalli"' 2>/dev/null || { echo "make-captures: dalli-binary needs ruby and Dalli (apt-get install ruby ruby-dalli)" >&2; exit 1; }
  start_mc 127.0.0.1 11211 -vv
  start_tcpdump "$FIX/dalli-binary.pcap" "tcp port 11211"
  local from
  from=$(wc -l <"$WORK/mc-11211.log")
  ruby "$CL/dalli_client.rb" 127.0.0.1:11211 "$WORK/dalli.log.json"
  stop_capture
  stop_mcs
  $PY "$CL/vv_truth.py" "$WORK/mc-11211.log" 127.0.0.1:11211 "$FIX/dalli-binary.truth.json" \
    dalli-binary.pcap "scripts/clients/dalli_client.rb" "$from"
  $PY "$CL/client_log.py" "$FIX/dalli-binary.truth.json" "$WORK/dalli.log.json"
  finalize "$FIX/dalli-binary.truth.json" "$FIX/dalli-binary.pcap" pcap EN10MB
}

cap_cmfast_two_servers() {
  # Perl Cache::Memcached::Fast (text protocol) over two servers: memcached -vv of each is the truth,
  # merged, and the client's own counts (calls per method, hits/misses) are checked against it
  perl -MCache::Memcached::Fast -e 1 2>/dev/null || { echo "make-captures: cmfast-two-servers needs Cache::Memcached::Fast (apt-get install libcache-memcached-fast-perl)" >&2; exit 1; }
  start_mc 127.0.0.1 11211 -vv
  start_mc 127.0.0.1 11212 -vv
  start_tcpdump "$FIX/cmfast-two-servers.pcap" "tcp port 11211 or tcp port 11212"
  local from1 from2
  from1=$(wc -l <"$WORK/mc-11211.log")
  from2=$(wc -l <"$WORK/mc-11212.log")
  perl "$CL/cmfast_client.pl" 127.0.0.1:11211 127.0.0.1:11212 "$WORK/cmfast.log.json"
  stop_capture
  stop_mcs
  $PY "$CL/vv_truth.py" "$WORK/mc-11211.log" 127.0.0.1:11211 "$WORK/cmfast-1.truth.json" \
    cmfast-two-servers.pcap "scripts/clients/cmfast_client.pl" "$from1"
  $PY "$CL/vv_truth.py" "$WORK/mc-11212.log" 127.0.0.1:11212 "$WORK/cmfast-2.truth.json" \
    cmfast-two-servers.pcap "scripts/clients/cmfast_client.pl" "$from2"
  $PY "$CL/client_log.py" "$FIX/cmfast-two-servers.truth.json" "$WORK/cmfast.log.json" \
    "$WORK/cmfast-1.truth.json" "$WORK/cmfast-2.truth.json"
  finalize "$FIX/cmfast-two-servers.truth.json" "$FIX/cmfast-two-servers.pcap" pcap EN10MB --ports 11211,11212
}

cap_php_memcached() {
  # PHP php-memcached (libmemcached): the same session over text, then binary (OPT_BINARY_PROTOCOL),
  # each with a noreply connection; memcached -vv is the truth, the client's own counts beside it
  php -r 'exit(class_exists("Memcached") ? 0 : 1);' 2>/dev/null || { echo "make-captures: php-memcached needs php-cli and php-memcached (apt-get install php-cli php-memcached)" >&2; exit 1; }
  start_mc 127.0.0.1 11211 -vv
  start_tcpdump "$FIX/php-memcached.pcap" "tcp port 11211"
  local from
  from=$(wc -l <"$WORK/mc-11211.log")
  php "$CL/php_memcached.php" 127.0.0.1 11211 "$WORK/php.log.json"
  stop_capture
  stop_mcs
  $PY "$CL/vv_truth.py" "$WORK/mc-11211.log" 127.0.0.1:11211 "$FIX/php-memcached.truth.json" \
    php-memcached.pcap "scripts/clients/php_memcached.php" "$from"
  $PY "$CL/client_log.py" "$FIX/php-memcached.truth.json" "$WORK/php.log.json"
  finalize "$FIX/php-memcached.truth.json" "$FIX/php-memcached.pcap" pcap EN10MB
}

ALL=(sample memccapable-ascii memccapable-binary pymemcache-mix pool-two-servers meta binary-quiet basic
  gzip-no-suffix any-sll2 pcapng nanosecond pcapng-two-interfaces ipv6 midstream udp
  memcslap-burst memaslap-64conns pymemcache-50conns dalli-binary cmfast-two-servers php-memcached)
[[ $# -gt 0 ]] && ALL=("$@")
echo "make-captures: writing to $OUT${MC_NETNS:+ (private network namespace)}" >&2
for name in "${ALL[@]}"; do
  fn=cap_${name//-/_}
  declare -F "$fn" >/dev/null || { echo "make-captures: unknown capture '$name'" >&2; exit 2; }
  "$fn"
done
du -sh "$OUT" | awk '{print "make-captures: captures/ is " $1}' >&2

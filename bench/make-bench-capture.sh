#!/usr/bin/env bash
# Records the bench captures: memcaslap (libmemcached-tools) drives small gets/sets against a local
# memcached while tcpdump records loopback.
#   bench/data/small-100m.pcap   ~100 MB, 16 connections (~590k packets, ~294k requests)
#   bench/data/small-1g.pcap     the same traffic repeated to ~1 GB (timestamps shifted, new clients)
#   bench/data/mc32-223m.pcap    ~223 MB, 32 connections (~1.3M packets, ~650k requests): the shape of
#                                issue 10's "ingest speed, whole process" goal
#   bench/data/mc32-1g.pcap      mc32-223m repeated 5 times (~1.1 GB), for the peak-RSS check
# Used by bench/ingest.js (peak RSS must not grow with capture size). Usage:
#   bash bench/make-bench-capture.sh [small|mc32|all]     (default: all)
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p data
which=${1:-all}

# record <out> <connections> <bytes>: memcaslap with <connections> connections, 32-byte values, 9:1
# get:set as memaslap does by default, until the capture passes <bytes>
record() {
  local out=$1 conns=$2 limit=$3
  [ -s "$out" ] && return 0
  local port; port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  local user_args=(); [ "$(id -u)" = 0 ] && user_args=(-u root)
  memcached -l 127.0.0.1 -p "$port" -U 0 -m 256 -t 2 "${user_args[@]}" & local mc=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  tcpdump -i lo -s 0 -B 131072 -w "$out.tmp" "tcp port $port" 2> data/tcpdump.log & local td=$!
  for _ in $(seq 50); do grep -q "listening on" data/tcpdump.log && break; sleep 0.1; done
  memcaslap -s "127.0.0.1:$port" -T 2 -c "$conns" -X 32 -t 120s > data/memcaslap.log 2>&1 & local ms=$!
  while kill -0 $ms 2>/dev/null; do
    local size; size=$(stat -c %s "$out.tmp" 2>/dev/null || echo 0)
    [ "$size" -gt "$limit" ] && kill $ms && break
    sleep 0.2
  done
  wait $ms 2>/dev/null || true
  sleep 1; kill -INT $td; wait $td || true
  kill $mc; wait $mc 2>/dev/null || true
  mv "$out.tmp" "$out"
}

# repeat <in> <out> <times>: the same traffic again with each copy's clients on new addresses
repeat() {
  local in=$1 out=$2 times=$3
  [ -s "$out" ] && return 0
  local port; port=$(node ../bin/mcreplay.js inspect "$in" --any-port --json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).servers[0].endpoint.split(':').pop()))")
  node ./repeat-pcap.js "$in" "$out" "$times" "$port"
}

if [ "$which" = small ] || [ "$which" = all ]; then
  record data/small-100m.pcap 16 100000000
  repeat data/small-100m.pcap data/small-1g.pcap 10
fi
if [ "$which" = mc32 ] || [ "$which" = all ]; then
  record data/mc32-223m.pcap 32 223000000
  repeat data/mc32-223m.pcap data/mc32-1g.pcap 5
fi
ls -l data/*.pcap

#!/usr/bin/env bash
# Records the bench capture: memcaslap (libmemcached-tools) drives small gets/sets against a local
# memcached while tcpdump records loopback. Writes bench/data/small-100m.pcap (~100 MB, ~800k
# packets) and bench/data/small-1g.pcap (the same traffic repeated to ~1 GB, timestamps shifted),
# used by bench/ingest.js to show that peak RSS does not grow with capture size.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p data
out=data/small-100m.pcap
if [ ! -s "$out" ]; then
  port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  user_args=(); [ "$(id -u)" = 0 ] && user_args=(-u root)
  memcached -l 127.0.0.1 -p "$port" -U 0 -m 256 -t 2 "${user_args[@]}" & mc=$!
  sleep 0.3
  tcpdump -i lo -s 0 -B 131072 -w "$out.tmp" "tcp port $port" 2> data/tcpdump.log & td=$!
  for _ in $(seq 50); do grep -q "listening on" data/tcpdump.log && break; sleep 0.1; done
  # 16 connections, 32-byte values, 9:1 get:set as memaslap does by default; stop at ~100 MB
  memcaslap -s "127.0.0.1:$port" -T 2 -c 16 -X 32 -t 60s > data/memcaslap.log 2>&1 & ms=$!
  while kill -0 $ms 2>/dev/null; do
    size=$(stat -c %s "$out.tmp" 2>/dev/null || echo 0)
    [ "$size" -gt 100000000 ] && kill $ms && break
    sleep 0.5
  done
  wait $ms 2>/dev/null || true
  sleep 0.5; kill -INT $td; wait $td || true
  kill $mc; wait $mc 2>/dev/null || true
  mv "$out.tmp" "$out"
fi
if [ ! -s data/small-1g.pcap ]; then
  port=$(node ../bin/mcreplay.js inspect "$out" --any-port --json | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s).servers[0].endpoint.split(':').pop()))")
  node ./repeat-pcap.js "$out" data/small-1g.pcap 10 "$port"
fi
ls -l data/*.pcap

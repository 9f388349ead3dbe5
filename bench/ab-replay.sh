#!/usr/bin/env bash
# One replay against a fresh local memcached, as bench/fidelity.js runs them, printed as one line:
# for alternating A/B runs of two builds on the same capture (bench/README, session 7).
# Usage: [MCR_EXTRA="--priority nice ..."] bench/ab-replay.sh <build dir with bin/mcreplay.js> <capture> <rate, e.g. 4x> [label]
# (MCR_EXTRA: more replay options, e.g. to compare priorities; MC_EXTRA: more memcached options,
#  e.g. "-t 1 -m 256 -I 2m" as bench/fidelity.js starts it)
# Prints: label capture rate lagp99=<µs> svc=<service p50, µs> eld=<worst event-loop delay, µs> verdict
set -euo pipefail
root=$1 cap=$2 rate=$3 label=${4:-$1}
port=$(python3 -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])")
out=$(mktemp -d)
memcached -U 0 -p "$port" -l 127.0.0.1 -c 4096 ${MC_EXTRA:-} -u "$(id -un)" -d -P "$out/mc.pid"
trap 'kill "$(cat "$out/mc.pid")" 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
nice -n -15 node "$root/bin/mcreplay.js" replay "$cap" ${MCR_EXTRA:-} --target "127.0.0.1:$port" --rate "$rate" \
  --allow flush_all,flush,flushq,verbosity --json --no-progress --no-html --out "$out" > "$out/o.json" 2> "$out/err" || true
r=$(ls -d "$out"/2*/results.json)
echo "$label $(basename "$cap") $rate lagp99=$(jq '.summary.lag.p99/1000|floor' "$r") svc=$(jq '.summary.total.service.p50/1000|floor' "$r") eld=$(jq '.summary.eventLoopMaxNs/1000|floor' "$r") $(jq -r .verdict.status "$r")"

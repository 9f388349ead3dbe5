#!/usr/bin/env bash
# mcreplay gates itself: replays the bundled sample capture against a throwaway local memcached
# with checks wide enough for a noisy 2-core machine but tight enough to catch a generator that
# falls behind (lag) or loses requests (counts). Exit code is mcreplay's (0 pass, 99 fail, 4 saturated).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli.js ] || npm run --silent build

source scripts/lib/memcached.sh
start_memcached -m 256 -t 1
port=$MC_PORT

out=$(mktemp -d /tmp/mcreplay-self-gate.XXXXXX)
node bin/mcreplay.js replay captures/sample.pcap --target "127.0.0.1:$port" --rate 2x \
  --out "$out" --no-progress --no-png --junit "$out/junit.xml" \
  --threshold 'requests.sent >= 100% intended' \
  --threshold 'requests.completed >= 100% sent' \
  --threshold 'unsent.count == 0' \
  --threshold 'errors.count == 0' \
  --threshold 'lag.p99 < 20ms' \
  --threshold 'latency.p99 < 50ms' \
  --threshold 'hit_ratio{cmd=get} >= captured - 5%'
echo "self-gate: passed (report in $out)"

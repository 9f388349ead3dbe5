#!/usr/bin/env bash
# mcreplay gates itself: replays the bundled sample capture against a throwaway local memcached
# with checks wide enough for a noisy 2-core machine but tight enough to catch a generator that
# falls behind (lag) or loses requests (counts). Exit code is mcreplay's (0 pass, 99 fail, 4 saturated).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f dist/cli.js ] || npm run --silent build

port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
user_args=()
[ "$(id -u)" = 0 ] && user_args=(-u root)
memcached -l 127.0.0.1 -p "$port" -U 0 -m 256 -t 1 "${user_args[@]}" &
mc_pid=$!
trap 'kill $mc_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
  sleep 0.1
done

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

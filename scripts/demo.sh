#!/usr/bin/env bash
# The demo: installs what is missing, builds mcreplay, starts a throwaway memcached on a free
# loopback port, inspects the bundled sample capture and replays it at 2x, writing an HTML report.
# Usage: bash scripts/demo.sh [extra replay options...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-tools.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build

port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
user_args=()
[ "$(id -u)" = 0 ] && user_args=(-u root)
memcached -l 127.0.0.1 -p "$port" -U 0 -m 256 -t 2 "${user_args[@]}" &
mc_pid=$!
trap 'kill $mc_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then break; fi
  sleep 0.1
done

echo "== mcreplay inspect captures/sample.pcap"
node bin/mcreplay.js inspect captures/sample.pcap
echo
echo "== mcreplay replay captures/sample.pcap --target 127.0.0.1:$port --rate 2x"
node bin/mcreplay.js replay captures/sample.pcap --target "127.0.0.1:$port" --rate 2x --poll-stats 1s "$@"

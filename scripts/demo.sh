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

source scripts/lib/memcached.sh
start_memcached -m 256 -t 2
port=$MC_PORT

echo "== mcreplay inspect captures/sample.pcap"
node bin/mcreplay.js inspect captures/sample.pcap
echo
echo "== mcreplay replay captures/sample.pcap --target 127.0.0.1:$port --rate 2x"
node bin/mcreplay.js replay captures/sample.pcap --target "127.0.0.1:$port" --rate 2x --poll-stats 1s "$@"

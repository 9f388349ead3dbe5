#!/usr/bin/env bash
# The demo: checks Node.js, installs what the demo itself needs (memcached, nothing else), builds
# mcreplay, starts a throwaway memcached on a free loopback port, inspects the bundled sample
# capture and replays it (at 2x unless told otherwise), writing an HTML report.
# Usage: bash scripts/demo.sh [extra replay options...]     e.g. bash scripts/demo.sh --rate 4x
set -euo pipefail
cd "$(dirname "$0")/.."

# first, before npm or tsc fail cryptically on an older Node (Debian 12's nodejs is 18)
command -v node >/dev/null || { echo "demo: Node.js is not installed: mcreplay needs Node.js 20 or newer (https://nodejs.org, or NodeSource's Debian packages)" >&2; exit 1; }
node bin/node-version.cjs cli || exit 1

bash scripts/ensure-tools.sh demo
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci (mcreplay's JavaScript dependencies, into node_modules/)"
  npm ci --no-audit --no-fund
fi
npm run --silent build

source scripts/lib/memcached.sh
start_memcached -m 256 -t 2
port=$MC_PORT

# the rate actually used: the last --rate among the extra options wins, as on any command line
rate=2x
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    --rate) [ $((i + 1)) -lt ${#args[@]} ] && rate=${args[i + 1]} ;;
    --rate=*) rate=${args[i]#--rate=} ;;
  esac
done

echo "== mcreplay inspect captures/sample.pcap"
node bin/mcreplay.js inspect captures/sample.pcap
echo
echo "== mcreplay replay captures/sample.pcap --target 127.0.0.1:$port --rate $rate --poll-stats 1s${*:+ $*}"
echo "   (a throwaway memcached on 127.0.0.1:$port; the sample's own server was 127.0.0.2:11211)"
rc=0
node bin/mcreplay.js replay captures/sample.pcap --target "127.0.0.1:$port" --rate "$rate" --poll-stats 1s "$@" || rc=$?
cat <<EOF

== mcreplay yourself: from this folder, \`npx mcreplay --help\`, or \`npm link\` once for a
   \`mcreplay\` on your PATH. With a memcached on 127.0.0.1:11211 (apt-get install memcached):
     npx mcreplay replay captures/sample.pcap --target 127.0.0.1:11211 --rate $rate
EOF
exit $rc

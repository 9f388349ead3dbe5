#!/usr/bin/env bash
# `--rate max` CPU per request of this build against another build (a checkout of the commit before,
# built), the two alternating in the same rounds, each run against a fresh memcached -t 1: on a shared
# machine only what two builds measure under the same load can be compared. Prints per run the CPU
# of the replay (results.json run.replayCpu: every thread, t0 to the end) per request sent, and
# req/s; then the median of the same-round after/before CPU ratios.
# Usage: bash bench/replay-ab.sh BEFORE/bin/mcreplay.js [rounds=3] [capture=bench/data/small-100m.pcap] [capture port=33073]
set -euo pipefail
cd "$(dirname "$0")/.."
before=$1
rounds=${2:-3}
cap=${3:-bench/data/small-100m.pcap}
cport=${4:-33073}
user_args=(); [ "$(id -u)" = 0 ] && user_args=(-u root)

# one BIN: prints "cpu_us_per_req req_per_s"
one() {
  local bin=$1 port mc out
  port=$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  memcached -l 127.0.0.1 -p "$port" -U 0 -m 256 -c 4096 -t 1 "${user_args[@]}" & mc=$!
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  out=$(mktemp -d)
  timeout 120 node "$bin" replay "$cap" --port "$cport" --target "127.0.0.1:$port" --no-html --no-progress --json --out "$out" --rate max > "$out/stdout" || true
  kill "$mc"; wait "$mc" 2>/dev/null || true
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const r = JSON.parse(require("fs").readFileSync(j.results, "utf8"));
    const c = r.summary.total.counters;
    const cpu = r.run.replayCpu.userUs + r.run.replayCpu.sysUs;
    console.log((cpu / c.sent).toFixed(2), (c.completed / (r.summary.durationNs / 1e9)).toFixed(0));
  ' "$out/stdout"
  rm -rf "$out"
}

ratios=()
for i in $(seq "$rounds"); do
  # alternate which goes first
  if (( i % 2 )); then a=$(one bin/mcreplay.js); b=$(one "$before"); else b=$(one "$before"); a=$(one bin/mcreplay.js); fi
  echo "round $i: after ${a% *} µs/req (${a#* } req/s)  before ${b% *} µs/req (${b#* } req/s)  load $(cut -d' ' -f1 /proc/loadavg)"
  ratios+=("$(node -e "console.log((${a% *} / ${b% *}).toFixed(3))")")
done
echo "after/before CPU per request, same-round ratios: ${ratios[*]}; median $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')"

#!/bin/sh
# Renders the replay and merge Jobs for N shards:
#   deploy/kubernetes/render.sh N capture target start-at > mcreplay-jobs.yaml
#   (capture: a file name on the mcreplay-capture volume; start-at: ISO 8601 or Unix seconds, the same for all)
# Environment: IMAGE (default mcreplay:latest), RATE (default 1x), THRESHOLDS (';'-separated checks for merge).
set -eu
if [ $# -ne 4 ]; then
  echo "usage: $0 N capture target start-at   (e.g. $0 8 prod.pcap memcached-new:11211 2026-12-07T10:00:00Z)" >&2
  exit 2
fi
n=$1 capture=$2 target=$3 start_at=$4
case "$n" in '' | *[!0-9]* | 0) echo "$0: N must be a whole number >= 1, not '$n'" >&2; exit 2 ;; esac
case "$capture" in */* | '') echo "$0: capture is a file name on the capture volume (mounted at /capture), not '$capture'" >&2; exit 2 ;; esac
dir=$(dirname "$0")
# sed replacement text: escape \ & and the | delimiter
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
for f in replay-job.yaml merge-job.yaml; do
  echo '---'
  sed -e "s|__SHARDS__|$n|g" -e "s|__CAPTURE__|$(esc "$capture")|g" -e "s|__TARGET__|$(esc "$target")|g" \
    -e "s|__START_AT__|$(esc "$start_at")|g" -e "s|__IMAGE__|$(esc "${IMAGE:-mcreplay:latest}")|g" \
    -e "s|__RATE__|$(esc "${RATE:-1x}")|g" -e "s|__THRESHOLDS__|$(esc "${THRESHOLDS:-}")|g" "$dir/$f"
done

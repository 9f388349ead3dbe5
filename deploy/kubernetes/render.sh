#!/bin/sh
# Renders the replay and merge Jobs for N shards:
#   deploy/kubernetes/render.sh N capture target start-at > mcreplay-jobs.yaml
#   (capture: a file name on the mcreplay-capture volume, a pcap/pcapng or a prepared workload made by
#   mcreplay prepare; start-at: ISO 8601 or Unix seconds, the same for all)
# Environment: IMAGE (default mcreplay:latest), RATE (default 1x), THRESHOLDS (';'-separated checks for merge),
#   PREPARE_FROM: a capture file name on the volume; adds a prepare Job that writes `capture` from it
#   (the replay pods wait for it), PREPARE_ARGS: options for that prepare (e.g. --port 11211,11311).
set -eu
if [ $# -ne 4 ]; then
  echo "usage: $0 N capture target start-at   (e.g. $0 8 prod.pcap memcached-new:11211 2026-12-07T10:00:00Z)" >&2
  exit 2
fi
n=$1 capture=$2 target=$3 start_at=$4
case "$n" in '' | *[!0-9]* | 0) echo "$0: N must be a whole number >= 1, not '$n'" >&2; exit 2 ;; esac
case "$capture" in */* | '') echo "$0: capture is a file name on the capture volume (mounted at /capture), not '$capture'" >&2; exit 2 ;; esac
case "${PREPARE_FROM-}" in */*) echo "$0: PREPARE_FROM is a file name on the capture volume, not '$PREPARE_FROM'" >&2; exit 2 ;; esac
if [ -n "${PREPARE_FROM-}" ] && [ "$PREPARE_FROM" = "$capture" ]; then echo "$0: PREPARE_FROM must differ from the prepared file's name ($capture), e.g. PREPARE_FROM=prod.pcap with prod.mcw" >&2; exit 2; fi
dir=$(dirname "$0")
files="replay-job.yaml merge-job.yaml"
[ -n "${PREPARE_FROM-}" ] && files="prepare-job.yaml $files"
# sed replacement text: escape \ & and the | delimiter
esc() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
for f in $files; do
  echo '---'
  sed -e "s|__SHARDS__|$n|g" -e "s|__CAPTURE__|$(esc "$capture")|g" -e "s|__TARGET__|$(esc "$target")|g" \
    -e "s|__START_AT__|$(esc "$start_at")|g" -e "s|__IMAGE__|$(esc "${IMAGE:-mcreplay:latest}")|g" \
    -e "s|__RATE__|$(esc "${RATE:-1x}")|g" -e "s|__THRESHOLDS__|$(esc "${THRESHOLDS:-}")|g" \
    -e "s|__PREPARE_FROM__|$(esc "${PREPARE_FROM:-}")|g" -e "s|__PREPARE_ARGS__|$(esc "${PREPARE_ARGS:-}")|g" "$dir/$f"
done

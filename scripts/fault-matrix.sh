#!/usr/bin/env bash
# fault-matrix.sh: runs the fault-injection suite (test/replay/faults-matrix.test.ts: replay at 2x
# and --rate max; test/mirror/faults-matrix.test.ts: a live mirror) and prints its matrix (fault x
# mode -> outcome, time, errors) as the Markdown table of README "Faults".
#
#   bash scripts/fault-matrix.sh                          # builds, runs both files (about 2-5 minutes), prints
#   bash scripts/fault-matrix.sh rows.json [mirror.json]  # prints the table of rows runs already wrote
#
# The rows are written by the suites themselves when MCREPLAY_FAULT_TABLE (replay) and
# MCREPLAY_MIRROR_FAULT_TABLE (mirror) name files, so the table shows the figures of real runs
# whose assertions passed or failed beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-}
mirror=${2:-}
if [ -z "$rows" ]; then
  rows=$(mktemp /tmp/mcr-fault-matrix.XXXXXX.json)
  mirror=$(mktemp /tmp/mcr-fault-matrix-mirror.XXXXXX.json)
  npm run build >/dev/null
  status=0
  # one file after the other: each times its own runs, and must not starve the other's
  MCREPLAY_FAULT_TABLE="$rows" npx vitest run test/replay/faults-matrix.test.ts >&2 || status=$?
  MCREPLAY_MIRROR_FAULT_TABLE="$mirror" npx vitest run test/mirror/faults-matrix.test.ts >&2 || status=$?
  [ "$status" -eq 0 ] || echo "fault-matrix: a suite failed (exit $status); the table shows what it measured" >&2
fi
node --input-type=module - "$rows" "$mirror" <<'JS'
import { existsSync, readFileSync } from 'node:fs';
const rows = process.argv.slice(2).filter((f) => f && existsSync(f) && readFileSync(f, 'utf8').trim()).flatMap((f) => JSON.parse(readFileSync(f, 'utf8')));
const order = ['blackhole', 'garbage', 'reset', 'halfclose', 'slow', 'noread', 'close', 'kill', 'sigstop', 'restart', 'maxconns'];
const modes = ['2x', 'max', 'mirror'];
rows.sort((a, b) => order.indexOf(a.fault) - order.indexOf(b.fault) || modes.indexOf(a.mode) - modes.indexOf(b.mode));
const f = (x) => (x === null ? '-' : x.toFixed(2));
const n = (x) => x.toLocaleString('en-US');
console.log('| fault | mode | exit | run clock s | lag s | fault (mirror: input) to end s | bound s | sent | completed | errors by class | reconnects |');
console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|');
for (const r of rows) {
  const errs = Object.entries(r.errors).map(([k, v]) => `${k} ${n(v)}`).join(', ') || '-';
  const bound = r.bound === 'run' ? `${r.boundS} + lag (run clock)` : r.bound === 'after input' ? `${+r.boundS.toFixed(2)} + lag (after input)` : `${r.boundS} (after fault)`;
  console.log(`| ${r.fault} | ${r.mode} | ${r.code} | ${f(r.runS)} | ${f(r.lagS)} | ${f(r.afterFaultS)} | ${bound} | ${n(r.sent)} | ${n(r.completed)} | ${errs} | ${n(r.reconnects)} |`);
}
JS

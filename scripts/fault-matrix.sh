#!/usr/bin/env bash
# fault-matrix.sh: runs the fault-injection suite (test/replay/faults-matrix.test.ts) and prints
# its matrix (fault x mode -> outcome, time, errors) as the Markdown table of README "Faults".
#
#   bash scripts/fault-matrix.sh              # builds, runs the suite (about 1-3 minutes), prints
#   bash scripts/fault-matrix.sh rows.json    # prints the table of rows a run already wrote
#
# The rows are written by the suite itself when MCREPLAY_FAULT_TABLE names a file, so the table
# shows the figures of a real run whose assertions passed or failed beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-}
if [ -z "$rows" ]; then
  rows=$(mktemp /tmp/mcr-fault-matrix.XXXXXX.json)
  npm run build >/dev/null
  status=0
  MCREPLAY_FAULT_TABLE="$rows" npx vitest run test/replay/faults-matrix.test.ts >&2 || status=$?
  [ "$status" -eq 0 ] || echo "fault-matrix: the suite failed (exit $status); the table shows what it measured" >&2
fi
node --input-type=module - "$rows" <<'JS'
import { readFileSync } from 'node:fs';
const rows = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const order = ['blackhole', 'garbage', 'reset', 'halfclose', 'slow', 'noread', 'close', 'kill', 'sigstop', 'restart', 'maxconns'];
rows.sort((a, b) => order.indexOf(a.fault) - order.indexOf(b.fault) || a.mode.localeCompare(b.mode));
const f = (x) => (x === null ? '-' : x.toFixed(2));
const n = (x) => x.toLocaleString('en-US');
console.log('| fault | mode | exit | run clock s | lag s | fault to end s | bound s | sent | completed | errors by class | reconnects |');
console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|');
for (const r of rows) {
  const errs = Object.entries(r.errors).map(([k, v]) => `${k} ${n(v)}`).join(', ') || '-';
  const bound = r.bound === 'run' ? `${r.boundS} + lag (run clock)` : `${r.boundS} (after fault)`;
  console.log(`| ${r.fault} | ${r.mode} | ${r.code} | ${f(r.runS)} | ${f(r.lagS)} | ${f(r.afterFaultS)} | ${bound} | ${n(r.sent)} | ${n(r.completed)} | ${errs} | ${n(r.reconnects)} |`);
}
JS

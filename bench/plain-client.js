// The replay bench's baseline: the plainest pipelined Node client that sends a capture's requests.
// Raw request bytes are taken from the capture once (extractWorkload) into per-connection arrays
// before the clock starts; then one net socket per captured connection sends them, and answers are
// counted by a minimal line scanner (VALUE lines skip their data block; any other line ends one
// response). No histograms, no per-command counters, no matching beyond counting: the floor of
// what Node can do, against which bench/replay.js measures `mcreplay replay`.
//
// Usage: node bench/plain-client.js <capture> --port P --target host:port [--mode max|rate|schedule]
//   --mode max       each connection keeps up to --depth requests in flight (default: the capture's
//                    pipeline depth, measured at load), as fast as answers allow (closed loop);
//                    --depth captured: mcreplay's rule, a request that the capture sent while nothing
//                    was outstanding on its connection waits for every earlier answer (the same
//                    writes and round trips as `mcreplay replay --rate max`)
//   --mode rate      open loop at a fixed --rps, requests taken round-robin over the connections
//                    (order inside a connection kept); write→answer time per request with hrtime
//   --mode schedule  open loop on the capture's own clock, divided by --speed (1 = as captured)
//   --limit N        send only the first N requests (capture order); --duration S stops sending after S s
//   --open all       (max mode, default) every connection is open before the clock starts and stays open
//   --open captured  (max mode) mcreplay's rule: a connection opens, inside the timed run, once every
//                    request captured before it opened has been written, and closes after its last
//                    answer; the capture's connection concurrency and connect/close costs are kept
// Prints one JSON line on stdout.
import { extractWorkload } from '../dist/workload/extract.js';
import { connect } from 'node:net';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const port = Number(opt('--port', '11211'));
const [host, tport] = String(opt('--target', '127.0.0.1:11211')).split(':');
const mode = opt('--mode', 'max');
const rps = Number(opt('--rps', '20000'));
const speed = Number(opt('--speed', '1'));
const depthArg = opt('--depth', 'capture');
const limit = Number(opt('--limit', 'Infinity'));
const durationS = Number(opt('--duration', 'Infinity'));
const openMode = opt('--open', 'all');
const file = args[0];
if (!file || !['max', 'rate', 'schedule'].includes(mode) || !['all', 'captured'].includes(openMode) || (openMode === 'captured' && mode !== 'max')) {
  console.error('usage: node bench/plain-client.js <capture> --port P --target host:port [--mode max|rate|schedule] [--rps N] [--speed F] [--depth D] [--limit N] [--duration S] [--open all|captured]');
  process.exit(2);
}

// ---- load: raw bytes per connection, capture order; the capture's pipeline depth on the way ----
const tLoad = process.hrtime.bigint();
const byConn = new Map(); // capture conn id -> index
const conns = []; // { raws: Buffer[], silent: boolean[], ts: number[], g: number[], openAfter: number }
const order = []; // global capture order: conn index per request
let total = 0;
let captureDepth = 1;
const inFlight = new Map();
await extractWorkload(file, { serverPorts: [port] }, {
  connection(c) {
    byConn.set(c.id, conns.length);
    conns.push({ raws: [], silent: [], piped: [], ts: [], g: [], openAfter: total });
    inFlight.set(c.id, 0);
  },
  request(r) {
    const n = (inFlight.get(r.connId) ?? 0) + 1;
    inFlight.set(r.connId, n);
    if (n > captureDepth) captureDepth = n;
    if (total >= limit || r.credentials || r.raw.length === 0) return;
    const ci = byConn.get(r.connId);
    const c = conns[ci];
    c.raws.push(r.raw);
    c.silent.push(r.expect === 'none' || r.quiet);
    c.piped.push(n > 1);
    c.ts.push(r.tsNs);
    c.g.push(total);
    order.push(ci);
    total++;
  },
  outcome(r) {
    inFlight.set(r.connId, inFlight.get(r.connId) - 1);
  },
  close() {},
});
const loadMs = Number(process.hrtime.bigint() - tLoad) / 1e6;
const asCaptured = depthArg === 'captured';
const depth = depthArg === 'capture' ? captureDepth : asCaptured ? Infinity : Number(depthArg);

// ---- minimal answer scanner: counts complete responses in a chunk -----------------------------
function scanner() {
  let carry = null;
  let skip = 0;
  return (chunk) => {
    let buf = chunk;
    if (carry !== null) {
      buf = Buffer.concat([carry, chunk]);
      carry = null;
    }
    let i = 0;
    let done = 0;
    const len = buf.length;
    while (i < len) {
      if (skip > 0) {
        const n = Math.min(skip, len - i);
        i += n;
        skip -= n;
        continue;
      }
      const nl = buf.indexOf(10, i);
      if (nl < 0) {
        carry = buf.subarray(i);
        break;
      }
      if (buf[i] === 86 && buf[i + 1] === 65) {
        // "VALUE <key> <flags> <bytes>[ <cas>]\r\n": skip the data block and its \r\n
        let sp = 0;
        let j = i;
        while (sp < 3 && j < nl) if (buf[j++] === 32) sp++;
        let b = 0;
        while (j < nl && buf[j] >= 48 && buf[j] <= 57) b = b * 10 + buf[j++] - 48;
        skip = b + 2;
      } else {
        done++; // END, STORED, NOT_FOUND, DELETED, EXISTS, a number, an error line ...
      }
      i = nl + 1;
    }
    return done;
  };
}

// ---- sockets ------------------------------------------------------------------------------------
const lazy = openMode === 'captured';
const socks = lazy
  ? conns.map(() => null)
  : await Promise.all(
      conns.map(
        () =>
          new Promise((res, rej) => {
            const s = connect({ host, port: Number(tport) }, () => res(s));
            s.setNoDelay(true);
            s.once('error', rej);
          }),
      ),
    );
// --open captured: which global requests are written, the lowest one not yet written, the next
// connection (capture order of opens) still to open
const written = lazy ? new Uint8Array(total) : null;
let low = 0;
let nextOpen = 0;

const hr = () => Number(process.hrtime.bigint());
const state = conns.map(() => ({ next: 0, out: 0, sentAt: [], head: 0 }));
const timed = mode !== 'max';
const service = timed ? new Float64Array(total) : null;
const lag = timed ? new Float64Array(total) : null;
let nService = 0;
let nLag = 0;
let sent = 0;
let answered = 0;
let expected = 0; // requests that expect an answer, among those sent
let stopSending = false;
let finish;
const finished = new Promise((r) => (finish = r));
const cpu0 = process.cpuUsage();
const t0 = hr();

function maybeDone() {
  if ((sent === total || stopSending) && answered >= expected) finish();
}

/** Max mode: top connection ci up to `depth` in flight. */
function fill(ci) {
  const c = conns[ci];
  const st = state[ci];
  const s = socks[ci];
  if (s === null || st.out >= depth || st.next >= c.raws.length || stopSending) return;
  const many = depth > 1;
  if (many) s.cork();
  while (st.out < depth && st.next < c.raws.length) {
    if (asCaptured && st.out > 0 && !c.piped[st.next]) break;
    const k = st.next++;
    s.write(c.raws[k]);
    sent++;
    if (written !== null) written[c.g[k]] = 1;
    if (!c.silent[k]) {
      st.out++;
      expected++;
    }
  }
  if (many) s.uncork();
  if (written !== null) openDue();
}

/** --open captured: opens every connection whose earlier-captured requests are all written. */
function openDue() {
  while (low < total && written[low] === 1) low++;
  while (nextOpen < conns.length && conns[nextOpen].openAfter <= low) {
    const ci = nextOpen++;
    const s = connect({ host, port: Number(tport) }, () => fill(ci));
    s.setNoDelay(true);
    s.once('error', (e) => {
      console.error(`plain client: connection ${ci}: ${e.message}`);
      process.exit(1);
    });
    socks[ci] = s;
    listen(ci);
  }
}

/** Open loop: send request k of connection ci now, intended at `at` (ns, hrtime). */
function sendTimed(ci, at, now) {
  const c = conns[ci];
  const st = state[ci];
  const k = st.next++;
  socks[ci].write(c.raws[k]);
  sent++;
  lag[nLag++] = now - at;
  if (!c.silent[k]) {
    st.out++;
    expected++;
    st.sentAt.push(now);
  }
}

function listen(ci) {
  const s = socks[ci];
  const scan = scanner();
  const st = state[ci];
  s.on('data', (chunk) => {
    const n = scan(chunk);
    if (n === 0) return;
    st.out -= n;
    answered += n;
    if (timed) {
      const now = hr();
      for (let i = 0; i < n; i++) service[nService++] = now - st.sentAt[st.head++];
      if (st.head > 4096) {
        st.sentAt = st.sentAt.slice(st.head);
        st.head = 0;
      }
    } else {
      fill(ci);
      // as captured: the connection closes after its last answer
      if (lazy && st.out === 0 && st.next >= conns[ci].raws.length) s.end();
    }
    maybeDone();
  });
}
if (!lazy) for (let ci = 0; ci < socks.length; ci++) listen(ci);

if (mode === 'max') {
  if (lazy) openDue();
  else for (let ci = 0; ci < conns.length; ci++) fill(ci);
  if (Number.isFinite(durationS)) setTimeout(() => ((stopSending = true), maybeDone()), durationS * 1000);
} else {
  // intended times (ns after t0) in global order, and which connection sends each
  const at = new Float64Array(total);
  if (mode === 'rate') {
    const gap = 1e9 / rps;
    for (let k = 0; k < total; k++) at[k] = k * gap;
  } else {
    const idx = conns.map(() => 0);
    let ts0 = Infinity;
    for (const c of conns) if (c.ts.length > 0 && c.ts[0] < ts0) ts0 = c.ts[0];
    for (let k = 0; k < total; k++) {
      const ci = order[k];
      at[k] = (conns[ci].ts[idx[ci]++] - ts0) / speed;
    }
  }
  // rate mode: round-robin over connections that still have requests; schedule: capture order
  const who = new Int32Array(total);
  if (mode === 'rate') {
    const left = conns.map((c) => c.raws.length);
    let ci = 0;
    for (let k = 0; k < total; k++) {
      while (left[ci] === 0) ci = (ci + 1) % conns.length;
      who[k] = ci;
      left[ci]--;
      ci = (ci + 1) % conns.length;
    }
  } else for (let k = 0; k < total; k++) who[k] = order[k];
  // a request due earlier than one before it on its connection waits for it (order is kept)
  const start = t0 + 20e6;
  let k = 0;
  const stopAt = Number.isFinite(durationS) ? start + durationS * 1e9 : Infinity;
  const pump = () => {
    const now = hr();
    if (now >= stopAt) {
      stopSending = true;
      maybeDone();
      return;
    }
    while (k < total && start + at[k] <= now) {
      sendTimed(who[k], start + at[k], now);
      k++;
    }
    if (k >= total) {
      maybeDone();
      return;
    }
    // like mcreplay: a timer when the next request is far, setImmediate (spin) when it is close
    const wait = start + at[k] - hr();
    if (wait > 1.5e6) setTimeout(pump, Math.floor((wait - 1e6) / 1e6));
    else setImmediate(pump);
  };
  pump();
}

await finished;
const t1 = hr();
const cpu = process.cpuUsage(cpu0);
for (const s of socks) s?.destroy();

function pct(a, n) {
  if (n === 0) return null;
  const v = a.subarray(0, n).sort();
  const q = (p) => Math.round(v[Math.min(n - 1, Math.floor((p / 100) * n))]);
  return { count: n, p50: q(50), p90: q(90), p99: q(99), p999: q(99.9), max: Math.round(v[n - 1]) };
}

const seconds = (t1 - t0) / 1e9;
const out = {
  tool: 'plain-client',
  mode,
  conns: conns.length,
  depth: mode === 'max' ? (asCaptured ? 'captured' : depth) : null,
  open: mode === 'max' ? openMode : null,
  captureDepth,
  rps: mode === 'rate' ? rps : null,
  speed: mode === 'schedule' ? speed : null,
  requests: sent,
  answered,
  seconds,
  reqPerSec: answered / seconds,
  cpuUserUs: cpu.user,
  cpuSysUs: cpu.system,
  cpuUsPerReq: (cpu.user + cpu.system) / Math.max(1, sent),
  serviceNs: timed ? pct(service, nService) : null,
  lagNs: timed ? pct(lag, nLag) : null,
  loadMs,
};
console.log(JSON.stringify(out));
process.exit(0);

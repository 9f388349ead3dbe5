// What one write costs per connection when many connections are written in a row (issue 10: does the
// 64th connection of a burst wait for 63 writes, and would a cheaper write path than socket.write
// help?). 64 loopback connections to a memcached; each round writes one 8-key multi-get to every
// connection in a tight loop, timed, then waits for the answers; alternating between
//   write   socket.write(buf) (what the replay does)
//   fd      fs.writeSync on the socket's file descriptor (no stream layer at all; falls back to
//           socket.write when libuv still queues bytes, so the byte order is kept)
// Prints ns per write (p50 and p10 over the rounds) for each. Usage:
//   memcached -l 127.0.0.1 -p 22999 -t 1 -u root -d && node bench/write-cost.js --target 127.0.0.1:22999 [--rounds 300] [--conns 64]
import { connect } from 'node:net';
import { writeSync } from 'node:fs';
import { cliArgs } from './args.js';

const args = process.argv.slice(2);
const { opt } = cliArgs(args);
const [host, port] = String(opt('--target', '127.0.0.1:11211')).split(':');
const rounds = Number(opt('--rounds', '300'));
const n = Number(opt('--conns', '64'));
const keys = Array.from({ length: 8 }, (_, i) => `key:${String(i).padStart(60, '0')}`);
const req = Buffer.from(`get ${keys.join(' ')}\r\n`);
let got = 0;
const socks = await Promise.all(
  Array.from(
    { length: n },
    () =>
      new Promise((res, rej) => {
        const s = connect({ port: Number(port), host, onread: { buffer: Buffer.alloc(65536), callback: (k) => ((got += k), true) } }, () => res(s));
        s.setNoDelay(true);
        s.once('error', rej);
      }),
  ),
);
const hr = () => Number(process.hrtime.bigint());
const variants = {
  write: (s) => s.write(req),
  fd: (s) => {
    if (s.writableLength === 0 && s._handle.writeQueueSize === 0) {
      const k = writeSync(s._handle.fd, req);
      if (k < req.length) s.write(req.subarray(k));
    } else s.write(req);
  },
};
const res = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of Object.entries(variants)) {
    const t = hr();
    for (const s of socks) f(s);
    (res[name] ??= []).push((hr() - t) / n);
    // the answers (END each) come in before the next round
    await new Promise((ok) => setTimeout(ok, 2));
  }
}
for (const [k, v] of Object.entries(res)) {
  v.sort((a, b) => a - b);
  console.log(`${k}: ${Math.round(v[v.length >> 1])} ns per write (p50 of ${rounds} rounds of ${n}), p10 ${Math.round(v[Math.floor(v.length * 0.1)])} ns`);
}
for (const s of socks) s.destroy();

// Writes a classic pcap that repeats another one N times, each copy shifted past the previous
// one's last timestamp, so a bigger capture has the same traffic shape (used for the RSS check).
// Copy t moves the client side (the side not on the server port) to 127.0.(t).x, so every copy's
// connections are new flows rather than retransmissions of the first copy's bytes.
// Usage: node bench/repeat-pcap.js in.pcap out.pcap times server-port (Ethernet + IPv4 only)
import { openSync, readSync, writeSync, closeSync, fstatSync } from 'node:fs';

const [src, dst, timesArg] = process.argv.slice(2);
const times = Number(timesArg ?? 10);
const serverPort = Number(process.argv[5] ?? 0);
const fd = openSync(src, 'r');
const size = fstatSync(fd).size;
const head = Buffer.alloc(24);
readSync(fd, head, 0, 24, 0);
const magic = head.readUInt32LE(0);
if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`${src}: expected a little-endian classic pcap`);
/** Rewrites the client's IPv4 address of one Ethernet frame to 127.0.t.x (checksums are not checked by readers of loopback captures). */
function moveClient(buf, at, len, t) {
  if (len < 34 || buf.readUInt16BE(at + 12) !== 0x0800) return;
  const ip = at + 14;
  const ihl = (buf[ip] & 0x0f) * 4;
  if (buf[ip + 9] !== 6 || len < 14 + ihl + 4) return;
  const srcPort = buf.readUInt16BE(ip + ihl);
  // the client is the source unless the source is the server port
  const addr = srcPort === serverPort ? ip + 16 : ip + 12;
  buf[addr + 2] = t & 0xff;
}
const out = openSync(dst, 'w');
writeSync(out, head);
const buf = Buffer.alloc(16 << 20);
let shift = 0;
let lastSec = 0;
let firstSec = -1;
for (let t = 0; t < times; t++) {
  let pos = 24;
  let carry = Buffer.alloc(0);
  while (pos < size) {
    const n = readSync(fd, buf, 0, buf.length, pos);
    pos += n;
    let data = carry.length ? Buffer.concat([carry, buf.subarray(0, n)]) : buf.subarray(0, n);
    let off = 0;
    while (off + 16 <= data.length) {
      const incl = data.readUInt32LE(off + 8);
      if (off + 16 + incl > data.length) break;
      const sec = data.readUInt32LE(off);
      if (firstSec < 0) firstSec = sec;
      data.writeUInt32LE(sec + shift, off);
      if (t > 0) moveClient(data, off + 16, incl, t);
      lastSec = Math.max(lastSec, sec);
      off += 16 + incl;
    }
    writeSync(out, data, 0, off);
    carry = Buffer.from(data.subarray(off));
  }
  shift += lastSec - firstSec + 1;
}
closeSync(out);
closeSync(fd);

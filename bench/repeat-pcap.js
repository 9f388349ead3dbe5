// Writes a classic pcap that repeats another one N times, each copy shifted past the previous
// one's last timestamp, so a bigger capture has the same traffic shape (used for the RSS check).
import { openSync, readSync, writeSync, closeSync, fstatSync } from 'node:fs';

const [src, dst, timesArg] = process.argv.slice(2);
const times = Number(timesArg ?? 10);
const fd = openSync(src, 'r');
const size = fstatSync(fd).size;
const head = Buffer.alloc(24);
readSync(fd, head, 0, 24, 0);
const magic = head.readUInt32LE(0);
if (magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) throw new Error(`${src}: expected a little-endian classic pcap`);
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

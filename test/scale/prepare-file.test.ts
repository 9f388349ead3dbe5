// The prepared file's header is checked on use: another format or mcreplay version, shaping options
// that contradict the command line, a file cut short or damaged: a clear error (exit 2) that says
// what to do, before anything is sent where it can be known before. Captured credentials never reach
// the file (checked by searching its bytes), and the prepare-time filters hold for its replays.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useMemcached } from '../helpers/memcached.js';
import { encodeHeader, FOOTER_BYTES, type PreparedHeader } from '../../src/workload/prepared-format.js';
import { openPrepared } from '../../src/workload/prepared-read.js';
import { VERSION } from '../../src/version.js';
import { QUIET, mcRaw, replay, tempDir, writeCapture } from '../replay/helpers.js';
import { mcreplay, root } from './helpers.js';

const sample = join(root, 'captures/sample.pcap');

/** A copy of a prepared file with its header changed (the footer's offset follows the header's length). */
function withHeader(src: string, dst: string, edit: (h: PreparedHeader) => void, formatVersion?: number): void {
  const b = readFileSync(src);
  const hlen = b.readUInt32LE(12);
  const h = JSON.parse(b.subarray(16, 16 + hlen).toString('utf8')) as PreparedHeader;
  edit(h);
  const head = encodeHeader(h, formatVersion);
  const rest = Buffer.from(b.subarray(16 + hlen + 4));
  const delta = head.length - (16 + hlen + 4);
  const foot = rest.length - FOOTER_BYTES;
  rest.writeBigUInt64LE(rest.readBigUInt64LE(foot) + BigInt(delta), foot);
  writeFileSync(dst, Buffer.concat([head, rest]));
}

/** Requests the target has seen (every command memcached counts). */
async function served(address: string): Promise<number> {
  const stats = await mcRaw(address, 'stats\r\n');
  const v = (k: string): number => Number(new RegExp(`STAT ${k} (\\d+)`).exec(stats)?.[1] ?? 0);
  return v('cmd_get') + v('cmd_set') + v('cmd_touch') + v('delete_hits') + v('delete_misses') + v('incr_hits') + v('incr_misses');
}

describe('prepared file: header checks, damage, credentials', () => {
  const mc = useMemcached();
  const tmp = tempDir();
  const mcw = join(tmp.dir, 'sample.mcw');
  beforeAll(async () => {
    expect((await mcreplay(['prepare', sample, '--out', mcw])).code).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  /** A replay that must be refused before any load: exit 2, the message, and the target untouched. */
  async function refused(file: string, args: string[], message: RegExp): Promise<string> {
    const before = await served(mc.address);
    const r = await replay([file, '--target', mc.address, ...QUIET, ...args], join(tmp.dir, 'refused'));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(await served(mc.address)).toBe(before);
    return r.stderr;
  }

  it('another mcreplay version or format: refused, saying to prepare again', async () => {
    const other = join(tmp.dir, 'other-version.mcw');
    withHeader(mcw, other, (h) => void (h.mcreplay = '0.0.1-old'));
    const err = await refused(other, [], /was prepared by mcreplay 0\.0\.1-old; this is mcreplay/);
    expect(err).toMatch(/re-run `mcreplay prepare`/);
    const fmt = join(tmp.dir, 'other-format.mcw');
    withHeader(mcw, fmt, () => undefined, 99);
    await refused(fmt, [], /prepared workload format 99, this mcreplay \(.*\) reads format 1/);
    // the unedited copy through the same path is fine (the edit is what is refused)
    const same = join(tmp.dir, 'same.mcw');
    withHeader(mcw, same, () => undefined);
    expect(openPrepared(same, VERSION).header.mcreplay).toBe(VERSION);
  });

  it('inspect of a prepared file says what it is (exit 2)', async () => {
    const r = await mcreplay(['inspect', mcw]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is a prepared workload \(mcreplay prepare\), not a capture/);
  });

  it('shaping options that contradict the prepared ones: refused, naming both and the way out', async () => {
    const gets = join(tmp.dir, 'gets.mcw');
    expect((await mcreplay(['prepare', sample, '--out', gets, '--commands', 'get'])).code).toBe(0);
    const err = await refused(gets, ['--commands', 'set'], /--commands set \(prepared with --commands get\)/);
    expect(err).toMatch(/re-run mcreplay prepare .*sample\.pcap with the options you want/);
    await refused(mcw, ['--ascii-auth'], /--ascii-auth \(prepared without it\)/);
    await refused(mcw, ['--port', '11311'], /--port 11311 \(prepared with --port 11211\)/);
  });

  it('the prepared filters hold for its replays: a replay without them is the capture replayed with them', async () => {
    const gets = join(tmp.dir, 'gets2.mcw');
    expect((await mcreplay(['prepare', sample, '--out', gets, '--commands', 'get'])).code).toBe(0);
    const a = await replay([sample, '--target', mc.address, '--rate', 'max', '--commands', 'get', ...QUIET], join(tmp.dir, 'f-pcap'));
    const b = await replay([gets, '--target', mc.address, '--rate', 'max', ...QUIET], join(tmp.dir, 'f-mcw'));
    expect([a.code, b.code], b.stderr).toEqual([0, 0]);
    expect(b.results!.config.filters).toEqual({ commands: ['get'] });
    expect(b.results!.config.options.heldBack).toEqual(a.results!.config.options.heldBack);
    expect((a.results!.config.options.heldBack as Record<string, number>).filtered).toBeGreaterThan(0);
    const sent = (r: typeof a): Record<string, number> => Object.fromEntries(Object.entries(r.results!.summary.perCommand).map(([k, v]) => [k, v.counters.sent]));
    expect(sent(b)).toEqual(sent(a));
    // the held-back requests' bytes were left out: the file is smaller than the unfiltered one
    expect(readFileSync(gets).length).toBeLessThan(readFileSync(mcw).length);
  }, 60_000);

  it('a file cut short: refused before any load, saying how much is there', async () => {
    const whole = readFileSync(mcw);
    const hlen = whole.readUInt32LE(12);
    for (const at of [12, 16 + Math.floor(hlen / 2), 16 + hlen + 4 + 5000, Math.floor(whole.length * 0.6), whole.length - 3]) {
      const cut = join(tmp.dir, `cut-${at}.mcw`);
      writeFileSync(cut, whole.subarray(0, at));
      const err = await refused(cut, [], /is cut short: it ends at byte \d+/);
      if (at > 16 + hlen + 4) expect(err).toMatch(/\d+ whole blocks? of about 1 MiB/);
      expect(err).toMatch(/copy the file again, or re-run `mcreplay prepare`/);
    }
  }, 60_000);

  it('a damaged block: the replay stops with where, and how much was readable', async () => {
    const whole = Buffer.from(readFileSync(mcw));
    const f = openPrepared(mcw, VERSION);
    // a byte in the middle of the second block (sample.mcw has three blocks of about 1 MiB)
    const firstLen = whole.readUInt32LE(f.blocksAt);
    const second = f.blocksAt + 8 + firstLen;
    expect(second).toBeLessThan(f.trailerAt);
    whole[second + 8 + 1000] ^= 0x40;
    const bad = join(tmp.dir, 'damaged.mcw');
    writeFileSync(bad, whole);
    const r = await replay([bad, '--target', mc.address, '--rate', 'max', ...QUIET], join(tmp.dir, 'damaged'));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`is damaged at byte ${second}: a block fails its checksum; \\d+ requests of \\d+ connections before it were readable`));
    expect(r.stderr).not.toMatch(/internal error/);
  }, 60_000);

  it('captured credentials are not in the file: binary SASL and ascii auth', async () => {
    // binary-quiet.pcap carries a SASL PLAIN login (fake credentials, see its truth notes)
    const sasl = join(root, 'captures/fixtures/binary-quiet.pcap');
    expect(readFileSync(sasl).includes('s3cret-password')).toBe(true);
    const saslMcw = join(tmp.dir, 'sasl.mcw');
    expect((await mcreplay(['prepare', sasl, '--out', saslMcw])).code).toBe(0);
    const saslBytes = readFileSync(saslMcw);
    expect(saslBytes.includes('s3cret-password')).toBe(false);
    expect(saslBytes.includes('\0user\0')).toBe(false);
    expect(readFileSync(sasl).includes('\0user\0')).toBe(true);

    // ascii auth (memcached -Y): the first set of each connection carries "user password"
    const user = 'cap-user-81';
    const pw = 'Cap-Pw-5d2e9';
    const cap = writeCapture(tmp.dir, 'ascii-auth.pcap', [
      { cport: 41001, steps: [{ t: 0, dir: 0, data: `set auth 0 0 ${user.length + 1 + pw.length}\r\n${user} ${pw}\r\n` }, { t: 0.1, dir: 1, data: 'STORED\r\n' }, { t: 1, dir: 0, data: 'get k\r\n' }, { t: 1.1, dir: 1, data: 'END\r\n' }] },
      { cport: 41002, steps: [{ t: 2, dir: 0, data: `set login 0 0 ${user.length + 1 + pw.length}\r\n${user} ${pw}\r\n` }, { t: 2.1, dir: 1, data: 'STORED\r\n' }, { t: 3, dir: 0, data: 'set k 0 0 1\r\nv\r\n' }, { t: 3.1, dir: 1, data: 'STORED\r\n' }] },
    ]);
    expect(readFileSync(cap).includes(pw)).toBe(true);
    for (const flags of [['--ascii-auth'], []]) {
      const out = join(tmp.dir, `ascii${flags.length}.mcw`);
      expect((await mcreplay(['prepare', cap, '--out', out, ...flags])).code).toBe(0);
      const bytes = readFileSync(out);
      expect(bytes.includes(pw), flags.join(' ')).toBe(false);
      expect(bytes.includes(user), flags.join(' ')).toBe(false);
      // and its replay holds them back as the capture's does
      const a = await replay([cap, '--target', mc.address, '--rate', 'max', ...flags, ...QUIET], join(tmp.dir, `aa-pcap${flags.length}`));
      const b = await replay([out, '--target', mc.address, '--rate', 'max', ...QUIET], join(tmp.dir, `aa-mcw${flags.length}`));
      expect(b.results!.config.options.heldBack).toEqual(a.results!.config.options.heldBack);
      expect((b.results!.config.options.heldBack as Record<string, number>).credentials).toBe(2);
      expect(JSON.stringify(b.results)).not.toContain(pw);
    }
  }, 90_000);
});

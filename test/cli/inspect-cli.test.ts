// The inspect verb as a user meets it: standard input, files cut short, files that are not
// captures, missing files: each with its exit code and a message that says what to do.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const cli = join(root, 'bin', 'mcreplay.js');
const basic = join(root, 'captures', 'fixtures', 'basic.pcap');
const tmp = mkdtempSync(join(tmpdir(), 'mcreplay-inspect-'));

function inspect(args: string[], input?: Buffer) {
  const r = spawnSync('node', [cli, 'inspect', ...args], { input, maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe('mcreplay inspect', () => {
  const whole = JSON.parse(inspect([basic, '--json']).stdout);

  it('reads standard input as it reads the file', () => {
    const r = inspect(['-', '--json'], readFileSync(basic));
    expect(r.status).toBe(0);
    const piped = JSON.parse(r.stdout);
    expect(piped.requests.total).toBe(whole.requests.total);
    expect(piped.requests.perCommand).toEqual(whole.requests.perCommand);
    expect(piped.file.name).toBe('(stdin)');
  });

  it('shows what a capture cut mid-record holds, says it was cut, and counts what was lost', () => {
    const bytes = readFileSync(basic);
    const cut = join(tmp, 'cut.pcap');
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6) + 7));
    const r = inspect([cut, '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: .*cut\.pcap/);
    const part = JSON.parse(r.stdout);
    expect(part.quality.error).toBeTruthy();
    expect(part.quality.trailingBytes).toBeGreaterThan(0);
    expect(part.requests.total).toBeGreaterThan(0);
    expect(part.requests.total).toBeLessThan(whole.requests.total);
    expect(part.packets).toBeLessThan(whole.packets);
  });

  it('refuses a file that is not a capture with exit 4 and names what it saw', () => {
    const notCapture = join(tmp, 'notes.txt');
    writeFileSync(notCapture, 'get foo\r\nthis is not a capture\n');
    const r = inspect([notCapture]);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('notes.txt');
    expect(r.stderr).toMatch(/not a (pcap|capture)/i);
    expect(r.stdout).toBe('');
  });

  it('says a missing file is missing, exit 2', () => {
    const r = inspect([join(tmp, 'nope.pcap')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('nope.pcap');
  });

  it('rejects a bad --port with exit 2', () => {
    const r = inspect([basic, '--port', '99999']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--port');
  });

  it('finds nothing on the wrong port, says so, and exits 4', () => {
    const r = inspect([basic, '--port', '11311']);
    expect(r.status).toBe(4);
    expect(r.stderr).toMatch(/no replayable memcached requests.*11311/);
    expect(r.stdout).toMatch(/replayable: 0 of 0/);
  });
});

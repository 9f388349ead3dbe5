// The README is the reference of every verb and option: each option that `--help` lists must be
// documented there, every option its tables name must exist, and its config example must use real
// config keys, so the two cannot drift apart silently.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { VERBS } from './examples.js';
import { register } from '../../src/commands/replay.js';
import { applyConfigFile, configKeys } from '../../src/report/config-file.js';

const root = join(import.meta.dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

describe('README documents every option of every verb', () => {
  for (const verb of VERBS) {
    it(verb, () => {
      const help = execFileSync('node', [join(root, 'bin', 'mcreplay.js'), verb, '--help']).toString();
      const options = [...help.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z-]*)/gm)].map((m) => m[1]).filter((o) => o !== '--help');
      expect(options.length).toBeGreaterThan(2);
      const missing = options.filter((o) => !readme.includes(`\`${o}`) && !readme.includes(` ${o}`));
      expect(missing, `options of ${verb} missing from README.md`).toEqual([]);
      expect(readme).toContain(`mcreplay ${verb}`);
    });
  }
});

// the other direction: an option table of the README names only options some verb has
describe('README option tables name only real options', () => {
  it('every --option in a table row exists in a verb --help', () => {
    const helps = VERBS.map((v) => execFileSync('node', [join(root, 'bin', 'mcreplay.js'), v, '--help']).toString()).join('\n');
    const real = new Set([...helps.matchAll(/(--[a-z][a-z-]*)/g)].map((m) => m[1]!));
    const rows = readme.split('\n').filter((l) => l.startsWith('| `-'));
    expect(rows.length).toBeGreaterThan(20);
    const named = rows.flatMap((r) => [...r.split('|')[1]!.matchAll(/(--[a-z][a-z-]*)/g)].map((m) => m[1]!));
    expect(named.filter((o) => !real.has(o)), 'options in README tables that no verb has').toEqual([]);
  });
});

describe('config file keys are the options of replay', () => {
  const replay = (): Command => {
    const program = new Command().exitOverride();
    register(program);
    return program.commands.find((c) => c.name() === 'replay')!;
  };
  const apply = (args: string[], options: Record<string, unknown>): Record<string, unknown> => {
    const cmd = replay();
    cmd.action(() => undefined);
    cmd.parse(['x.pcap', ...args], { from: 'user' });
    applyConfigFile(cmd, { path: 'mcreplay.json', options, thresholds: [] });
    return cmd.opts();
  };

  it('every key of the README config example is a config key', () => {
    const block = /### Config file[\s\S]*?```json\n([\s\S]*?)```/.exec(readme);
    expect(block, 'README has a config file example').not.toBeNull();
    const keys = Object.keys(JSON.parse(block![1]!) as object);
    const known = configKeys(replay());
    expect(keys.length).toBeGreaterThan(5);
    expect(keys.filter((k) => !known.includes(k))).toEqual([]);
  });

  it('every replay option long name is a key, a negated flag under both of its names', () => {
    const cmd = replay();
    const known = configKeys(cmd);
    for (const o of cmd.options) if (o.long && o.long !== '--config' && o.long !== '--help') expect(known).toContain(o.long.slice(2));
    expect(apply([], { 'no-png': true }).png).toBe(false);
    expect(apply([], { noPng: true }).png).toBe(false);
    expect(apply([], { png: false }).png).toBe(false);
    expect(apply([], { 'no-png': false }).png).toBe(true);
    expect(apply(['--no-progress'], { progress: true }).progress).toBe(false); // the command line wins
    expect(() => apply([], { 'no-png': 'yes' })).toThrow(/is a flag: use true or false/);
    expect(() => apply([], { 'no-pgn': true })).toThrow(/unknown key 'no-pgn'.*no-png/);
  });
});

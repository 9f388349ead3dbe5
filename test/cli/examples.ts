// Finds the command examples a user would copy: README.md's shell code blocks, its GitHub Actions
// job and config file, and the "Examples:" section of every verb's --help; and maps them onto a
// sandbox where they can run (see MAP below and README.md, Tests).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** Every verb, as `mcreplay --help` lists them (so a new verb's examples are run without editing this file). */
export const VERBS: readonly string[] = [...execFileSync('node', [join(import.meta.dirname, '..', '..', 'bin', 'mcreplay.js'), '--help'])
  .toString()
  .matchAll(/^ {2}([a-z]+) \[options\]/gm)].map((m) => m[1]!);

/** A command example and where it was found. */
export interface Example {
  where: string;
  text: string;
}

/** Fenced code blocks of a markdown text: language tag, body, and the line the block starts on. */
export function codeBlocks(md: string): { lang: string; body: string; line: number }[] {
  const out: { lang: string; body: string; line: number }[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    out.push({ lang: open[1]!, body: body.join('\n'), line: start + 1 });
  }
  return out;
}

/** Shell lines joined across `\` continuations, trailing `# comments` removed. */
export function shellCommands(body: string): string[] {
  const joined = body.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.replace(/^\s*\$\s+/, '').replace(/\s+#\s.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

const VERB_RE = new RegExp(`(^|\\|\\s*)(npx\\s+)?mcreplay\\s+(${VERBS.join('|')})\\b`);

/** README.md's mcreplay command lines (shell and plain blocks). */
export function readmeCommands(md: string): Example[] {
  const out: Example[] = [];
  for (const b of codeBlocks(md)) {
    if (!['', 'sh', 'bash', 'shell'].includes(b.lang)) continue;
    for (const c of shellCommands(b.body)) if (VERB_RE.test(c)) out.push({ where: `README.md:${b.line}`, text: c });
  }
  return out;
}

/** The `run: |` script of the README's GitHub Actions step that replays (with `node bin/mcreplay.js` as `mcreplay`). */
export function readmeCiScript(md: string): Example {
  const yaml = codeBlocks(md).find((b) => b.lang === 'yaml' && b.body.includes('mcreplay.js replay'));
  if (!yaml) throw new Error('README.md has no GitHub Actions job that runs mcreplay replay');
  const lines = yaml.body.split('\n');
  let at = lines.findIndex((l) => l.includes('mcreplay.js replay'));
  while (at > 0 && !/^\s*run: \|\s*$/.test(lines[at]!)) at--;
  const indent = /^(\s*)/.exec(lines[at + 1]!)![1]!.length;
  const script: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (l.trim() !== '' && /^(\s*)/.exec(l)![1]!.length < indent) break;
    script.push(l.slice(indent));
  }
  return { where: `README.md:${yaml.line} (GitHub Actions job)`, text: script.join('\n').replace(/node bin\/mcreplay\.js/g, 'mcreplay') };
}

/** The README's replay config file example (the json block of "Config file"). */
export function readmeConfig(md: string): { where: string; config: Record<string, unknown> } {
  const b = codeBlocks(md).find((x) => x.lang === 'json' && x.body.includes('"thresholds"'));
  if (!b) throw new Error('README.md has no config file example');
  return { where: `README.md:${b.line} (config file)`, config: JSON.parse(b.body) as Record<string, unknown> };
}

/** The "Examples" lines of `mcreplay <verb> --help` (`mcreplay --help` for verb ''). */
export function helpExamples(cli: string, verb: string): Example[] {
  const help = execFileSync('node', [cli, ...(verb ? [verb] : []), '--help']).toString();
  const where = verb ? `mcreplay ${verb} --help` : 'mcreplay --help';
  const m = /\nExamples[^\n]*:\n((?: {2}.*\n?)+)/.exec(help);
  if (!m) throw new Error(`${where} has no Examples section`);
  return shellCommands(m[1]!)
    .filter((c) => VERB_RE.test(c))
    .map((text) => ({ where, text }));
}

/**
 * How an example meets the sandbox. Files: the sandbox holds captures/ (the repository's), and
 * prod.pcap, captures/prod.pcap, prod.pcapng ("your own capture") are links to the sample and the
 * pcapng fixture; results files named in examples are real runs of the sample at 2x. Hosts:
 * 127.0.0.1:11211, new:11211 and new1:11211 become the first local memcached, new2:11211 the
 * second, 127.0.0.1:11212 and :11311 too; old1 and old2 (with :11211 or bare) the third and fourth,
 * new3:11211 the fifth; the captured server 10.0.0.5:11211 is the sample's own (127.0.0.2:11211).
 * `--interface eth0|any` becomes `--interface lo`; a mirror, like a replay, runs at most `cap`; `top`
 * refreshes twice (`--count 2`). Time: a replay
 * runs at most `cap` (its --duration becomes `cap`, or `--duration cap` is added), a ramp step 1 s;
 * `reports/<run-id>/` is the run 20261207-034500-sample.
 * `npx mcreplay` is the `mcreplay` on PATH. A live capture (tcpdump ... -w - |) becomes `cat captures/sample.pcap |`; /tmp/x becomes ./tmp-x.
 */
/** The sandbox server each host name of the examples stands for. */
const HOSTS: Record<string, number> = { new: 0, new1: 0, new2: 1, old: 2, old1: 2, old2: 3, new3: 4 };

export function mapExample(text: string, ports: readonly number[], cap = '4s'): string {
  // servers: 0 = new/new1/127.0.0.1:11211, 1 = new2/127.0.0.1:11212/11311, 2 = old1, 3 = old2, 4 = new3
  const at = (i: number): string => `127.0.0.1:${ports[i] ?? ports[0]}`;
  let t = text
    .replace(/\bnpx mcreplay\b/g, 'mcreplay')
    .replace(/\b127\.0\.0\.1:11211\b/g, at(0))
    .replace(/\b127\.0\.0\.1:(?:11212|11311)\b/g, at(1))
    // host names with any port, or bare (port 11211); not file names such as old1.keys.tsv
    .replace(/\b(new|new1|new2|new3|old|old1|old2)(?::\d+\b|(?![.\w=:]))/g, (_, n: string) => at(HOSTS[n]!))
    .replace(/--interface (?:eth0|any)\b/g, '--interface lo')
    .replace(/\b10\.0\.0\.5:11211\b/g, '127.0.0.2:11211')
    .replace(/(?:sudo\s+)?tcpdump\s[^|\n]*\|/g, 'cat captures/sample.pcap |')
    .replace(/(\s)\/tmp\//g, '$1./tmp-')
    .replace(/<run-id>/g, '20261207-034500-sample')
    .replace(/--step-duration\s+\S+/g, '--step-duration 1s');
  t = t.replace(/--duration\s+\S+/g, `--duration ${cap}`);
  if (!/--duration\s/.test(t)) t = t.replace(/\bmcreplay (replay|mirror)\b/g, `mcreplay $1 --duration ${cap}`);
  // top refreshes until Ctrl-C: two refreshes
  if (/\bmcreplay top\b/.test(t) && !/--count\s/.test(t)) t = t.replace(/\bmcreplay top\b/g, 'mcreplay top --count 2');
  return t;
}

/** Where the sandbox links "your own capture" names. */
export function captureLinks(root: string): [string, string][] {
  const sample = join(root, 'captures', 'sample.pcap');
  return [
    ['prod.pcap', sample],
    [join('captures', 'prod.pcap'), sample],
    ['prod.pcapng', join(root, 'captures', 'fixtures', 'pcapng.pcapng')],
  ];
}

/** Results files the examples name, all filled with real runs (the first is the baseline of the second). */
export const RESULTS_NAMES = [
  'reports/main/results.json',
  'base.json',
  'baseline.json',
  'reports/pr/results.json',
  'cur.json',
  'current.json',
  'artifacts/results.json',
  'reports/20261207-034500-sample/results.json',
];

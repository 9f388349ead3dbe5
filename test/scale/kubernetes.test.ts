// The Kubernetes manifests, checked without a cluster: rendered by render.sh, parsed as YAML,
// their required fields and shard wiring checked; then the exact command of every replay pod runs
// as N local processes (JOB_COMPLETION_INDEX 0..N-1, a shared --start-at a few seconds ahead)
// against a real memcached, the merge pod's command merges them, and the merged run is compared
// with a single-process replay of the same capture against a fresh memcached. With PREPARE_FROM, the
// prepare Job's command writes the prepared file the pods wait for (their init container) and read.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemcached, type Memcached } from '../helpers/memcached.js';
import { createHistogram, encodeHistogram, addEncoded, initMetrics } from '../../src/metrics/histogram.js';
import type { ResultsFile } from '../../src/metrics/results-types.js';
import { cli, mcreplay, resultsIn, root, run, secondsAhead } from './helpers.js';

const N = 3;
const CAPTURE = 'pymemcache-50conns.pcap';
const START_AT = '2026-12-07T10:00:00Z';
const PREPARED = 'pymemcache-50conns.mcw';

interface Container {
  name: string;
  image: string;
  command: string[];
  env: { name: string; value: string }[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface JobDoc {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string;
    completions?: number;
    parallelism?: number;
    backoffLimit?: number;
    template: { spec: { restartPolicy: string; containers: Container[]; initContainers?: Container[]; volumes: { name: string; persistentVolumeClaim: { claimName: string } }[] } };
  };
}

let jobs: JobDoc[] = [];
const envOf = (c: Container): Record<string, string> => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

async function render(n: number, startAt: string, extra: NodeJS.ProcessEnv = {}, capture = CAPTURE): Promise<JobDoc[]> {
  const r = await run('sh', [join(root, 'deploy', 'kubernetes', 'render.sh'), String(n), capture, 'memcached-new:11211', startAt], { ...process.env, ...extra });
  expect(r.code, r.stderr).toBe(0);
  const docs = parseAllDocuments(r.stdout);
  for (const d of docs) expect(d.errors, String(d.errors)).toEqual([]);
  return docs.map((d) => d.toJS() as JobDoc).filter((d) => d !== null);
}

beforeAll(async () => {
  await initMetrics();
  jobs = await render(N, START_AT, { THRESHOLDS: 'latency.p99 < 5s;errors.rate < 50%' });
});

describe('deploy/kubernetes manifests', () => {
  it('render as an Indexed replay Job of N pods and a merge Job', () => {
    expect(jobs.map((j) => `${j.apiVersion} ${j.kind} ${j.metadata.name}`)).toEqual(['batch/v1 Job mcreplay-replay', 'batch/v1 Job mcreplay-merge']);
    const [replay, merge] = jobs as [JobDoc, JobDoc];
    expect(replay.spec.completionMode).toBe('Indexed');
    expect(replay.spec.completions).toBe(N);
    expect(replay.spec.parallelism).toBe(N);
    expect(replay.spec.backoffLimit).toBe(0);
    expect(merge.spec.backoffLimit).toBe(0);
    for (const j of jobs) {
      expect(j.spec.template.spec.restartPolicy).toBe('Never');
      for (const c of [...j.spec.template.spec.containers, ...(j.spec.template.spec.initContainers ?? [])]) {
        expect(c.image).toBe('mcreplay:latest');
        expect(c.command[0]).toBe('/bin/sh');
        expect(JSON.stringify(j)).not.toMatch(/__[A-Z_]+__/);
      }
    }
    const rc = replay.spec.template.spec.containers[0]!;
    const env = envOf(rc);
    expect(env).toMatchObject({ SHARDS: String(N), START_AT, CAPTURE: `/capture/${CAPTURE}`, TARGET: 'memcached-new:11211', RATE: '1x', RESULTS: '/results' });
    const script = rc.command[2]!;
    expect(script).toContain('$((JOB_COMPLETION_INDEX + 1))');
    expect(script).toMatch(/--shard "\$shard\/\$SHARDS"/);
    expect(script).toMatch(/--start-at "\$START_AT"/);
    // the merge reads the volume the replay pods write, from the same claim
    const claim = (j: JobDoc, mount: string, c: Container): string => {
      const vm = c.volumeMounts.find((v) => v.mountPath === mount)!;
      return j.spec.template.spec.volumes.find((v) => v.name === vm.name)!.persistentVolumeClaim.claimName;
    };
    const mc = merge.spec.template.spec.containers[0]!;
    expect(claim(merge, '/results', mc)).toBe(claim(replay, '/results', rc));
    expect(rc.volumeMounts.find((v) => v.mountPath === '/capture')!.readOnly).toBe(true);
    expect(mc.command[2]).toMatch(/mcreplay merge "\$@"/);
    expect(mc.command[2]).toContain('"$RESULTS"/shard-*/*/results.json');
    expect(envOf(merge.spec.template.spec.initContainers![0]!).SHARDS).toBe(String(N));
  });

  it('render.sh refuses a bad N or a capture path', async () => {
    for (const args of [['0', CAPTURE], ['x', CAPTURE], ['3', 'dir/prod.pcap']]) {
      const r = await run('sh', [join(root, 'deploy', 'kubernetes', 'render.sh'), ...args, 't:1', START_AT]);
      expect(r.code, args.join(' ')).toBe(2);
    }
    for (const from of ['dir/prod.pcap', 'prod.mcw']) {
      const r = await run('sh', [join(root, 'deploy', 'kubernetes', 'render.sh'), '3', 'prod.mcw', 't:1', START_AT], { ...process.env, PREPARE_FROM: from });
      expect(r.code, `PREPARE_FROM=${from}`).toBe(2);
      expect(r.stderr).toMatch(/PREPARE_FROM/);
    }
  });

  it('with PREPARE_FROM: a prepare Job writes the prepared file the replay pods wait for and read', async () => {
    const docs = await render(N, START_AT, { PREPARE_FROM: CAPTURE, PREPARE_ARGS: '--port 11211' }, PREPARED);
    expect(docs.map((j) => j.metadata.name)).toEqual(['mcreplay-prepare', 'mcreplay-replay', 'mcreplay-merge']);
    const [prep, replay] = docs as [JobDoc, JobDoc];
    const pc = prep.spec.template.spec.containers[0]!;
    const rc = replay.spec.template.spec.containers[0]!;
    const wait = replay.spec.template.spec.initContainers!.find((c) => c.name === 'wait-for-capture')!;
    // prepare writes the very path the replay pods wait for and read, on the same claim
    expect(envOf(pc)).toMatchObject({ SOURCE: `/capture/${CAPTURE}`, CAPTURE: `/capture/${PREPARED}`, PREPARE_ARGS: '--port 11211' });
    expect(envOf(wait).CAPTURE).toBe(envOf(pc).CAPTURE);
    expect(envOf(rc).CAPTURE).toBe(envOf(pc).CAPTURE);
    expect(pc.command[2]).toMatch(/mcreplay prepare "\$SOURCE" --out "\$CAPTURE" \$PREPARE_ARGS/);
    const claim = (j: JobDoc, c: Container): string => {
      const vm = c.volumeMounts.find((v) => v.mountPath === '/capture')!;
      return j.spec.template.spec.volumes.find((v) => v.name === vm.name)!.persistentVolumeClaim.claimName;
    };
    expect(claim(prep, pc)).toBe(claim(replay, rc));
    expect(pc.volumeMounts.find((v) => v.mountPath === '/capture')!.readOnly).not.toBe(true);
    expect(prep.spec.backoffLimit).toBe(0);
    expect(JSON.stringify(docs)).not.toMatch(/__[A-Z_]+__/);
    // without PREPARE_FROM no prepare Job, and a pcap passes the wait at once
    expect((await render(N, START_AT)).map((j) => j.metadata.name)).toEqual(['mcreplay-replay', 'mcreplay-merge']);
  });
});

describe('the pods, as N local processes, then merged', () => {
  let servers: Memcached[] = [];
  let work = '';
  /** The single-process run of the capture (the first test's), that the prepared path must equal. */
  let singleRun: ResultsFile | null = null;
  let bin = '';

  beforeAll(async () => {
    servers = await Promise.all([startMemcached({ memoryMb: 64 }), startMemcached({ memoryMb: 64 })]);
    work = mkdtempSync(join(tmpdir(), 'mcreplay-scale-'));
    bin = join(work, 'bin');
    mkdirSync(bin);
    // `mcreplay` on PATH, as the image has it
    writeFileSync(join(bin, 'mcreplay'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(cli)} "$@"\n`);
    chmodSync(join(bin, 'mcreplay'), 0o755);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('merged counts equal a single run, merged histograms equal the sum of the shards', async () => {
    const [replay, merge] = await render(N, secondsAhead(12), { THRESHOLDS: 'latency.p99 < 5s;errors.rate < 50%' });
    const rc = replay.spec.template.spec.containers[0]!;
    const results = join(work, 'results');
    // the pod's own environment, with the volumes' paths and the target of this machine
    const podEnv = (i: number): NodeJS.ProcessEnv => ({
      ...process.env,
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      ...envOf(rc),
      CAPTURE: join(root, 'captures', 'fixtures', CAPTURE),
      TARGET: servers[0]!.address,
      RESULTS: results,
      JOB_COMPLETION_INDEX: String(i),
    });
    const pods = await Promise.all(Array.from({ length: N }, (_, i) => run(rc.command[0]!, rc.command.slice(1), podEnv(i), 90_000)));
    for (const [i, p] of pods.entries()) expect(p.code, `pod ${i}: ${p.stderr}`).toBe(0);
    const shards = Array.from({ length: N }, (_, i) => resultsIn(join(results, `shard-${i + 1}`)).results);
    for (const [i, s] of shards.entries()) {
      expect(s.config.shard).toEqual({ index: i + 1, count: N });
      expect(s.run.t0!.epochNs).toBe(shards[0]!.run.t0!.epochNs);
    }

    const mc = merge.spec.template.spec.containers[0]!;
    const m = await run(mc.command[0]!, mc.command.slice(1), { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, ...envOf(mc), RESULTS: results }, 120_000);
    const merged = resultsIn(join(results, 'merged')).results;
    // the merge's exit is the gate's: pass, or saturated if a shard on this shared machine fell behind
    expect(m.code === 0 || (m.code === 4 && merged.verdict.saturated), `${m.stdout}\n${m.stderr}`).toBe(true);
    expect(merged.verdict.checks.map((c) => c.check)).toEqual(expect.arrayContaining(['latency.p99 < 5s', 'errors.rate < 50%']));

    const single = await mcreplay(['replay', join(root, 'captures', 'fixtures', CAPTURE), '--target', servers[1]!.address, '--out', join(work, 'single'), '--no-html', '--no-progress', '--json']);
    expect([0, 4], single.stderr).toContain(single.code);
    const one = resultsIn(join(work, 'single')).results;

    const pick = (r: ResultsFile) =>
      Object.fromEntries(Object.entries(r.summary.perCommand).map(([cmd, c]) => [cmd, { sent: c.counters.sent, completed: c.counters.completed, hits: c.counters.hits, misses: c.counters.misses }]));
    expect(pick(merged)).toEqual(pick(one));
    expect(merged.summary.total.counters.sent).toBe(1500);
    expect(merged.capture.requests).toBe(one.capture.requests);
    expect(merged.config.options.shapedRequests).toBe(one.config.options.shapedRequests);

    // bucket by bucket: every merged interval is the sum of the shards' intervals with that index
    for (const iv of merged.intervals) {
      for (const key of ['response', 'service'] as const) {
        const sum = createHistogram(true);
        for (const s of shards) for (const siv of s.intervals.filter((x) => x.index === iv.index)) addEncoded(sum, siv.total[key]);
        expect(encodeHistogram(sum), `interval ${iv.index} ${key}`).toBe(iv.total[key]);
        sum.destroy();
      }
    }
    const all = createHistogram(true);
    for (const s of shards) addEncoded(all, s.summary.total.responseHist);
    expect(encodeHistogram(all)).toBe(merged.summary.total.responseHist);
    expect(merged.summary.total.response.count).toBe(shards.reduce((n, s) => n + s.summary.total.response.count, 0));
    all.destroy();
    singleRun = one;
  }, 240_000);

  it('with a prepare Job: prepare, the pods wait for its file and replay it, the merge equals the single run from the capture', async () => {
    expect(singleRun, 'runs after the test above').not.toBeNull();
    const [prep, replay, merge] = await render(N, secondsAhead(14), { PREPARE_FROM: CAPTURE, THRESHOLDS: 'latency.p99 < 5s' }, PREPARED);
    const volume = join(work, 'capture-volume');
    mkdirSync(volume);
    copyFileSync(join(root, 'captures', 'fixtures', CAPTURE), join(volume, CAPTURE));
    const onVolume = (env: Record<string, string>): Record<string, string> =>
      Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(/^\/capture\//, `${volume}/`)]));
    const path = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
    const rc = replay.spec.template.spec.containers[0]!;
    const wait = replay.spec.template.spec.initContainers![0]!;
    const results = join(work, 'results-prepared');
    // the pods start first and wait for the prepared file (as they would while the prepare Job runs)
    const pods = Array.from({ length: N }, (_, i) =>
      run(wait.command[0]!, wait.command.slice(1), { ...path, ...onVolume(envOf(wait)) }, 60_000).then((w) => {
        expect(w.code, `pod ${i} wait: ${w.stderr}`).toBe(0);
        return run(rc.command[0]!, rc.command.slice(1), { ...path, ...onVolume(envOf(rc)), TARGET: servers[0]!.address, RESULTS: results, JOB_COMPLETION_INDEX: String(i) }, 90_000);
      }),
    );
    const pc = prep.spec.template.spec.containers[0]!;
    const p = await run(pc.command[0]!, pc.command.slice(1), { ...path, ...onVolume(envOf(pc)) }, 60_000);
    expect(p.code, p.stderr).toBe(0);
    for (const [i, r] of (await Promise.all(pods)).entries()) expect(r.code, `pod ${i}: ${r.stderr}`).toBe(0);
    const shards = Array.from({ length: N }, (_, i) => resultsIn(join(results, `shard-${i + 1}`)).results);
    // the pods read the prepared file, and their results name the capture it was made from
    for (const s of shards) {
      expect(s.capture.path).toBe(join(volume, PREPARED));
      expect(s.capture.sha256).toBe(singleRun!.capture.sha256);
    }
    const mc = merge.spec.template.spec.containers[0]!;
    const m = await run(mc.command[0]!, mc.command.slice(1), { ...path, ...envOf(mc), RESULTS: results }, 120_000);
    const merged = resultsIn(join(results, 'merged')).results;
    expect(m.code === 0 || (m.code === 4 && merged.verdict.saturated), `${m.stdout}\n${m.stderr}`).toBe(true);
    const pick = (r: ResultsFile) => Object.fromEntries(Object.entries(r.summary.perCommand).map(([cmd, c]) => [cmd, { sent: c.counters.sent, heldBack: c.counters.heldBack }]));
    expect(pick(merged)).toEqual(pick(singleRun!));
    expect(merged.summary.total.counters.sent).toBe(1500);
  }, 240_000);
});

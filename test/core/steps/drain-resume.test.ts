/**
 * The drain escalation across a crash: each level is recorded in the outage record before the drain acts at it, and
 * a rerun resumes at that level with the time already spent there counted, never at a gentler one.
 */
import { describe, expect, it } from 'vitest';
import { type DrainLevelRecord, type OutageRecord, outageRecord } from '../../../core/api/progress.js';
import { type DrainOptions, levelRank, toDrainOptions } from '../../../core/drain/options.js';
import { emergencySpec } from '../../../core/plan/emergency.js';
import { step } from '../../../core/plan/step.js';
import type { StepExecutor } from '../../../core/run/executor.js';
import { type RunEvent, runPlan } from '../../../core/run/runner.js';
import { drainNode } from '../../../core/steps/drain.js';
import { closeOutage, recordOutage } from '../../../core/steps/outage.js';
import { atlasSpec } from '../../helpers/atlas.js';
import { FakeCluster } from '../../helpers/fake-pods.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';
import { options as drainOptions } from '../drain/fixtures.js';

const MIN = 60_000;
const minuteLevels = (overrides: Partial<DrainOptions> = {}) =>
  drainOptions({ levelTimeoutMs: MIN, evictionRetryIntervalMs: 5_000, gracePeriodSeconds: -1, ...overrides });

const drainStep = (timeoutSeconds = 10 * 60) =>
  step({
    id: 'drain/worker-1',
    stage: 'drain',
    kind: 'drain-node',
    title: 'Cordon and drain worker-1',
    targets: ['worker-1'],
    why: 'test',
    destructive: true,
    timeoutSeconds,
    params: { node: 'worker-1' },
  });

/**
 * worker-1 with two pods a PodDisruptionBudget holds until disable-eviction and one pod with no controller (touched
 * from force on), so each request shows the level that sent it; replacements go to worker-2.
 */
function world(): FakeCluster {
  const cluster = new FakeCluster(new FakeClock());
  cluster.nodes.add('worker-1');
  cluster.nodes.add('worker-2');
  cluster.addPod({ name: 'api-1', node: 'worker-1', graceSeconds: 10 });
  cluster.addPod({ name: 'api-2', node: 'worker-1', graceSeconds: 10 });
  cluster.addPdb('apps', 'api', 2);
  cluster.addPod({ name: 'debug-shell', node: 'worker-1', controller: null, graceSeconds: 5 });
  return cluster;
}

/** A state as a crashed run leaves it: worker-1 cordoned and recorded, its drain at `level` since `secondsAgo`. */
function crashedAt(cluster: FakeCluster, level: string, index: number, secondsAgo: number): MemoryStore {
  cluster.nodes.add('worker-1', { unschedulable: true, cordonedBy: 'hecate' });
  const startedAt = new Date(cluster.clock.now().getTime() - secondsAgo * 1000).toISOString();
  const outage = outageRecord.parse({
    inOutage: true,
    cordonedByHecate: ['worker-1'],
    drainLevels: { 'worker-1': { level, index, startedAt } },
  });
  return new MemoryStore({ outage });
}

async function run(
  cluster: FakeCluster,
  options: DrainOptions,
  store: MemoryStore,
  executors: Record<string, StepExecutor> = { 'drain-node': drainNode(cluster.nodes, cluster.pods, options) },
  steps = [drainStep()],
  signal?: AbortSignal,
) {
  const reports: string[] = [];
  const onEvent = (event: RunEvent) => {
    if (event.type === 'report') reports.push(event.message);
  };
  const error = await runPlan({
    plan: { mode: 'shutdown', planName: 'test', execute: true, steps, notes: [] },
    action: 'shutdown',
    executors,
    store,
    clock: cluster.clock,
    logger: silentLogger,
    onEvent,
    ...(signal ? { signal } : {}),
  }).then(
    () => undefined,
    (e: Error) => (e.cause ?? e) as Error,
  );
  return { reports, error };
}

const firstAt = (cluster: FakeCluster, verb: string, target: string) =>
  cluster.requests.find((r) => r.verb === verb && r.target === target)?.atMs;
/** The node's drain entry in each save of the state, repeats of the same entry (other saves) left out. */
const levelsSaved = (store: MemoryStore) =>
  store.history
    .map((h) => h.outage.drainLevels?.['worker-1'])
    .filter((e): e is DrainLevelRecord => e !== undefined)
    .filter((e, i, all) => i === 0 || JSON.stringify(e) !== JSON.stringify(all[i - 1]));

describe('drain resume after a crash', () => {
  it('given evict entered 50 s ago (60 s levels), resumes at evict and escalates 10 s later, not 60', async () => {
    const cluster = world();
    const store = crashedAt(cluster, 'evict', 0, 50);
    const { error, reports } = await run(cluster, minuteLevels(), store);
    expect(error).toBeUndefined();
    expect(reports).toContain('worker-1: resuming the drain at evict (entered 50s ago); force in 10s');
    expect(reports).toContain('worker-1: 3 pod(s) left at evict; force in 10s');
    // the guarded pods are evicted again at evict (429), the pod with no controller first at force, 10 s in
    expect(firstAt(cluster, 'evict', 'apps/api-1')).toBe(0);
    expect(firstAt(cluster, 'evict', 'apps/debug-shell')).toBe(10_000);
    expect(firstAt(cluster, 'delete', 'apps/api-1')).toBe(10_000 + MIN);
    expect(reports).toContainEqual(
      expect.stringMatching(/^worker-1: escalating to force: 3 pod\(s\) still present after 60s at evict/),
    );
    // evict keeps its saved start (nothing re-recorded); the node's entry is gone once it is drained
    const at = (s: number) => new Date(cluster.startMs + s * 1000).toISOString();
    expect(levelsSaved(store)).toEqual([
      { level: 'evict', index: 0, startedAt: at(-50) },
      { level: 'force', index: 1, startedAt: at(10) },
      { level: 'disable-eviction', index: 2, startedAt: at(70) },
    ]);
    expect(store.latest?.outage.drainLevels).toBeUndefined();
    expect(reports.at(-1)).toBe('worker-1 drained');
  });

  it.each([
    { level: 'force', index: 1, secondsAgo: 30, debugAt: 0, deletesAt: 30_000 },
    { level: 'disable-eviction', index: 2, secondsAgo: 10, debugAt: undefined, deletesAt: 0 },
  ])('given $level saved, never acts at a gentler level', async ({ level, index, secondsAgo, debugAt, deletesAt }) => {
    const cluster = world();
    const store = crashedAt(cluster, level, index, secondsAgo);
    const { error, reports } = await run(cluster, minuteLevels(), store);
    expect(error).toBeUndefined();
    expect(reports[1]).toMatch(
      new RegExp(`^worker-1: resuming the drain at ${level} \\(entered ${secondsAgo}s ago\\)`),
    );
    // force: the pod with no controller is evicted at once; disable-eviction: nothing is evicted, all deleted at once
    expect(firstAt(cluster, 'evict', 'apps/debug-shell')).toBe(debugAt);
    if (level === 'disable-eviction') expect(cluster.requests.filter((r) => r.verb === 'evict')).toEqual([]);
    expect(firstAt(cluster, 'delete', 'apps/api-1')).toBe(deletesAt);
    expect(levelsSaved(store).every((e) => levelRank(e.level as never) >= index)).toBe(true);
  });

  it('given a level the emergency escalation lacks (force), resumes at disable-eviction and says so', async () => {
    const cluster = world();
    const store = crashedAt(cluster, 'force', 1, 5);
    const emergency = toDrainOptions(emergencySpec(atlasSpec()).drain);
    expect(emergency.escalation).toEqual(['evict', 'disable-eviction']);
    const { error, reports } = await run(cluster, emergency, store);
    expect(error).toBeUndefined();
    expect(reports[1]).toBe(
      "worker-1: the saved drain level force (position 2) is not in this plan's escalation (evict → disable-eviction): " +
        'resuming at disable-eviction, the first level at or after its position 2 that is not gentler, with a fresh timer; gives up in 15s',
    );
    expect(cluster.requests.filter((r) => r.verb === 'evict')).toEqual([]);
    expect(cluster.requests.map((r) => `${r.atMs} ${r.verb} ${r.target}`).sort()).toEqual([
      '0 delete apps/api-1',
      '0 delete apps/api-2',
      '0 delete apps/debug-shell',
    ]);
    expect(levelsSaved(store)[1]).toEqual({
      level: 'disable-eviction',
      index: 1,
      startedAt: '2026-11-25T02:00:00.000Z',
    });
  });

  it('given a graceful drain 50 s into evict resumed as an emergency one (15 s levels), escalates at once', async () => {
    const cluster = world();
    const store = crashedAt(cluster, 'evict', 0, 50);
    const { error, reports } = await run(cluster, toDrainOptions(emergencySpec(atlasSpec()).drain), store);
    expect(error).toBeUndefined();
    expect(reports[1]).toBe('worker-1: resuming the drain at evict (entered 50s ago); disable-eviction in 0s');
    expect(reports[2]).toMatch(
      /^worker-1: escalating to disable-eviction: 3 pod\(s\) still present after 50s at evict/,
    );
    expect(cluster.requests.filter((r) => r.verb === 'evict')).toEqual([]);
    expect(firstAt(cluster, 'delete', 'apps/api-1')).toBe(0);
  });

  it('records each level in a save made before the first request at that level', async () => {
    const cluster = world();
    const store = new MemoryStore();
    const seen: string[] = [];
    const spy = (verb: 'evict' | 'delete') => {
      const original = cluster.pods[verb].bind(cluster.pods);
      cluster.pods[verb] = async (ref, grace, opts) => {
        const entry = store.latest?.outage.drainLevels?.['worker-1'];
        seen.push(`${cluster.elapsed() / 1000}s ${verb} ${ref.name}: saved ${entry?.level} since ${entry?.startedAt}`);
        return original(ref, grace, opts);
      };
    };
    spy('evict');
    spy('delete');
    const { error } = await run(cluster, minuteLevels(), store);
    expect(error).toBeUndefined();
    const at = (s: number) => new Date(cluster.startMs + s * 1000).toISOString();
    expect(seen.filter((s) => !s.includes('api-2'))).toEqual([
      `0s evict api-1: saved evict since ${at(0)}`,
      ...[5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55].map((s) => `${s}s evict api-1: saved evict since ${at(0)}`),
      `60s evict api-1: saved force since ${at(60)}`,
      `60s evict debug-shell: saved force since ${at(60)}`,
      ...[65, 70, 75, 80, 85, 90, 95, 100, 105, 110, 115].map((s) => `${s}s evict api-1: saved force since ${at(60)}`),
      `120s delete api-1: saved disable-eviction since ${at(120)}`,
    ]);
    // one save per level, in order, and the entry removed once drained
    expect(levelsSaved(store)).toEqual([
      { level: 'evict', index: 0, startedAt: at(0) },
      { level: 'force', index: 1, startedAt: at(60) },
      { level: 'disable-eviction', index: 2, startedAt: at(120) },
    ]);
    expect(store.latest?.outage.drainLevels).toBeUndefined();
  });

  it('a run cut off 50 s into evict leaves the level saved; the rerun escalates 10 s after it starts', async () => {
    const cluster = world();
    const store = new MemoryStore();
    // The process is killed 50 s in: its signal aborts when the clock gets there.
    const killed = new AbortController();
    const advance = cluster.clock.advance.bind(cluster.clock);
    cluster.clock.advance = (ms) => {
      advance(Math.min(ms, Math.max(0, 50_000 - cluster.elapsed())));
      if (cluster.elapsed() >= 50_000) killed.abort(new Error('killed 50 s in'));
    };
    const first = await run(
      cluster,
      minuteLevels(),
      store,
      { 'drain-node': drainNode(cluster.nodes, cluster.pods, minuteLevels()) },
      [drainStep()],
      killed.signal,
    );
    cluster.clock.advance = advance;
    expect(first.error?.message).toBe('killed 50 s in');
    expect(cluster.elapsed()).toBe(50_000);
    expect(store.latest?.outage.drainLevels?.['worker-1']).toEqual({
      level: 'evict',
      index: 0,
      startedAt: new Date(cluster.startMs).toISOString(),
    });
    const rerun = await run(cluster, minuteLevels(), store);
    expect(rerun.error).toBeUndefined();
    expect(rerun.reports).toContain('worker-1: resuming the drain at evict (entered 50s ago); force in 10s');
    expect(firstAt(cluster, 'evict', 'apps/debug-shell')).toBe(MIN);
    expect(firstAt(cluster, 'delete', 'apps/api-1')).toBe(2 * MIN);
  });

  it('a new outage does not inherit drain levels, and closing the outage drops them', async () => {
    const cluster = world();
    const saved: OutageRecord = outageRecord.parse({
      drainLevels: { 'worker-1': { level: 'force', index: 1, startedAt: '2026-11-25T01:00:00Z' } },
    });
    const opening = new MemoryStore({ outage: saved });
    await run(cluster, minuteLevels(), opening, { 'record-outage': recordOutage }, [
      step({ id: 'outage/record', stage: 'outage', kind: 'record-outage', title: 't', why: 't', params: {} }),
    ]);
    expect(opening.latest?.outage).toMatchObject({ inOutage: true });
    expect(opening.latest?.outage.drainLevels).toBeUndefined();
    const closing = new MemoryStore({ outage: { ...saved, inOutage: true } });
    await run(cluster, minuteLevels(), closing, { 'close-outage': closeOutage }, [
      step({ id: 'outage/close', stage: 'outage', kind: 'close-outage', title: 't', why: 't', params: {} }),
    ]);
    expect(closing.latest?.outage).toMatchObject({ inOutage: false });
    expect(closing.latest?.outage.drainLevels).toBeUndefined();
  });
});

describe('drain resume: a stale entry', () => {
  it('given a node drained before the crash but its level still recorded, the rerun removes the entry, sending nothing', async () => {
    const cluster = new FakeCluster(new FakeClock());
    cluster.nodes.add('worker-2');
    const store = crashedAt(cluster, 'force', 1, 30);
    const { error, reports } = await run(cluster, minuteLevels(), store);
    expect(error).toBeUndefined();
    expect(reports).toEqual([
      'worker-1: draining 0 pod(s)',
      'worker-1: resuming the drain at force (entered 30s ago); disable-eviction in 30s',
      'worker-1 drained',
    ]);
    expect(cluster.requests).toEqual([]);
    expect(store.latest?.outage.drainLevels).toBeUndefined();
    expect(store.latest?.progress?.steps.map((s) => `${s.id} ${s.state} ${s.message ?? ''}`)).toEqual([
      'drain/worker-1 done ',
    ]);
  });
});

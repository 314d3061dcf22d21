import { describe, expect, it } from 'vitest';
import type { PlanStep } from '../../../core/api/plan.js';
import { step } from '../../../core/plan/step.js';
import type { VolumeView } from '../../../core/ports/index.js';
import { DeadlineExceededError } from '../../../core/run/errors.js';
import { type RunEvent, runPlan } from '../../../core/run/runner.js';
import { describeVolume, isAttached, quiesceStorage } from '../../../core/steps/storage.js';
import { FakeCluster, FakeStorage } from '../../helpers/fake-pods.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

const quiesceStep = (timeoutSeconds = 300): PlanStep =>
  step({
    id: 'storage/quiesce',
    stage: 'storage',
    kind: 'quiesce-storage',
    title: 'Wait for every Longhorn volume to detach',
    why: 'test',
    timeoutSeconds,
    params: { namespace: 'longhorn-system' },
  });

const attached = (name: string, node: string): VolumeView => ({ name, state: 'attached', node, robustness: 'healthy' });

async function quiesce(storage: FakeStorage, clock: FakeClock, extra: Parameters<typeof quiesceStorage>[1] = {}) {
  const reports: string[] = [];
  const onEvent = (event: RunEvent) => {
    if (event.type === 'report') reports.push(event.message);
    if (event.type === 'already-done') reports.push('already done');
  };
  const run = runPlan({
    plan: { mode: 'shutdown', planName: 'test', execute: true, steps: [quiesceStep(120)], notes: [] },
    action: 'shutdown',
    executors: { 'quiesce-storage': quiesceStorage(storage, extra) },
    store: new MemoryStore(),
    clock,
    logger: silentLogger,
    onEvent,
  });
  const error = await run.then(
    () => undefined,
    (e: Error) => e.cause as Error,
  );
  return { reports, error };
}

describe('quiesceStorage', () => {
  it.each([
    ['attached', true],
    ['attaching', true],
    ['detaching', true],
    ['detached', false],
    ['', false],
    ['creating', false],
  ])('counts a volume in state "%s" as attached: %s', (state, expected) => {
    expect(isAttached({ name: 'v', state })).toBe(expected);
  });

  it('given volumes that detach once the drains stopped their pods, waits until the last one is detached', async () => {
    const clock = new FakeClock();
    const t0 = clock.now().getTime();
    const storage = new FakeStorage(clock, [
      { volume: attached('pvc-a', 'titan-04'), detachAtMs: t0 + 10_000 },
      { volume: attached('pvc-b', 'titan-05'), detachAtMs: t0 + 30_000 },
    ]);
    const { reports, error } = await quiesce(storage, clock);
    expect(error).toBeUndefined();
    expect(clock.now().getTime() - t0).toBe(30_000);
    expect(reports[0]).toMatch(/^2 Longhorn volume\(s\) still attached: pvc-a \(attached on titan-04, healthy\)/);
    expect(reports).toContain(
      '1 Longhorn volume(s) still attached: pvc-b (attached on titan-05, healthy) (waiting 10s of 2m00s)',
    );
    expect(reports.at(-1)).toBe('Every Longhorn volume in longhorn-system is detached');
  });

  it('given a volume that never detaches, fails at the deadline naming it, its node, and that the node is not drained', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster(clock);
    cluster.nodes.add('titan-01');
    cluster.nodes.add('titan-04', { unschedulable: true, cordonedBy: 'hecate' });
    const storage = new FakeStorage(clock, [
      { volume: attached('pvc-a', 'titan-04'), detachAtMs: clock.now().getTime() + 5_000 },
      { volume: attached('pvc-cp', 'titan-01') },
    ]);
    const { error } = await quiesce(storage, clock, { nodes: cluster.nodes });
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect(error?.message).toBe(
      'gave up after 2m00s: 1 Longhorn volume(s) still attached: pvc-cp (attached on titan-01, healthy, node not drained)',
    );
  });

  it('given no Longhorn volumes (or no Longhorn), is already done', async () => {
    const clock = new FakeClock();
    const { reports, error } = await quiesce(new FakeStorage(clock, []), clock);
    expect(error).toBeUndefined();
    expect(reports).toEqual(['already done']);
  });

  it('in a dry run, reports what is attached and does not wait', async () => {
    const clock = new FakeClock();
    const t0 = clock.now().getTime();
    const storage = new FakeStorage(clock, [{ volume: attached('pvc-a', 'titan-04') }]);
    const { reports, error } = await quiesce(storage, clock, { dryRun: true });
    expect(error).toBeUndefined();
    expect(clock.now().getTime()).toBe(t0);
    expect(reports).toEqual([
      '1 Longhorn volume(s) still attached: pvc-a (attached on titan-04, healthy) (dry run: not waiting)',
    ]);
  });

  it('describes a volume without a node plainly', () => {
    expect(describeVolume({ name: 'pvc-x', state: 'detaching' })).toBe('pvc-x (detaching)');
  });
});

/**
 * The emergency's short last level against pods whose grace period outlasts it: power-off must not be blocked by
 * a pod that has accepted its deletion and is only still stopping. The graceful path keeps failing (kubectl's way).
 */
import { describe, expect, it } from 'vitest';
import { type DrainOptions, toDrainOptions } from '../../../core/drain/options.js';
import { emergencySpec } from '../../../core/plan/emergency.js';
import { step } from '../../../core/plan/step.js';
import { type RunEvent, runPlan } from '../../../core/run/runner.js';
import { drainNode } from '../../../core/steps/drain.js';
import { atlasSpec } from '../../helpers/atlas.js';
import { FakeCluster } from '../../helpers/fake-pods.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

const drainStep = step({
  id: 'drain/worker-1',
  stage: 'drain',
  kind: 'drain-node',
  title: 'Cordon and drain worker-1',
  targets: ['worker-1'],
  why: 'test',
  destructive: true,
  timeoutSeconds: 120,
  params: { node: 'worker-1' },
});

/** worker-1 with a PDB-held Deployment pod (60 s grace) and a quick one (5 s grace); replacements go to worker-2. */
function world(): FakeCluster {
  const cluster = new FakeCluster(new FakeClock());
  cluster.nodes.add('worker-1');
  cluster.nodes.add('worker-2');
  cluster.addPod({ name: 'slow-db', node: 'worker-1', graceSeconds: 60 });
  cluster.addPod({ name: 'quick', node: 'worker-1', graceSeconds: 5 });
  cluster.addPdb('apps', 'slow-db', 1);
  return cluster;
}

async function drain(options: DrainOptions) {
  const cluster = world();
  const reports: string[] = [];
  const error = await runPlan({
    plan: { mode: 'emergency-shutdown', planName: 'test', execute: true, steps: [drainStep], notes: [] },
    action: 'shutdown',
    executors: { 'drain-node': drainNode(cluster.nodes, cluster.pods, options) },
    store: new MemoryStore(),
    clock: cluster.clock,
    logger: silentLogger,
    onEvent: (event: RunEvent) => {
      if (event.type === 'report') reports.push(event.message);
    },
  }).then(
    () => undefined,
    (e: Error) => (e.cause ?? e) as Error,
  );
  return { cluster, reports, error, elapsedMs: cluster.clock.now().getTime() - cluster.startMs };
}

describe('emergency drain: pods that outlast the last level', () => {
  const emergency = emergencySpec(atlasSpec()).drain;

  it('given the emergency options, then a pod still terminating after disable-eviction does not fail the drain', async () => {
    const { cluster, reports, error, elapsedMs } = await drain(
      toDrainOptions(emergency, { acceptTerminatingAtEnd: true }),
    );
    expect(error).toBeUndefined();
    expect(cluster.requests.some((r) => r.verb === 'delete' && r.target === 'apps/slow-db')).toBe(true);
    expect(reports.at(-1)).toBe(
      'worker-1 drained except 1 pod(s) still terminating after the last level (apps/slow-db): going on, the power-off stops them',
    );
    // evict 15 s, then disable-eviction 15 s: done when the last level runs out, not after the pod's 60 s grace
    expect(elapsedMs).toBeLessThanOrEqual(31_000);
  });

  it('given the same pods without the option (the graceful rule), then the drain waits out the grace period of the pod it deleted', async () => {
    const { error, elapsedMs } = await drain(toDrainOptions(emergency));
    expect(error).toBeUndefined();
    // deleted when disable-eviction began (15 s), gone 60 s later: within its grace, so not a failure
    expect(elapsedMs).toBe(75_000);
  });

  it('given a plan that forbids bypassing PDBs, then a PDB-held pod (refused, not terminating) still fails the drain', async () => {
    const { cluster, error } = await drain(
      toDrainOptions({ ...emergency, escalation: ['evict'] }, { acceptTerminatingAtEnd: true }),
    );
    expect(cluster.requests.filter((r) => r.target === 'apps/slow-db').map((r) => r.code)).not.toContain(201);
    expect(error?.name).toBe('DrainFailedError');
    expect(error?.message).toContain('apps/slow-db (429: a PodDisruptionBudget forbids the eviction)');
  });
});

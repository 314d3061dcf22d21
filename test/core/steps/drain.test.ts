import { describe, expect, it } from 'vitest';
import type { PlanStep } from '../../../core/api/plan.js';
import { outageRecord } from '../../../core/api/progress.js';
import type { DrainOptions } from '../../../core/drain/options.js';
import { step } from '../../../core/plan/step.js';
import { type RunEvent, runPlan } from '../../../core/run/runner.js';
import { DrainFailedError, type DrainNodeSettings, drainNode } from '../../../core/steps/drain.js';
import { FakeCluster, type FakeRequest } from '../../helpers/fake-pods.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';
import { options as drainOptions } from '../drain/fixtures.js';

const MIN = 60_000;

function drainStep(node = 'worker-1', timeoutSeconds = 3 * 60): PlanStep {
  return step({
    id: `drain/${node}`,
    stage: 'drain',
    kind: 'drain-node',
    title: `Cordon and drain ${node}`,
    targets: [node],
    why: 'test',
    destructive: true,
    timeoutSeconds,
    params: { node, group: 'drain-workers', parallelism: '1' },
  });
}

/** worker-1 and worker-2 (where replacements go); add pods per case. */
function world(): FakeCluster {
  const cluster = new FakeCluster(new FakeClock());
  cluster.nodes.add('worker-1');
  cluster.nodes.add('worker-2');
  return cluster;
}

/** One-minute levels and kubectl's 5 s retry, so the timestamps below read easily. */
const minuteLevels = (overrides: Partial<DrainOptions> = {}) =>
  drainOptions({ levelTimeoutMs: MIN, evictionRetryIntervalMs: 5_000, gracePeriodSeconds: -1, ...overrides });

interface Run {
  reports: string[];
  store: MemoryStore;
  error?: Error;
}

async function drain(
  cluster: FakeCluster,
  options: DrainOptions,
  settings: DrainNodeSettings = {},
  store = new MemoryStore(),
  planStep = drainStep(),
): Promise<Run> {
  const reports: string[] = [];
  const onEvent = (event: RunEvent) => {
    if (event.type === 'report') reports.push(event.message);
    if (event.type === 'already-done') reports.push('already done');
  };
  try {
    await runPlan({
      plan: { mode: 'shutdown', planName: 'test', execute: true, steps: [planStep], notes: [] },
      action: 'shutdown',
      executors: { 'drain-node': drainNode(cluster.nodes, cluster.pods, options, settings) },
      store,
      clock: cluster.clock,
      logger: silentLogger,
      onEvent,
    });
    return { reports, store };
  } catch (error) {
    return { reports, store, error: (error as Error).cause as Error };
  }
}

const fmt = (r: FakeRequest) => `${r.atMs / 1000}s ${r.verb} ${r.target} ${r.code}${r.dryRun ? ' dry-run' : ''}`;
const firstAt = (cluster: FakeCluster, prefix: string) =>
  cluster.requests.find((r) => `${r.verb} ${r.target} ${r.code}`.startsWith(prefix))?.atMs;
const podsOn = (cluster: FakeCluster, node: string) =>
  [...cluster.podMap.values()].filter((p) => p.node === node).map((p) => p.name);

/** The Atlas shape on one worker: a PDB-guarded app, a plain app, a pod with no controller, a DaemonSet pod. */
function atlasLike(cluster: FakeCluster): void {
  cluster.addPod({ name: 'web-1', node: 'worker-1', graceSeconds: 30 });
  cluster.addPod({ name: 'api-1', node: 'worker-1', graceSeconds: 30 });
  cluster.addPod({ name: 'api-2', node: 'worker-1', graceSeconds: 30 });
  cluster.addPdb('apps', 'api', 2);
  cluster.addPod({ name: 'debug-shell', node: 'worker-1', controller: null, graceSeconds: 5 });
  cluster.addPod({ name: 'agent-x', node: 'worker-1', controller: { kind: 'DaemonSet', name: 'agent' } });
}

describe('drainNode escalation', () => {
  it('given a PDB that allows nothing, escalates evict → force → disable-eviction only at each level timeout', async () => {
    const cluster = world();
    atlasLike(cluster);
    const { error, reports } = await drain(cluster, minuteLevels());
    expect(error).toBeUndefined();
    expect(cluster.requests[0] && fmt(cluster.requests[0])).toBe('0s cordon worker-1 200');
    expect(firstAt(cluster, 'evict apps/web-1 201')).toBe(0);
    expect(firstAt(cluster, 'evict apps/api-1 429')).toBe(0);
    // 429s are retried every 5 s at evict, and again afresh at force; never anything but 429 for the guarded app
    const apiEvictions = cluster.requests.filter((r) => r.verb === 'evict' && r.target === 'apps/api-1');
    expect(apiEvictions.every((r) => r.code === 429)).toBe(true);
    expect(apiEvictions.map((r) => r.atMs).slice(0, 3)).toEqual([0, 5_000, 10_000]);
    // the pod with no controller is first touched at force, after the evict level's timeout
    expect(firstAt(cluster, 'evict apps/debug-shell')).toBe(MIN);
    // the guarded pods are deleted (bypassing the PDB) only at disable-eviction, after two timeouts
    expect(firstAt(cluster, 'delete apps/api-1 200')).toBe(2 * MIN);
    expect(cluster.requests.filter((r) => r.verb === 'delete').map((r) => r.target)).toEqual([
      'apps/api-1',
      'apps/api-2',
    ]);
    expect(reports).toContainEqual(expect.stringMatching(/^worker-1: escalating to force: 3 pod\(s\) still present/));
    expect(reports).toContainEqual(expect.stringMatching(/^worker-1: escalating to disable-eviction/));
    expect(reports.at(-1)).toBe('worker-1 drained');
    // the pods went after their grace period; replacements run on worker-2; the DaemonSet pod stays
    expect(cluster.elapsed()).toBe(2 * MIN + 30_000);
    expect(podsOn(cluster, 'worker-1')).toEqual(['agent-x']);
    expect(podsOn(cluster, 'worker-2')).toHaveLength(3);
  });

  it('never touches DaemonSet or mirror pods, and counts the node done with them still on it', async () => {
    const cluster = world();
    cluster.addPod({ name: 'agent-x', node: 'worker-1', controller: { kind: 'DaemonSet', name: 'agent' } });
    cluster.addPod({ name: 'kube-proxy', node: 'worker-1', controller: { kind: 'Node', name: 'w' }, mirror: true });
    const first = await drain(cluster, minuteLevels());
    expect(first.error).toBeUndefined();
    expect(cluster.requests.map(fmt)).toEqual(['0s cordon worker-1 200']);
    const again = await drain(cluster, minuteLevels(), {}, first.store);
    expect(again.reports).toContain('already done');
  });

  it('given only a pod with no controller, moves to force at once (nothing recreates it) and evicts it there', async () => {
    const cluster = world();
    cluster.addPod({ name: 'debug-shell', node: 'worker-1', controller: null, graceSeconds: 5 });
    const { error, reports } = await drain(cluster, minuteLevels());
    expect(error).toBeUndefined();
    expect(reports.findIndex((r) => r.includes('escalating to force'))).toBeLessThan(
      reports.indexOf('worker-1 drained'),
    );
    expect(cluster.requests.map(fmt)).toEqual(['0s cordon worker-1 200', '0s evict apps/debug-shell 201']);
  });

  it.each([
    {
      given: 'a pod with no controller and no force level',
      escalation: ['evict'] as const,
      pod: { name: 'debug-shell', controller: null },
      why: /debug-shell \(cannot delete Pods that declare no controller/,
    },
    {
      given: 'emptyDir data without deleteEmptyDirData',
      escalation: ['evict', 'force', 'disable-eviction'] as const,
      pod: { name: 'cache-1', emptyDir: true },
      why: /cache-1 \(cannot delete Pods with local storage \(set drain.deleteEmptyDirData/,
    },
  ])('given $given, fails before touching any pod and names it', async ({ escalation, pod, why }) => {
    const cluster = world();
    cluster.addPod({ node: 'worker-1', ...pod });
    const { error } = await drain(cluster, minuteLevels({ escalation: [...escalation], deleteEmptyDirData: false }));
    expect(error).toBeInstanceOf(DrainFailedError);
    expect(error?.message).toMatch(why);
    expect(cluster.requests.filter((r) => r.verb !== 'cordon')).toEqual([]);
  });

  it('given a PDB and no disable-eviction level, fails after the last level naming each pod and the 429', async () => {
    const cluster = world();
    cluster.addPod({ name: 'api-1', node: 'worker-1' });
    cluster.addPod({ name: 'api-2', node: 'worker-1' });
    cluster.addPdb('apps', 'api', 2);
    const { error } = await drain(cluster, minuteLevels({ escalation: ['evict', 'force'] }));
    expect(error).toBeInstanceOf(DrainFailedError);
    expect(error?.message).toMatch(/no escalation level is left after force/);
    expect(error?.message).toMatch(/apps\/api-1 \(429: a PodDisruptionBudget forbids the eviction\)/);
    expect(error?.message).toMatch(/apps\/api-2 \(429/);
    expect(cluster.elapsed()).toBe(2 * MIN);
    expect(cluster.requests.some((r) => r.verb === 'delete')).toBe(false);
  });

  it('given an eviction answered 404 (the pod went meanwhile), counts the pod as gone without waiting', async () => {
    const cluster = world();
    cluster.addPod({ name: 'web-1', node: 'worker-1' });
    cluster.vanishBeforeEvict.add('apps/web-1');
    const { error } = await drain(cluster, minuteLevels());
    expect(error).toBeUndefined();
    expect(cluster.requests.map(fmt)).toEqual(['0s cordon worker-1 200', '0s evict apps/web-1 404']);
    expect(cluster.elapsed()).toBe(0);
  });

  it('given a StatefulSet pod replaced under the same name on the node, the new uid means the old one is gone', async () => {
    const cluster = world();
    const controller = { kind: 'StatefulSet', name: 'db' };
    cluster.addPod({ name: 'db-0', node: 'worker-1', controller, graceSeconds: 20, replaceOnSameNode: true });
    const { error } = await drain(cluster, minuteLevels());
    expect(error).toBeUndefined();
    expect(cluster.requests.map(fmt)).toEqual(['0s cordon worker-1 200', '0s evict apps/db-0 201']);
    expect(cluster.elapsed()).toBe(20_000);
    expect(podsOn(cluster, 'worker-1')).toEqual(['db-0']); // the replacement tolerates the cordon: not drained (as kubectl)
  });

  it('given a replacement a stale scheduler bound to the cordoned node, drains it too before the node counts as drained', async () => {
    const cluster = world();
    const controller = { kind: 'StatefulSet', name: 'db' };
    cluster.addPod({ name: 'db-0', node: 'worker-1', controller, graceSeconds: 20, staleScheduler: true });
    const { error, reports } = await drain(cluster, minuteLevels());
    expect(error).toBeUndefined();
    // the first incarnation is evicted at once; its replacement, bound to worker-1 when the first went, at once too
    expect(cluster.requests.map(fmt)).toEqual([
      '0s cordon worker-1 200',
      '0s evict apps/db-0 201',
      '20s evict apps/db-0 201',
    ]);
    const evicted = cluster.requests.filter((r) => r.verb === 'evict');
    expect(evicted).toHaveLength(2);
    expect(reports).toContain(
      'worker-1: 1 pod(s) arrived on it after the cordon, not tolerating it (apps/db-0): draining them too',
    );
    expect(reports.at(-1)).toBe('worker-1 drained');
    expect(cluster.elapsed()).toBe(40_000);
    expect(podsOn(cluster, 'worker-1')).toEqual([]);
    expect(podsOn(cluster, 'worker-2')).toEqual(['db-0']);
  });

  it('drains arrivals once per controller: one whose template pins it to the node comes back and is left alone', async () => {
    const cluster = world();
    cluster.addPod({ name: 'pinned-1', node: 'worker-1', graceSeconds: 10, pinnedToNode: true });
    const { error, reports } = await drain(cluster, minuteLevels());
    expect(error).toBeUndefined();
    // the original, then the ReplicaSet's first replacement (it landed on the cordoned node), and no more
    expect(cluster.requests.map(fmt)).toEqual([
      '0s cordon worker-1 200',
      '0s evict apps/pinned-1 201',
      '10s evict apps/pinned-r2 201',
    ]);
    expect(reports).toContain(
      'worker-1: 1 pod(s) arrived on it after the cordon, not tolerating it (apps/pinned-r2): draining them too',
    );
    expect(reports).toContain(
      'worker-1: apps/pinned-r3 arrived again after its ReplicaSet had one drained from here: it places its pods on this node itself (spec.nodeName in its template?), left alone as kubectl does',
    );
    expect(reports.at(-1)).toBe('worker-1 drained');
    expect(cluster.elapsed()).toBe(20_000);
    expect(podsOn(cluster, 'worker-1')).toEqual(['pinned-r3']);
  });

  it('leaves a pod that arrives after the start alone when its owner may place it itself (as kubectl)', async () => {
    const cluster = world();
    cluster.addPod({ name: 'web-1', node: 'worker-1', graceSeconds: 10 });
    // an operator's custom resource puts its pod on the node by name (spec.nodeName): deleting it would bring it back
    const controller = { kind: 'InstanceManager', name: 'im-worker-1' };
    const at = cluster.clock.now().getTime() + 5_000;
    cluster.scheduled.push({
      atMs: at,
      node: 'worker-1',
      run: () => cluster.addPod({ name: 'im', node: 'worker-1', controller }),
    });
    const { error, reports } = await drain(cluster, minuteLevels());
    expect(error).toBeUndefined();
    expect(cluster.requests.map(fmt)).toEqual(['0s cordon worker-1 200', '0s evict apps/web-1 201']);
    expect(reports.join('\n')).not.toMatch(/after the cordon/);
    expect(podsOn(cluster, 'worker-1')).toEqual(['im']);
  });

  it("given only Hecate's power-off helper left on a node already off (a rerun after the shutdown), counts it drained", async () => {
    const cluster = world();
    cluster.nodes.add('worker-1', { unschedulable: true, cordonedBy: 'hecate' });
    // a helper on a node that is off never ends: draining it could only fail after the last level
    cluster.addPod({ name: 'hecate-power-off-worker-1', node: 'worker-1', controller: null, helper: true });
    cluster.addPod({ name: 'agent-x', node: 'worker-1', controller: { kind: 'DaemonSet', name: 'agent' } });
    const store = new MemoryStore({ outage: outageRecord.parse({ inOutage: true, cordonedByHecate: ['worker-1'] }) });
    const { error, reports } = await drain(cluster, minuteLevels(), {}, store);
    expect(error).toBeUndefined();
    expect(reports).toEqual(['already done']);
    expect(cluster.requests).toEqual([]);
  });

  it('given the API failing to list for a while, looks again and completes', async () => {
    const cluster = world();
    cluster.addPod({ name: 'web-1', node: 'worker-1', graceSeconds: 10 });
    cluster.pods.failLists = 2;
    const { error, reports } = await drain(cluster, minuteLevels());
    expect(error).toBeUndefined();
    expect(reports.filter((r) => r.includes('could not list its pods'))).toHaveLength(2);
  });

  it('given a step deadline that runs out first, a drain still gets every level and the grace of the pods it deletes', async () => {
    // The step's deadline (here 90 s) counts from the step's start; three 1-minute levels and a 30 s grace need more.
    const cluster = world();
    cluster.addPod({ name: 'api-1', node: 'worker-1', graceSeconds: 30 });
    cluster.addPdb('apps', 'api', 1);
    const { error } = await drain(cluster, minuteLevels(), {}, new MemoryStore(), drainStep('worker-1', 90));
    expect(error).toBeUndefined();
    const deleted = cluster.requests.find((r) => r.verb === 'delete' && r.target === 'apps/api-1');
    expect(deleted?.atMs).toBe(2 * MIN);
    expect(cluster.elapsed()).toBe(2 * MIN + 30_000);
  });

  it.each([
    { linger: 5, fails: false },
    { linger: 6, fails: true },
  ])(
    'a pod deleted at the last level that ends $linger s after its grace: fails=$fails (5 s of slack, then named)',
    async ({ linger, fails }) => {
      const cluster = world();
      cluster.addPod({ name: 'api-1', node: 'worker-1', graceSeconds: 80, lingerSeconds: linger });
      cluster.addPdb('apps', 'api', 1);
      const { error } = await drain(cluster, minuteLevels(), {}, new MemoryStore(), drainStep('worker-1', 180));
      if (!fails) {
        expect(error).toBeUndefined();
        expect(cluster.elapsed()).toBe(2 * MIN + 85_000);
        return;
      }
      expect(error?.name).toBe('DrainFailedError');
      expect(error?.message).toMatch(
        /still present after 85s at disable-eviction .*apps\/api-1 \(deleted, still terminating\)/,
      );
      expect(cluster.elapsed()).toBe(2 * MIN + 85_000);
    },
  );

  it('reports pods left, the level and the time to the next escalation', async () => {
    const cluster = world();
    cluster.addPod({ name: 'api-1', node: 'worker-1' });
    cluster.addPdb('apps', 'api', 1);
    const { reports } = await drain(cluster, minuteLevels());
    expect(reports).toContain('worker-1: draining 1 pod(s)');
    expect(reports).toContain('worker-1: 1 pod(s) left at evict; force in 1m00s');
    expect(reports).toContain('worker-1: 1 pod(s) left at evict; force in 50s');
    expect(reports).toContain('worker-1: 1 pod(s) left at disable-eviction; gives up in 1m00s');
  });
});

describe('drainNode cordon and record', () => {
  it('records the node in cordonedByHecate in a save made before the cordon', async () => {
    const cluster = world();
    const store = new MemoryStore();
    const savesAtCordon: number[] = [];
    const cordon = cluster.nodes.cordon.bind(cluster.nodes);
    cluster.nodes.cordon = async (...args) => {
      savesAtCordon.push(store.history.filter((h) => h.outage.cordonedByHecate.includes('worker-1')).length);
      return cordon(...args);
    };
    await drain(cluster, minuteLevels(), {}, store);
    expect(savesAtCordon).toEqual([1]);
    expect(store.latest?.outage.cordonedByHecate).toEqual(['worker-1']);
    expect(cluster.nodes.views.get('worker-1')).toMatchObject({ unschedulable: true, cordonedBy: 'hecate' });
  });

  it('given a node someone else cordoned, neither records nor re-cordons it, says so, and drains it', async () => {
    const cluster = world();
    cluster.nodes.add('worker-1', { unschedulable: true, cordonedBy: 'ops' });
    cluster.addPod({ name: 'web-1', node: 'worker-1', graceSeconds: 1 });
    const { error, store, reports } = await drain(cluster, minuteLevels());
    expect(error).toBeUndefined();
    expect(store.latest?.outage.cordonedByHecate).toEqual([]);
    expect(reports[0]).toBe(
      'worker-1 was already cordoned by someone else (by ops): not recorded, so startup leaves it cordoned',
    );
    expect(cluster.requests.map(fmt)).toEqual(['0s evict apps/web-1 201']);
    expect(cluster.nodes.views.get('worker-1')?.cordonedBy).toBe('ops');
  });

  it('given a node Hecate cordoned but never recorded (a lost record), records it so startup uncordons it', async () => {
    const cluster = world();
    cluster.nodes.add('worker-1', { unschedulable: true, cordonedBy: 'hecate' });
    const { store } = await drain(cluster, minuteLevels());
    expect(store.latest?.outage.cordonedByHecate).toEqual(['worker-1']);
    expect(cluster.requests).toEqual([]);
  });
});

describe('drainNode dry run', () => {
  it('sends each level once with dryRun, changes and records nothing, and reports what each level would do', async () => {
    const cluster = world();
    atlasLike(cluster);
    const before = structuredClone([...cluster.podMap.values()]);
    const { error, store, reports } = await drain(cluster, minuteLevels(), { dryRun: true });
    expect(error).toBeUndefined();
    expect(cluster.requests.every((r) => r.dryRun)).toBe(true);
    expect(cluster.requests.map(fmt)).toEqual([
      '0s cordon worker-1 200 dry-run',
      '0s evict apps/web-1 201 dry-run',
      '0s evict apps/api-1 429 dry-run',
      '0s evict apps/api-2 429 dry-run',
      '0s evict apps/api-1 429 dry-run',
      '0s evict apps/api-2 429 dry-run',
      '0s evict apps/debug-shell 201 dry-run',
      '0s delete apps/api-1 200 dry-run',
      '0s delete apps/api-2 200 dry-run',
    ]);
    expect([...cluster.podMap.values()]).toEqual(before);
    expect(cluster.nodes.views.get('worker-1')?.unschedulable).toBe(false);
    expect(store.latest?.outage.cordonedByHecate).toEqual([]);
    expect(reports).toContain(
      'worker-1: at disable-eviction would delete apps/api-1 (accepted), would delete apps/api-2 (accepted) (server dry run)',
    );
    expect(reports.at(-1)).toBe('worker-1: would be drained (server dry run)');
  });
});

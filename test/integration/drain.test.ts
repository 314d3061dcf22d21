/**
 * The drain and storage-quiesce executors on the real control plane with the kubelet and Longhorn stand-ins: real
 * 429s from a PodDisruptionBudget, escalation only after the level timeout (timestamps from the audit log), the pod
 * with no controller touched only at force, the DaemonSet pod left alone, replacements scheduled on the other
 * worker, a server-side dry run that persists nothing, Longhorn volumes detaching once every worker is drained, and
 * pods put back on a cordoned node during its drain (taken once per controller; one that tolerates the cordon, never).
 */
import {
  ApiextensionsV1Api,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeNodes } from '../../adapters/kube/nodes.js';
import { KubePods } from '../../adapters/kube/pods.js';
import { KubeStorage, LONGHORN_VOLUMES } from '../../adapters/kube/storage.js';
import { systemClock } from '../../adapters/system.js';
import {
  type AuditEvent,
  type ControlPlane,
  describeEvent,
  mutations,
  requestsBy,
  requireBed,
  startControlPlane,
  upstreamCrdPaths,
} from '../../bed/index.js';
import { applyScenario, loadScenario } from '../../bed/scenario.js';
import { eventually, type Simulators, startSimulators } from '../../bed/simulators.js';
import type { PlanStep } from '../../core/api/plan.js';
import type { DrainOptions } from '../../core/drain/options.js';
import { step } from '../../core/plan/step.js';
import type { StepExecutor } from '../../core/run/executor.js';
import { type RunEvent, runPlan } from '../../core/run/runner.js';
import { drainNode } from '../../core/steps/drain.js';
import { quiesceStorage } from '../../core/steps/storage.js';
import { MemoryStore, silentLogger } from '../helpers/fakes.js';

const bed = requireBed();
const SCENARIO = new URL('../../bed/scenarios/drain.yaml', import.meta.url);
const SPEED = 10;
const LEVEL_MS = 3_000;
/** Audit timestamps and our clock differ by request latency; escalation never comes earlier than this allows. */
const SLACK_MS = 250;
const HECATE = 'hecate-drainer';
const WATCHER = 'hecate-watcher';
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const OPTIONS: DrainOptions = {
  escalation: ['evict', 'force', 'disable-eviction'],
  levelTimeoutMs: LEVEL_MS,
  gracePeriodSeconds: -1,
  deleteEmptyDirData: true,
  ignoreDaemonSets: true,
  evictionRetryIntervalMs: 1_000,
  skipWaitForDeleteTimeoutMs: 0,
  parallelism: 1,
};

const planStep = (id: string, kind: string, params: Record<string, string>, timeoutSeconds: number): PlanStep =>
  step({ id, stage: 'test', kind, title: id, why: 'test', timeoutSeconds, params });

/** Runs one step through the real runner; the error is the step's cause. */
async function runStep(executor: StepExecutor, planned: PlanStep, store = new MemoryStore()) {
  const reports: string[] = [];
  const onEvent = (event: RunEvent) => {
    if (event.type === 'report') reports.push(event.message);
    if (event.type === 'already-done') reports.push('already done');
  };
  const error = await runPlan({
    plan: { mode: 'shutdown', planName: 'test', execute: true, steps: [planned], notes: [] },
    action: 'shutdown',
    executors: { [planned.kind]: executor },
    store,
    clock: systemClock,
    logger: silentLogger,
    onEvent,
  }).then(
    () => undefined,
    (e: Error) => (e.cause ?? e) as Error,
  );
  return { reports, store, error };
}

const at = (event: AuditEvent) => Date.parse(event.timestamp);
const podOf = (event: AuditEvent) => event.objectRef?.name ?? '';
const isEviction = (event: AuditEvent) => event.objectRef?.subresource === 'eviction';
const isPodDelete = (event: AuditEvent) =>
  event.verb === 'delete' && event.objectRef?.resource === 'pods' && !event.objectRef.subresource;

describe.skipIf(!bed.ok)('drain and storage quiesce on the real control plane', () => {
  let plane: ControlPlane;
  let sims: Simulators;
  let core: CoreV1Api;
  let kc: KubeConfig;

  const podsOn = async (node: string) =>
    (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
  const running = (pods: Awaited<ReturnType<typeof podsOn>>) =>
    pods.filter((p) => p.status?.phase === 'Running').map((p) => p.metadata?.labels?.['app.kubernetes.io/name']);
  const drainer = (dryRun = false) =>
    drainNode(new KubeNodes(kc), new KubePods(kc), OPTIONS, { dryRun, reportEveryMs: 1_000 });

  beforeAll(async () => {
    plane = await startControlPlane({ crds: upstreamCrdPaths() });
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    const scenario = await loadScenario(SCENARIO);
    sims = await startSimulators(plane.kubeConfig, scenario.nodes, { kubelet: { speed: SPEED }, flux: false });
    // Everything starts on worker-1: worker-2 stays cordoned until the scenario runs there
    await core.patchNode({ name: 'worker-2', body: { spec: { unschedulable: true } } }, MERGE);
    await applyScenario(plane.kubeConfig, scenario);
    const policy = plane.kubeConfig.makeApiClient(PolicyV1Api);
    await eventually(
      'every pod Running on worker-1 and the PodDisruptionBudget computed',
      async () => {
        const names = running(await podsOn('worker-1')).sort();
        const pdb = await policy.readNamespacedPodDisruptionBudget({ namespace: 'apps', name: 'api' });
        const want = ['agent', 'api', 'api', 'db', 'debug-shell', 'web', 'web'];
        return JSON.stringify(names) === JSON.stringify(want) && pdb.status?.currentHealthy === 2;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    await core.patchNode({ name: 'worker-2', body: { spec: { unschedulable: null } } }, MERGE);
    kc = await plane.userKubeConfig(HECATE, ['system:masters']);
  });
  afterAll(async () => {
    await sims?.stop();
    await plane?.stop();
  });

  it('a dry-run drain sends every request with dryRun=All and persists nothing', async () => {
    const store = new MemoryStore();
    const { error, reports } = await runStep(
      drainer(true),
      planStep('drain/worker-1', 'drain-node', { node: 'worker-1' }, 60),
      store,
    );
    expect(error).toBeUndefined();
    const events = await plane.waitForAudit((e) => mutations(e, { user: HECATE, includeDryRun: true }).length >= 8);
    const sent = mutations(events, { user: HECATE, includeDryRun: true });
    expect(
      sent.every((e) => e.dryRun && e.requestURI.includes('dryRun=All')),
      sent.map(describeEvent).join('\n'),
    ).toBe(true);
    expect(mutations(events, { user: HECATE })).toEqual([]);
    expect(
      sent.filter(isEviction).map((e) => `${podOf(e).replace(/-[a-z0-9]+-[a-z0-9]+$/, '')} ${e.responseStatus?.code}`),
    ).toEqual(expect.arrayContaining(['api 429', 'web 201', 'db 201', 'debug-shell 201']));
    expect((await core.readNode({ name: 'worker-1' })).spec?.unschedulable).toBeFalsy();
    expect(running(await podsOn('worker-1'))).toHaveLength(7);
    expect(store.latest?.outage.cordonedByHecate).toEqual([]);
    expect(reports.at(-1)).toBe('worker-1: would be drained (server dry run)');
  });

  it('drains worker-1: 429s until disable-eviction, the unmanaged pod only at force, the DaemonSet pod left', async () => {
    const started = Date.now();
    const { error, reports, store } = await runStep(
      drainer(),
      planStep('drain/worker-1', 'drain-node', { node: 'worker-1' }, 60),
    );
    const took = Date.now() - started;
    console.info(`Drained worker-1 in ${took} ms; reports:\n  ${reports.join('\n  ')}`);
    expect(error).toBeUndefined();
    const events = mutations(await plane.readAudit(), { user: HECATE });
    const log = events.map(describeEvent).join('\n');
    expect(describeEvent(events[0] as AuditEvent), log).toBe('patch nodes worker-1 200');
    const evictions = events.filter(isEviction);
    const t0 = at(evictions[0] as AuditEvent);
    const api = evictions.filter((e) => podOf(e).startsWith('api-'));
    expect(api.length, log).toBeGreaterThanOrEqual(4);
    expect(
      api.every((e) => e.responseStatus?.code === 429),
      log,
    ).toBe(true);
    const debug = evictions.filter((e) => podOf(e) === 'debug-shell');
    expect(
      debug.map((e) => e.responseStatus?.code),
      log,
    ).toEqual([201]);
    expect(at(debug[0] as AuditEvent) - t0, log).toBeGreaterThanOrEqual(LEVEL_MS - SLACK_MS);
    const deletes = events.filter(isPodDelete);
    expect(
      deletes.map((e) => podOf(e).replace(/-[a-z0-9]+-[a-z0-9]+$/, '')),
      log,
    ).toEqual(['api', 'api']);
    for (const d of deletes) expect(at(d) - t0, log).toBeGreaterThanOrEqual(2 * LEVEL_MS - SLACK_MS);
    expect(
      deletes.every((e) => e.responseStatus?.code === 200),
      log,
    ).toBe(true);
    expect(
      events.some((e) => podOf(e).startsWith('agent-')),
      log,
    ).toBe(false);

    expect(running(await podsOn('worker-1'))).toEqual(['agent']);
    const node = await core.readNode({ name: 'worker-1' });
    expect(node.spec?.unschedulable).toBe(true);
    expect(node.metadata?.annotations?.['power.hecate.dev/cordoned-by']).toBe('hecate');
    expect(store.latest?.outage.cordonedByHecate).toEqual(['worker-1']);
    await eventually(
      'the replacements Running on worker-2',
      async () => {
        const names = running(await podsOn('worker-2')).sort();
        return JSON.stringify(names) === JSON.stringify(['agent', 'api', 'api', 'db', 'web', 'web']) && names;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(reports).toContain('worker-1 drained');
  });

  it('storage quiesce fails in time naming the volume still attached on the worker that was not drained', async () => {
    const storage = new KubeStorage(kc);
    await eventually(
      'the volume attached on worker-2, where db now runs',
      async () => (await storage.volumes('longhorn-system')).some((v) => v.node === 'worker-2'),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const { error } = await runStep(
      quiesceStorage(storage, { nodes: new KubeNodes(kc), intervalMs: 500 }),
      planStep('storage/quiesce', 'quiesce-storage', { namespace: 'longhorn-system' }, 3),
    );
    expect(error?.name).toBe('DeadlineExceededError');
    expect(error?.message).toMatch(
      /1 Longhorn volume\(s\) still attached: pvc-[0-9a-f-]+ \(attached on worker-2, healthy, node not drained\)/,
    );
    expect(await storage.volumes('no-such-namespace')).toEqual([]);
  });

  it('once every worker is drained, every Longhorn volume detaches and storage quiesce completes', async () => {
    const drained = await runStep(drainer(), planStep('drain/worker-2', 'drain-node', { node: 'worker-2' }, 60));
    expect(drained.error).toBeUndefined();
    const { error, reports } = await runStep(
      quiesceStorage(new KubeStorage(kc), { nodes: new KubeNodes(kc), intervalMs: 500 }),
      planStep('storage/quiesce', 'quiesce-storage', { namespace: 'longhorn-system' }, 30),
    );
    expect(error).toBeUndefined();
    // the volume may have detached before the step's check ran
    expect(['Every Longhorn volume in longhorn-system is detached', 'already done']).toContain(reports.at(-1));
    expect((await new KubeStorage(kc).volumes('longhorn-system')).map((v) => v.state)).toEqual(['detached']);
  });

  it('KubePods.nextChange resolves at its timeout when nothing changes, soon after a change, on abort, and closes its watch', async () => {
    const pods = new KubePods(await plane.userKubeConfig(WATCHER, ['system:masters']));
    const [agent] = await pods.listOnNode('worker-1');
    const name = agent?.metadata?.name ?? '';
    let t = Date.now();
    await pods.nextChange('worker-1', 1_000);
    const quiet = Date.now() - t;
    t = Date.now();
    const change = pods.nextChange('worker-1', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await core.patchNamespacedPod({ namespace: 'apps', name, body: { metadata: { labels: { poked: 'yes' } } } }, MERGE);
    await change;
    const woke = Date.now() - t;
    await pods.listOnNode('worker-1');
    const abort = new AbortController();
    t = Date.now();
    setTimeout(() => abort.abort(), 300);
    await pods.nextChange('worker-1', 20_000, abort.signal);
    const aborted = Date.now() - t;
    console.info(
      `nextChange: quiet ${quiet} ms (timeout 1000), woke ${woke} ms after a change at ~300 ms, aborted ${aborted} ms`,
    );
    expect(quiet).toBeGreaterThanOrEqual(950);
    expect(quiet).toBeLessThan(5_000);
    expect(woke).toBeLessThan(5_000);
    expect(aborted).toBeLessThan(5_000);
    const watches = (all: AuditEvent[]) => requestsBy(all, WATCHER).filter((e) => e.verb === 'watch');
    const events = await plane.waitForAudit(
      (all) => watches(all).length === 3 && watches(all).every((e) => e.stage === 'ResponseComplete'),
      10_000,
    );
    expect(watches(events).map((e) => e.requestURI)).toEqual(
      Array(3).fill(expect.stringMatching(/fieldSelector=spec.nodeName%3Dworker-1.*resourceVersion=\d+/)),
    );
  });

  it('a pod put back on the cordoned node after the drain began is drained once per controller; one that tolerates the cordon is not', async () => {
    const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    // `pinned` names worker-1 in its template (spec.nodeName): its ReplicaSet puts every replacement back there, past
    // the cordon, as a scheduler with a stale view of the node would; the first comes after the drain's first look.
    // `tolerant` tolerates the cordon: the real scheduler rightly places its replacement on worker-1 again.
    const deployment = (name: string, spec: Record<string, unknown>) => ({
      metadata: { name, namespace: 'apps' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': name } },
        template: {
          metadata: { labels: { 'app.kubernetes.io/name': name } },
          spec: { terminationGracePeriodSeconds: 10, containers: [{ name, image: 'registry.local/app:1' }], ...spec },
        },
      },
    });
    await apps.createNamespacedDeployment({
      namespace: 'apps',
      body: deployment('pinned', { nodeName: 'worker-1' }),
    });
    await apps.createNamespacedDeployment({
      namespace: 'apps',
      body: deployment('tolerant', {
        nodeSelector: { 'kubernetes.io/hostname': 'worker-1' },
        tolerations: [{ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }],
      }),
    });
    await eventually(
      'pinned and tolerant Running on the cordoned worker-1',
      async () => JSON.stringify(running(await podsOn('worker-1')).sort()) === '["agent","pinned","tolerant"]',
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const since = (await plane.readAudit()).length;

    const { error, reports } = await runStep(
      drainer(),
      planStep('drain/worker-1', 'drain-node', { node: 'worker-1' }, 60),
    );
    console.info(`Drained worker-1 again; reports:\n  ${reports.join('\n  ')}`);
    expect(error).toBeUndefined();
    const events = mutations((await plane.readAudit()).slice(since), { user: HECATE });
    const log = events.map(describeEvent).join('\n');
    /** The pods of `app` that the drain evicted or deleted, each once, in order. */
    const touched = (app: string) => [
      ...new Set(events.filter((e) => (isEviction(e) || isPodDelete(e)) && podOf(e).startsWith(`${app}-`)).map(podOf)),
    ];
    // pinned: the pod of the first look, then the one its ReplicaSet put back, and not the third
    expect(touched('pinned'), log).toHaveLength(2);
    expect(touched('tolerant'), log).toHaveLength(1);
    expect(events.filter(isPodDelete), log).toEqual([]); // both went within the first level
    expect(reports).toContainEqual(
      expect.stringMatching(
        /^worker-1: 1 pod\(s\) arrived on it after the cordon, not tolerating it \(apps\/pinned-[a-z0-9]+-[a-z0-9]+\): draining them too$/,
      ),
    );
    expect(reports).toContainEqual(
      expect.stringMatching(
        /^worker-1: apps\/pinned-[a-z0-9-]+ arrived again after its ReplicaSet had one drained from here: .*left alone as kubectl does$/,
      ),
    );
    expect(reports.join('\n')).not.toMatch(/tolerant-[a-z0-9-]+\): draining/);
    expect(reports.at(-1)).toBe('worker-1 drained');
    const left = await podsOn('worker-1');
    expect(left.map((p) => p.metadata?.labels?.['app.kubernetes.io/name']).sort()).toEqual([
      'agent',
      'pinned',
      'tolerant',
    ]);
    expect(left.map((p) => p.metadata?.name)).not.toContain(touched('pinned')[1]);
    await apps.deleteNamespacedDeployment({ namespace: 'apps', name: 'pinned' });
    await apps.deleteNamespacedDeployment({ namespace: 'apps', name: 'tolerant' });
  });

  it('KubeStorage answers no volumes when Longhorn is not installed (its CRD is absent: 404)', async () => {
    await sims.longhorn?.stop();
    await plane.kubeConfig
      .makeApiClient(ApiextensionsV1Api)
      .deleteCustomResourceDefinition({ name: `${LONGHORN_VOLUMES.plural}.${LONGHORN_VOLUMES.group}` });
    const custom = kc.makeApiClient(CustomObjectsApi);
    await eventually(
      'the Volume API gone',
      () =>
        custom.listNamespacedCustomObject({ ...LONGHORN_VOLUMES, namespace: 'longhorn-system' }).then(
          () => false,
          (error: { code?: number }) => error.code === 404,
        ),
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(await new KubeStorage(kc).volumes('longhorn-system')).toEqual([]);
  });
});

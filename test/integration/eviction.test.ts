/**
 * Eviction against the real API server and controllers: a PodDisruptionBudget with disruptionsAllowed 0 makes
 * the Eviction API answer 429; once the budget allows it, the evicted pod terminates after its (scaled) grace
 * period and the ReplicaSet's replacement is scheduled onto another node.
 *
 * And a drain killed mid-escalation: the drain executor runs in a child process (the same runner, executor and state
 * file as the CLI), is SIGKILLed once its state file says it reached the second level, and a rerun resumes there.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  PolicyV1Api,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutageState } from '../../adapters/state-file.js';
import {
  type AuditEvent,
  type ControlPlane,
  describeEvent,
  REPO_ROOT,
  requestsBy,
  requireBed,
  startControlPlane,
} from '../../bed/index.js';
import { eventually, type Simulators, startSimulators } from '../../bed/simulators.js';
import type { DrainOptions } from '../../core/drain/options.js';

const bed = requireBed();
const SPEED = 10;
const GRACE_SECONDS = 30;
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const FIRST_RUN = 'hecate-drain-1';
const SECOND_RUN = 'hecate-drain-2';
/**
 * The emergency's escalation: the second level deletes, so the audit log tells the levels apart by verb. A level
 * lasts longer than the held pod takes to terminate, since the last level's timer also bounds that wait.
 */
const LEVEL_MS = 20_000;
const SLACK_MS = 250;
const CRASH_OPTIONS: DrainOptions = {
  escalation: ['evict', 'disable-eviction'],
  levelTimeoutMs: LEVEL_MS,
  gracePeriodSeconds: -1,
  deleteEmptyDirData: true,
  ignoreDaemonSets: true,
  evictionRetryIntervalMs: 1_000,
  skipWaitForDeleteTimeoutMs: 0,
  parallelism: 1,
};
/**
 * 12 s at speed 10: the pod the killed run deleted is still terminating when the rerun looks (it starts within a few
 * seconds), and gone well before the second level's 20 s run out.
 */
const HELD_GRACE_SECONDS = 120;
const at = (event: AuditEvent) => Date.parse(event.timestamp);
const isEviction = (event: AuditEvent) => event.verb === 'create' && event.objectRef?.subresource === 'eviction';
const isDelete = (event: AuditEvent) => event.verb === 'delete' && !event.objectRef?.subresource;

/**
 * A drain of one node as a child process: the CLI's runner, the drain executor and a state file, nothing else.
 * Prints each progress report on its own line; exits 0 when the node is drained.
 */
const DRAIN_CHILD = `
import { loadKubeConfig } from './adapters/kube/config.js';
import { KubeNodes } from './adapters/kube/nodes.js';
import { KubePods } from './adapters/kube/pods.js';
import { StateFile } from './adapters/state-file.js';
import { systemClock } from './adapters/system.js';
import { step } from './core/plan/step.js';
import { runPlan } from './core/run/runner.js';
import { drainNode } from './core/steps/drain.js';
const { kubeconfig, state, node, options } = JSON.parse(process.env.DRAIN_CHILD);
const kc = loadKubeConfig({ kubeconfig });
const planned = step({ id: 'drain/' + node, stage: 'drain', kind: 'drain-node', title: 'drain ' + node, targets: [node],
  why: 'crash test', destructive: true, timeoutSeconds: 120, params: { node } });
const say = (m) => console.error(m);
try {
  await runPlan({
    plan: { mode: 'shutdown', planName: 'crash', execute: true, steps: [planned], notes: [] },
    action: 'shutdown',
    executors: { 'drain-node': drainNode(new KubeNodes(kc), new KubePods(kc), options, { reportEveryMs: 500 }) },
    store: new StateFile(state),
    clock: systemClock,
    logger: { info() {}, debug() {}, warn: say, error: say },
    onEvent: (e) => { if (e.type === 'report') console.log(e.message); },
  });
  process.exit(0);
} catch (error) {
  console.error(error?.cause?.message ?? error?.message ?? String(error));
  process.exit(1);
}
`;

interface DrainChild {
  output(): string;
  exited: Promise<number | string>;
  kill(): void;
}

function spawnDrain(env: Record<string, string>): DrainChild {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', DRAIN_CHILD], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const append = (d: Buffer) => {
    output += d.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  return { output: () => output, exited, kill: () => child.kill('SIGKILL') };
}

describe.skipIf(!bed.ok)('eviction with PodDisruptionBudgets', () => {
  let plane: ControlPlane;
  let sims: Simulators;
  let core: CoreV1Api;
  let policy: PolicyV1Api;

  beforeAll(async () => {
    plane = await startControlPlane();
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    policy = plane.kubeConfig.makeApiClient(PolicyV1Api);
    sims = await startSimulators(
      plane.kubeConfig,
      [
        { name: 'worker-a', role: 'worker' },
        { name: 'worker-b', role: 'worker' },
      ],
      { kubelet: { speed: SPEED }, flux: false, longhorn: false },
    );
    await plane.createNamespace('ev');
    await plane.kubeConfig.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: 'ev',
      body: {
        metadata: { name: 'guarded' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'guarded' } },
          template: {
            metadata: { labels: { app: 'guarded' } },
            spec: {
              terminationGracePeriodSeconds: GRACE_SECONDS,
              containers: [{ name: 'main', image: 'busybox:1.37' }],
            },
          },
        },
      },
    });
    await policy.createNamespacedPodDisruptionBudget({
      namespace: 'ev',
      body: { metadata: { name: 'guarded' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'guarded' } } } },
    });
  });
  afterAll(async () => {
    await sims?.stop();
    await plane?.stop();
  });

  const runningPods = async () =>
    (await core.listNamespacedPod({ namespace: 'ev', labelSelector: 'app=guarded' })).items.filter(
      (p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp,
    );
  const evict = async (pod: V1Pod): Promise<number> => {
    try {
      await core.createNamespacedPodEviction({
        name: pod.metadata?.name ?? '',
        namespace: 'ev',
        body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.metadata?.name, namespace: 'ev' } },
      });
      return 201;
    } catch (error) {
      if (error instanceof ApiException) return error.code;
      throw error;
    }
  };

  it('answers 429 while the budget allows no disruption, then evicts; the replacement runs on another node', async () => {
    const [pod] = await eventually(
      'the guarded pod running, the PDB computed by the disruption controller',
      async () => {
        const pods = await runningPods();
        const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'guarded', namespace: 'ev' });
        return pods.length === 1 && pdb.status?.currentHealthy === 1 && pdb.status?.observedGeneration === 1 && pods;
      },
    );
    if (!pod) throw new Error('no pod');
    const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'guarded', namespace: 'ev' });
    expect(pdb.status?.disruptionsAllowed).toBe(0);
    expect(await evict(pod)).toBe(429);
    expect(
      (await core.readNamespacedPod({ name: pod.metadata?.name ?? '', namespace: 'ev' })).metadata?.deletionTimestamp,
    ).toBeUndefined();

    await policy.patchNamespacedPodDisruptionBudget(
      { name: 'guarded', namespace: 'ev', body: { spec: { minAvailable: 0 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await eventually('disruptionsAllowed 1', async () => {
      const p = await policy.readNamespacedPodDisruptionBudget({ name: 'guarded', namespace: 'ev' });
      return p.status?.disruptionsAllowed === 1;
    });
    const first = pod.spec?.nodeName ?? '';
    await core.patchNode(
      { name: first, body: { spec: { unschedulable: true } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    const evictedAt = Date.now();
    expect(await evict(pod)).toBe(201);

    const terminating = await core.readNamespacedPod({ name: pod.metadata?.name ?? '', namespace: 'ev' });
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    expect(terminating.metadata?.deletionGracePeriodSeconds).toBe(GRACE_SECONDS);
    await eventually('the evicted pod gone', async () => {
      try {
        await core.readNamespacedPod({ name: pod.metadata?.name ?? '', namespace: 'ev' });
        return false;
      } catch (error) {
        return error instanceof ApiException && error.code === 404;
      }
    });
    const gone = Date.now() - evictedAt;
    expect(gone).toBeGreaterThanOrEqual((GRACE_SECONDS * 1000) / SPEED - 300);
    expect(gone).toBeLessThan((GRACE_SECONDS * 1000) / SPEED + 5_000);

    const [replacement] = await eventually('the replacement running', async () => {
      const pods = await runningPods();
      return pods.length === 1 && pods[0]?.metadata?.uid !== pod.metadata?.uid && pods;
    });
    expect(replacement?.spec?.nodeName).not.toBe(first);
    expect(replacement?.metadata?.ownerReferences?.[0]?.kind).toBe('ReplicaSet');
    expect(replacement?.metadata?.ownerReferences?.[0]?.name).toBe(pod.metadata?.ownerReferences?.[0]?.name);
  }, 60_000);

  it('a drain SIGKILLed at its second level resumes there: the rerun deletes the PDB-held pod, never evicts it', async () => {
    for (const name of ['worker-a', 'worker-b']) {
      await core.patchNode({ name, body: { spec: { unschedulable: null } } }, MERGE);
    }
    await plane.createNamespace('crash');
    await plane.kubeConfig.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: 'crash',
      body: {
        metadata: { name: 'held' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'held' } },
          template: {
            metadata: { labels: { app: 'held' } },
            spec: {
              nodeSelector: { 'kubernetes.io/hostname': 'worker-a' },
              terminationGracePeriodSeconds: HELD_GRACE_SECONDS,
              containers: [{ name: 'main', image: 'busybox:1.37' }],
            },
          },
        },
      },
    });
    await policy.createNamespacedPodDisruptionBudget({
      namespace: 'crash',
      body: { metadata: { name: 'held' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'held' } } } },
    });
    const held = await eventually(
      'the held pod Running on worker-a, its budget allowing no disruption',
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: 'crash' })).items.filter(
          (p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp,
        );
        const pdb = await policy.readNamespacedPodDisruptionBudget({ name: 'held', namespace: 'crash' });
        const computed = pdb.status?.observedGeneration === 1 && pdb.status.currentHealthy === 1;
        return pods.length === 1 && computed && pdb.status?.disruptionsAllowed === 0 && pods[0];
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const name = held.metadata?.name ?? '';
    const dir = await mkdtemp(join(tmpdir(), 'hecate-drain-crash-'));
    try {
      const state = join(dir, 'outage.state');
      const readState = async (): Promise<OutageState | undefined> =>
        JSON.parse(await readFile(state, 'utf8').catch(() => 'null')) ?? undefined;
      const drain = async (user: string) => {
        const kubeconfig = await plane.writeKubeConfig(
          await plane.userKubeConfig(user, ['system:masters']),
          `${user}.kubeconfig`,
        );
        const options = { kubeconfig, state, node: 'worker-a', options: CRASH_OPTIONS };
        return spawnDrain({ DRAIN_CHILD: JSON.stringify(options) });
      };

      // the first run: kill it as soon as its state file says worker-a reached the second level
      const first = await drain(FIRST_RUN);
      let exited: number | string | undefined;
      void first.exited.then((code) => {
        exited = code;
      });
      const deadline = Date.now() + 60_000;
      let saved = (await readState())?.outage.drainLevels?.['worker-a'];
      while (exited === undefined && saved?.level !== 'disable-eviction' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        saved = (await readState())?.outage.drainLevels?.['worker-a'];
      }
      expect(exited, `the first run ended before disable-eviction:\n${first.output()}`).toBeUndefined();
      expect(saved, first.output()).toMatchObject({ level: 'disable-eviction', index: 1 });
      first.kill();
      expect(await first.exited).toBe('SIGKILL');
      // still there (terminating at most): otherwise the rerun would have nothing to show
      const before = await core.readNamespacedPod({ name, namespace: 'crash' });
      expect(before.metadata?.uid).toBe(held.metadata?.uid);

      const killedAt = Date.now();
      const second = await drain(SECOND_RUN);
      expect(await second.exited, second.output()).toBe(0);
      console.info(`Rerun after the kill: ${Date.now() - killedAt} ms; its reports:\n${second.output()}`);

      const events = await plane.readAudit();
      const onHeld = (user: string) =>
        requestsBy(events, user).filter(
          (e) => e.objectRef?.resource === 'pods' && e.objectRef.name === name && (isEviction(e) || isDelete(e)),
        );
      const firstRun = onHeld(FIRST_RUN);
      const log = [...firstRun, ...onHeld(SECOND_RUN)].map(describeEvent).join('\n');
      // the first run: 429s at evict for the level's time; a delete only at disable-eviction, after the timeout
      const evictions = firstRun.filter(isEviction);
      expect(evictions.length, log).toBeGreaterThanOrEqual(2);
      expect(
        evictions.every((e) => e.responseStatus?.code === 429),
        log,
      ).toBe(true);
      const firstDelete = firstRun.find(isDelete);
      if (firstDelete) {
        expect(at(firstDelete) - at(evictions[0] as AuditEvent), log).toBeGreaterThanOrEqual(LEVEL_MS - SLACK_MS);
      }
      // the rerun: its first request on the pod is the delete of the second level; no eviction is sent again
      expect(onHeld(SECOND_RUN).map(describeEvent), log).toEqual([`delete pods crash/${name} 200`]);
      expect(second.output()).toMatch(/^worker-a: resuming the drain at disable-eviction \(entered \d+s ago\)/m);

      await eventually('the held pod gone', async () =>
        core.readNamespacedPod({ name, namespace: 'crash' }).then(
          () => false,
          (error: unknown) => error instanceof ApiException && error.code === 404,
        ),
      );
      const outage = (await readState())?.outage;
      expect(outage?.drainLevels).toBeUndefined();
      expect(outage?.cordonedByHecate).toEqual(['worker-a']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 150_000);
});

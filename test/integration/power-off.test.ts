/**
 * Helper-pod power-off on the real control plane with the kubelet stand-in: the helper pod is scheduled on its node
 * (nodeName, every taint tolerated), "runs" the power-off script there (the stand-in's helper script pulls the plug a
 * moment after the helper starts, as stopping k3s does), the node's heartbeats stop and the real node-lifecycle
 * controller marks it NotReady; the executor waits for that except on the last node.
 */
import { CoreV1Api, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeNodes } from '../../adapters/kube/nodes.js';
import { HelperPodAccess, HelperPodError } from '../../adapters/node-access/helper-pod.js';
import { helperSelector } from '../../adapters/node-access/helper-pod-spec.js';
import { systemClock } from '../../adapters/system.js';
import { workersTogether } from '../../bed/e2e.js';
import { type ControlPlane, describeEvent, mutationsBy, requireBed, startControlPlane } from '../../bed/index.js';
import type { HelperOutcome } from '../../bed/kubelet/index.js';
import { eventually, type Simulators, startSimulators } from '../../bed/simulators.js';
import { outageRecord, type PowerPlanSpec } from '../../core/api/index.js';
import { compilePlan } from '../../core/plan/index.js';
import { runPlan } from '../../core/run/runner.js';
import { powerOffNode } from '../../core/steps/power.js';
import { atlasInput } from '../helpers/atlas.js';
import { MemoryStore, silentLogger } from '../helpers/fakes.js';

const bed = requireBed();
const HECATE = 'hecate-operator';
const NAMESPACE = 'hecate-system';
const IMAGE = 'docker.io/library/busybox:1.37';

describe.skipIf(!bed.ok)('helper-pod power-off on the real control plane', () => {
  let plane: ControlPlane;
  let sims: Simulators;
  let core: CoreV1Api;
  let access: HelperPodAccess;
  let spec: PowerPlanSpec;
  const poweredOffAt: string[] = [];
  /** What each node's power-off helper does; default: the host goes down. */
  const behaviour: Record<string, 'power-off' | 'fail'> = { 'worker-3': 'fail' };

  const helperScript = (pod: V1Pod): HelperOutcome | undefined => {
    const name = pod.metadata?.name ?? '';
    if (pod.metadata?.labels?.['hecate.dev/helper'] !== 'power-off' || name.endsWith('-stale')) return undefined;
    const node = pod.spec?.nodeName ?? '';
    if (behaviour[node] === 'fail') return { exitCode: 3, runSeconds: 0.5 };
    if (!poweredOffAt.includes(node)) {
      poweredOffAt.push(node);
      setTimeout(() => void sims.kubelet.powerOff(node), 300);
    }
    return { exitCode: 0, runSeconds: 600 };
  };

  beforeAll(async () => {
    const started = Date.now();
    plane = await startControlPlane({ nodeLifecycle: { nodeMonitorGracePeriod: '8s' } });
    sims = await startSimulators(
      plane.kubeConfig,
      [
        {
          name: 'cp-1',
          role: 'control-plane',
          taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
          images: [IMAGE],
        },
        { name: 'worker-1', role: 'worker', images: [IMAGE] },
        { name: 'worker-2', role: 'worker', taints: [{ key: 'dedicated', value: 'storage', effect: 'NoExecute' }] },
        { name: 'worker-3', role: 'worker' },
      ],
      { kubelet: { speed: 10, helperScript }, flux: false, longhorn: false },
    );
    const kc = await plane.userKubeConfig(HECATE, ['system:masters']);
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    access = new HelperPodAccess(kc, { helperImage: IMAGE, settleMs: 2_000, pollMs: 250 });
    const input = atlasInput();
    spec = {
      ...input.spec,
      helperImage: IMAGE,
      nodes: [
        { name: 'worker-1', role: 'worker', order: 1 },
        { name: 'worker-2', role: 'worker', order: 2 },
        { name: 'cp-1', role: 'control-plane', order: 1 },
      ],
      powerOff: { ...input.spec.powerOff, method: 'helper-pod', delayBetweenNodes: '1s' },
    };
    console.info(`Bed and stand-ins up in ${Date.now() - started} ms`);
  });
  afterAll(async () => {
    await sims?.stop();
    await plane?.stop();
  });

  const ready = (node: V1Node) => node.status?.conditions?.find((c) => c.type === 'Ready');

  it('powers off workers then the control plane: each recorded first, workers waited until NotReady, the last node not waited', async () => {
    // A crashed run's helper for worker-1 is still there: it must be removed before the new one is created.
    await plane.createNamespace(NAMESPACE);
    await core.createNamespacedPod({
      namespace: NAMESPACE,
      body: {
        metadata: {
          name: 'hecate-power-off-worker-1-stale',
          labels: {
            'app.kubernetes.io/managed-by': 'hecate',
            'hecate.dev/helper': 'power-off',
            'hecate.dev/node': 'worker-1',
          },
          annotations: { 'bed.hecate.dev/exit-code': '1' },
        },
        spec: { nodeName: 'worker-1', restartPolicy: 'Never', containers: [{ name: 'helper', image: IMAGE }] },
      },
    });
    const plan = compilePlan('shutdown', { ...atlasInput(), spec });
    const steps = plan.steps.filter((s) => s.kind === 'power-off-node');
    const store = new MemoryStore({ outage: outageRecord.parse({}) });
    const recordedAtCreate: boolean[] = [];
    const reports: string[] = [];
    const recording = {
      ensureImage: access.ensureImage.bind(access),
      powerOff: async (...args: Parameters<HelperPodAccess['powerOff']>) => {
        recordedAtCreate.push((await store.load())?.outage.poweredOff.includes(args[0].name) ?? false);
        return access.powerOff(...args);
      },
    };
    const run = () =>
      runPlan({
        plan: { ...plan, steps },
        action: 'shutdown',
        executors: {
          'power-off-node': powerOffNode(recording, new KubeNodes(plane.kubeConfig), spec, { intervalMs: 500 }),
        },
        store,
        clock: systemClock,
        logger: silentLogger,
        onEvent: (e) => (e.type === 'report' ? reports.push(`${e.step.id}: ${e.message}`) : undefined),
      });
    const started = Date.now();
    await run();
    console.info(`Power-off of 3 nodes (2 waited until NotReady) took ${Date.now() - started} ms`);

    // the workers go together (in any order), the control plane after them
    expect(workersTogether(poweredOffAt, ['worker-1', 'worker-2'])).toEqual(['worker-1', 'worker-2', 'cp-1']);
    expect(recordedAtCreate).toEqual([true, true, true]);
    expect(workersTogether(store.latest?.outage.poweredOff ?? [], ['worker-1', 'worker-2'])).toEqual([
      'worker-1',
      'worker-2',
      'cp-1',
    ]);
    for (const name of ['worker-1', 'worker-2']) {
      const node = await core.readNode({ name });
      expect(ready(node)).toMatchObject({ status: 'Unknown', reason: 'NodeStatusUnknown' });
    }
    expect(reports).toContain('power-off/cp-1: not waiting for cp-1: last node, the API goes with it');

    // The helpers as the API server holds them: pinned, privileged, hostPID, nsenter into PID 1.
    const helpers = (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: helperSelector('power-off') }))
      .items;
    expect(helpers.map((p) => p.spec?.nodeName).sort()).toEqual(['cp-1', 'worker-1', 'worker-2']);
    for (const pod of helpers) {
      expect(pod.spec?.hostPID).toBe(true);
      expect(pod.spec?.tolerations).toEqual([{ operator: 'Exists' }]);
      expect(pod.spec?.containers[0]?.securityContext?.privileged).toBe(true);
      expect(pod.spec?.containers[0]?.command?.slice(0, 3)).toEqual(['nsenter', '-t', '1']);
      expect(pod.spec?.containers[0]?.command?.at(-2)).toBe('systemctl');
    }
    const events = mutationsBy(await plane.readAudit(), HECATE).map(describeEvent);
    // worker-1's stale helper goes before its new one (worker-2's may be created first: the workers go together)
    const stale = events.indexOf('delete pods hecate-system/hecate-power-off-worker-1-stale 200');
    const creates = events.flatMap((e, i) => (e.startsWith('create pods') ? [i] : []));
    expect(creates).toHaveLength(3);
    expect(stale).toBeGreaterThanOrEqual(0);
    expect(stale).toBeLessThan(creates[1] ?? -1);

    // Once cp-1 is down too, a rerun from the same record sends nothing.
    await eventually('cp-1 NotReady', async () => ready(await core.readNode({ name: 'cp-1' }))?.status !== 'True', {
      timeoutMs: 45_000,
    });
    const before = mutationsBy(await plane.readAudit(), HECATE).length;
    await runPlan({
      plan: { ...plan, steps },
      action: 'shutdown',
      executors: { 'power-off-node': powerOffNode(recording, new KubeNodes(plane.kubeConfig), spec) },
      store: new MemoryStore({ outage: structuredClone(store.latest?.outage) as never }),
      clock: systemClock,
      logger: silentLogger,
    });
    expect(mutationsBy(await plane.readAudit(), HECATE)).toHaveLength(before);
  });

  it('fails with the exit code when the helper fails before the host goes down, and removes the helper', async () => {
    const error = await access.powerOff({ name: 'worker-3' }, ['systemctl', 'poweroff']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HelperPodError);
    expect((error as Error).message).toMatch(/on worker-3 failed: exit code 3/);
    const left = await core.listNamespacedPod({
      namespace: NAMESPACE,
      labelSelector: helperSelector('power-off', 'worker-3'),
    });
    expect(left.items).toEqual([]);
    expect(ready(await core.readNode({ name: 'worker-3' }))?.status).toBe('True');
  });

  it('in a dry run creates nothing (the pod is sent with dryRun=All)', async () => {
    const before = mutationsBy(await plane.readAudit(), HECATE).length;
    await access.powerOff({ name: 'worker-3' }, ['systemctl', 'poweroff'], { dryRun: true });
    const events = await plane.waitForAudit(
      (all) => all.some((e) => e.user === HECATE && e.dryRun && e.verb === 'create'),
      10_000,
    );
    expect(mutationsBy(events, HECATE)).toHaveLength(before);
  });
});

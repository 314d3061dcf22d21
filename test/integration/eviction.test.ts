/**
 * Eviction against the real API server and controllers: a PodDisruptionBudget with disruptionsAllowed 0 makes
 * the Eviction API answer 429; once the budget allows it, the evicted pod terminates after its (scaled) grace
 * period and the ReplicaSet's replacement is scheduled onto another node.
 */
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
import { type ControlPlane, requireBed, startControlPlane } from '../bed/index.js';
import { eventually, type Simulators, startSimulators } from '../bed/simulators.js';

const bed = requireBed();
const SPEED = 10;
const GRACE_SECONDS = 30;

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
});

/**
 * The kubelet stand-in against the real control plane: nodes register and stay Ready, the real scheduler places
 * pods that then run, graceful deletion takes the (scaled) grace period, helpers run to completion, and a node
 * powered off goes NotReady through the real node-lifecycle controller.
 */

import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubernetesListObject,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ControlPlane, requireBed, startControlPlane, upstreamCrdPath } from '../../bed/index.js';
import { KeyQueue, Watched } from '../../bed/informer.js';
import {
  HELPER_LABEL,
  helperOutcomeFromPod,
  isHelperPod,
  KUBELET_ANNOTATIONS,
  microTime,
  normalizeImage,
} from '../../bed/kubelet/index.js';
import { eventually, type Simulators, startSimulators } from '../../bed/simulators.js';

const bed = requireBed();
const SPEED = 10;

describe('kubelet stand-in, pure parts', () => {
  it.each([
    ['busybox:1.37', 'docker.io/library/busybox:1.37'],
    ['busybox', 'docker.io/library/busybox:latest'],
    ['fluxcd/flux:v2', 'docker.io/fluxcd/flux:v2'],
    ['registry.bstein.dev/infra/harbor-core:v2.14.1', 'registry.bstein.dev/infra/harbor-core:v2.14.1'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['ghcr.io/a/b@sha256:abc', 'ghcr.io/a/b@sha256:abc'],
  ])('names %s as containerd does: %s', (image, expected) => {
    expect(normalizeImage(image)).toBe(expected);
  });

  it.each([
    [{ metadata: { labels: { [HELPER_LABEL]: 'true' } } }, true],
    [{ metadata: { annotations: { [KUBELET_ANNOTATIONS.exitCode]: '1' } } }, true],
    [{ spec: { hostPID: true, restartPolicy: 'Never', containers: [] } }, true],
    [{ spec: { hostPID: true, restartPolicy: 'Always', containers: [] } }, false],
    [{ metadata: { labels: { app: 'web' } } }, false],
  ])('tells helper pods apart (%#)', (pod, helper) => {
    expect(isHelperPod(pod as V1Pod)).toBe(helper);
  });

  it('reads a helper outcome from annotations and a pull command', () => {
    const outcome = helperOutcomeFromPod({
      metadata: { annotations: { [KUBELET_ANNOTATIONS.exitCode]: '2', [KUBELET_ANNOTATIONS.runSeconds]: '0.5' } },
      spec: {
        containers: [
          {
            name: 'h',
            image: 'busybox',
            command: ['nsenter', '-t', '1', '--', 'crictl', 'pull', '-q', 'busybox:1.37'],
          },
        ],
      },
    });
    expect(outcome).toEqual({ exitCode: 2, runSeconds: 0.5, importImages: ['busybox:1.37'] });
  });

  it('writes MicroTime with exactly six fraction digits', () => {
    expect(microTime(new Date('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05.678000Z');
  });

  it('runs one job per key at a time and reruns a key marked dirty while it ran', async () => {
    const runs: string[] = [];
    let release: () => void = () => {};
    const queue = new KeyQueue(async (key) => {
      runs.push(`start ${key}`);
      if (key === 'a' && runs.length === 1) await new Promise<void>((resolve) => (release = resolve));
      runs.push(`end ${key}`);
    });
    queue.add('a');
    queue.add('a');
    queue.add('b');
    await new Promise((resolve) => setTimeout(resolve, 10));
    release();
    await new Promise((resolve) => setTimeout(resolve, 10));
    queue.close();
    expect(runs).toEqual(['start a', 'start b', 'end b', 'end a', 'start a', 'end a']);
  });
});

describe.skipIf(!bed.ok)('kubelet stand-in', () => {
  let plane: ControlPlane;
  let sims: Simulators;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  beforeAll(async () => {
    plane = await startControlPlane();
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    sims = await startSimulators(
      plane.kubeConfig,
      [
        {
          name: 'cp-1',
          role: 'control-plane',
          arch: 'arm64',
          taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
        },
        { name: 'worker-1', role: 'worker', arch: 'amd64', capacity: { cpu: '2', memory: '4Gi', pods: 20 } },
        { name: 'worker-2', role: 'worker', arch: 'arm64', images: ['busybox:1.37'] },
      ],
      { kubelet: { speed: SPEED }, flux: false, longhorn: false },
    );
    await plane.createNamespace('kt');
  });
  afterAll(async () => {
    await sims?.stop();
    await plane?.stop();
  });

  const ready = (node: V1Node) => node.status?.conditions?.find((c) => c.type === 'Ready');
  const podReady = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

  it('registers nodes with role, arch, taints and capacity, and keeps their Ready heartbeat and Lease fresh', async () => {
    const cp = await core.readNode({ name: 'cp-1' });
    expect(cp.metadata?.labels).toMatchObject({
      'node-role.kubernetes.io/control-plane': 'true',
      'kubernetes.io/arch': 'arm64',
      'kubernetes.io/os': 'linux',
      'kubernetes.io/hostname': 'cp-1',
    });
    expect(cp.spec?.taints).toContainEqual({ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' });
    const worker = await core.readNode({ name: 'worker-1' });
    expect(worker.metadata?.labels?.['node-role.kubernetes.io/worker']).toBe('true');
    expect(worker.status?.allocatable).toMatchObject({ cpu: '2', memory: '4Gi', pods: '20' });
    expect(ready(worker)).toMatchObject({ status: 'True', reason: 'KubeletReady' });
    const worker2 = await core.readNode({ name: 'worker-2' });
    expect(worker2.status?.images?.flatMap((i) => i.names)).toContain('docker.io/library/busybox:1.37');

    const coordination = plane.kubeConfig.makeApiClient(CoordinationV1Api);
    const first = await coordination.readNamespacedLease({ name: 'worker-1', namespace: 'kube-node-lease' });
    expect(first.spec?.holderIdentity).toBe('worker-1');
    const heartbeat = ready(worker)?.lastHeartbeatTime;
    await eventually('a renewed lease and a newer heartbeat', async () => {
      const lease = await coordination.readNamespacedLease({ name: 'worker-1', namespace: 'kube-node-lease' });
      const node = await core.readNode({ name: 'worker-1' });
      return (
        new Date(lease.spec?.renewTime ?? 0) > new Date(first.spec?.renewTime ?? 0) &&
        new Date(ready(node)?.lastHeartbeatTime ?? 0) > new Date(heartbeat ?? 0)
      );
    });
  });

  it('runs the pods the real scheduler places: Running, ready containers, pod and host IPs, a Deployment available', async () => {
    await apps.createNamespacedDeployment({
      namespace: 'kt',
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 3,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              terminationGracePeriodSeconds: 20,
              containers: [{ name: 'main', image: 'nginx:1.29', resources: { requests: { cpu: '10m' } } }],
            },
          },
        },
      },
    });
    const pods = await eventually('3 running web pods', async () => {
      const list = (await core.listNamespacedPod({ namespace: 'kt', labelSelector: 'app=web' })).items;
      return list.length === 3 && list.every((p) => p.status?.phase === 'Running' && podReady(p)) && list;
    });
    for (const pod of pods) {
      expect(['worker-1', 'worker-2']).toContain(pod.spec?.nodeName); // the control plane is tainted
      expect(pod.status?.podIP).toMatch(/^10\.42\.\d+\.\d+$/);
      expect(pod.status?.hostIP).toMatch(/^192\.168\.22\.\d+$/);
      expect(pod.status?.containerStatuses?.[0]).toMatchObject({ ready: true, started: true, restartCount: 0 });
      expect(pod.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(
        expect.arrayContaining(['PodScheduled=True', 'Initialized=True', 'ContainersReady=True', 'Ready=True']),
      );
    }
    await eventually('the Deployment available', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: 'kt' });
      return d.status?.availableReplicas === 3;
    });
    const node = pods[0]?.spec?.nodeName ?? '';
    expect(sims.kubelet.images(node)).toContain('docker.io/library/nginx:1.29');
  });

  it('removes a deleted pod after its grace period divided by the speed factor', async () => {
    const [pod] = (await core.listNamespacedPod({ namespace: 'kt', labelSelector: 'app=web' })).items;
    const name = pod?.metadata?.name ?? '';
    const started = Date.now();
    await core.deleteNamespacedPod({ name, namespace: 'kt' }); // 20 s grace → 2 s at speed 10
    const terminating = await core.readNamespacedPod({ name, namespace: 'kt' });
    expect(terminating.metadata?.deletionTimestamp).toBeDefined();
    await eventually('the pod gone', async () => {
      try {
        const p = await core.readNamespacedPod({ name, namespace: 'kt' });
        return p.metadata?.uid !== pod?.metadata?.uid;
      } catch {
        return true;
      }
    });
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_800);
    expect(elapsed).toBeLessThan(8_000);
  });

  it.each([
    { exitCode: 0, phase: 'Succeeded', reason: 'Completed' },
    { exitCode: 3, phase: 'Failed', reason: 'Error' },
  ])('runs a helper pod to completion with exit code $exitCode', async ({ exitCode, phase, reason }) => {
    const name = `helper-${exitCode}`;
    await core.createNamespacedPod({
      namespace: 'kt',
      body: {
        metadata: {
          name,
          labels: { [HELPER_LABEL]: 'true' },
          annotations: {
            [KUBELET_ANNOTATIONS.exitCode]: String(exitCode),
            [KUBELET_ANNOTATIONS.importImages]: exitCode === 0 ? 'registry.bstein.dev/infra/harbor-core:v2.14.1' : '',
          },
        },
        spec: {
          nodeName: 'worker-1',
          hostPID: true,
          restartPolicy: 'Never',
          containers: [{ name: 'helper', image: 'busybox:1.37', securityContext: { privileged: true } }],
        },
      },
    });
    const done = await eventually(`helper ${name} finished`, async () => {
      const p = await core.readNamespacedPod({ name, namespace: 'kt' });
      return (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') && p;
    });
    expect(done.status?.phase).toBe(phase);
    expect(done.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode, reason });
    if (exitCode === 0) {
      await eventually('the imported image in status.images', async () => {
        const node = await core.readNode({ name: 'worker-1' });
        return node.status?.images?.some((i) => i.names?.includes('registry.bstein.dev/infra/harbor-core:v2.14.1'));
      });
    }
  });

  it('restarts an informer that failed (its resource did not exist yet), and stays quiet once stopped', async () => {
    const custom = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    const failures: string[] = [];
    const api = { group: 'longhorn.io', version: 'v1beta2', plural: 'volumes', namespace: 'kt' };
    const watched = new Watched<KubernetesObject>(plane.kubeConfig, {
      name: 'volumes',
      path: '/apis/longhorn.io/v1beta2/namespaces/kt/volumes',
      list: () => custom.listNamespacedCustomObject(api) as Promise<KubernetesListObject<KubernetesObject>>,
      onChange: () => {},
      log: (message) => failures.push(message),
      backoffMs: { min: 100, max: 400 },
    });
    await watched.start();
    await eventually('a failure and a planned restart', () => failures.length > 0);
    await plane.installCrds([upstreamCrdPath('volumes.longhorn.io')]);
    await custom.createNamespacedCustomObject({
      ...api,
      body: { apiVersion: 'longhorn.io/v1beta2', kind: 'Volume', metadata: { name: 'v1' }, spec: {} },
    });
    await eventually('the informer recovered and saw the volume', () => watched.get('v1', 'kt') !== undefined, {
      timeoutMs: 10_000,
    });
    await watched.stop();
    const count = failures.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(failures.length).toBe(count);
  });

  it('tells a watcher which change was a deletion: only the delete of an object, not its create or update', async () => {
    const seen: string[] = [];
    const watched = new Watched<KubernetesObject>(plane.kubeConfig, {
      name: 'configmaps',
      path: '/api/v1/namespaces/kt/configmaps',
      list: () => core.listNamespacedConfigMap({ namespace: 'kt' }),
      onChange: (obj, deleted) => {
        if (obj.metadata?.name === 'watched-cm') seen.push(deleted ? 'deleted' : 'changed');
      },
    });
    await watched.start();
    try {
      await core.createNamespacedConfigMap({ namespace: 'kt', body: { metadata: { name: 'watched-cm' } } });
      await eventually('the create is seen', () => seen.length === 1);
      await core.patchNamespacedConfigMap(
        { namespace: 'kt', name: 'watched-cm', body: { data: { a: '1' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      await eventually('the update is seen', () => seen.length === 2);
      await core.deleteNamespacedConfigMap({ namespace: 'kt', name: 'watched-cm' });
      await eventually('the delete is seen', () => seen.length === 3);
    } finally {
      await watched.stop();
    }

    expect(seen).toEqual(['changed', 'changed', 'deleted']);
    expect(watched.get('watched-cm', 'kt')).toBeUndefined();
  });

  it('powers a node off: the real node-lifecycle controller marks it NotReady and taints it; on again: Ready, pods back', async () => {
    const node = 'worker-2';
    const before = (await core.listNamespacedPod({ namespace: 'kt', fieldSelector: `spec.nodeName=${node}` })).items;
    await sims.kubelet.powerOff(node);
    const down = await eventually(
      'node-lifecycle controller marks worker-2 Unknown and unreachable',
      async () => {
        const n = await core.readNode({ name: node });
        // NOTE: the controller adds the NoExecute and the NoSchedule taint in separate passes
        const unreachable = ['NoExecute', 'NoSchedule'].every((effect) =>
          n.spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable' && t.effect === effect),
        );
        return ready(n)?.status === 'Unknown' && unreachable && n;
      },
      { timeoutMs: 45_000 },
    );
    expect(ready(down)).toMatchObject({
      status: 'Unknown',
      reason: 'NodeStatusUnknown',
      message: 'Kubelet stopped posting node status.',
    });
    expect(down.spec?.taints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' }),
        expect.objectContaining({ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }),
      ]),
    );
    if (before.length > 0) {
      await eventually('its pods marked not ready by the controller', async () => {
        const pods = (await core.listNamespacedPod({ namespace: 'kt', fieldSelector: `spec.nodeName=${node}` })).items;
        return pods
          .filter((p) => !p.metadata?.deletionTimestamp && p.status?.phase === 'Running')
          .every((p) => !podReady(p));
      });
    }

    await sims.kubelet.powerOn(node);
    await eventually('worker-2 Ready without the unreachable taints', async () => {
      const n = await core.readNode({ name: node });
      return ready(n)?.status === 'True' && !n.spec?.taints?.some((t) => t.key.startsWith('node.kubernetes.io/'));
    });
    if (before.length > 0) {
      const back = await eventually('its pods Running and ready again, containers restarted', async () => {
        const pods = (await core.listNamespacedPod({ namespace: 'kt', fieldSelector: `spec.nodeName=${node}` })).items;
        const running = pods.filter((p) => p.status?.phase === 'Running');
        return running.length > 0 && running.every(podReady) && running;
      });
      const survivor = back.find((p) => before.some((b) => b.metadata?.uid === p.metadata?.uid));
      if (survivor) expect(survivor.status?.containerStatuses?.[0]?.restartCount).toBe(1);
    }
  }, 90_000);
});

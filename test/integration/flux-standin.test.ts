/**
 * The Flux stand-in against the real API server: a GitRepository served by Gitea is Ready only once Gitea's
 * Deployment is available; Kustomizations and HelmReleases follow their source, dependsOn and owned objects, and a
 * suspended object's Ready does not move.
 */
import { AppsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Condition,
  FLUX_KINDS,
  type FluxKind,
  type FluxObject,
  isReady,
  workloadHealthy,
} from '../../bed/flux.js';
import { type ControlPlane, requireBed, startControlPlane, upstreamCrdPaths } from '../../bed/index.js';
import { normalizeImage } from '../../bed/kubelet/index.js';
import { applyScenario, parseScenario } from '../../bed/scenario.js';
import { eventually, type Simulators, startSimulators } from '../../bed/simulators.js';

const bed = requireBed();
const GITEA_IMAGE = 'docker.gitea.com/gitea:1.24.6';

const scenario = parseScenario({
  name: 'flux',
  nodes: [{ name: 'worker-1', role: 'worker' }],
  workloads: [
    { kind: 'Deployment', namespace: 'gitea', name: 'gitea', image: GITEA_IMAGE },
    { kind: 'Deployment', namespace: 'apps', name: 'web', replicas: 2 },
    { kind: 'Deployment', namespace: 'harbor', name: 'harbor-core' },
    { kind: 'Deployment', namespace: 'infra', name: 'backend' },
  ],
  flux: {
    gitRepositories: [{ name: 'flux-system', url: 'ssh://git@scm.example/atlas.git', servedBy: 'gitea/gitea' }],
    helmRepositories: [{ name: 'harbor', url: 'https://helm.goharbor.io' }],
    helmReleases: [
      {
        name: 'harbor',
        namespace: 'harbor',
        chart: 'harbor',
        version: '1.18.1',
        sourceRef: 'harbor',
        owns: ['Deployment/harbor/harbor-core'],
      },
    ],
    kustomizations: [
      { name: 'gitea', path: './services/gitea', owns: ['Deployment/gitea/gitea'] },
      { name: 'infra', path: './infra', owns: ['Deployment/infra/backend'] },
      {
        name: 'apps',
        path: './apps',
        dependsOn: ['gitea', 'infra'],
        owns: ['Deployment/apps/web', 'ConfigMap/apps/missing'],
      },
      { name: 'frozen', path: './frozen', suspended: true },
    ],
  },
});

describe('Flux stand-in, pure parts', () => {
  it.each([
    [
      'Deployment',
      { replicas: 2 },
      { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
      true,
    ],
    [
      'Deployment',
      { replicas: 2 },
      { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1 },
      false,
    ],
    [
      'Deployment',
      { replicas: 1 },
      { observedGeneration: 1, replicas: 2, updatedReplicas: 1, availableReplicas: 1 },
      false,
    ],
    [
      'Deployment',
      { replicas: 1 },
      { observedGeneration: 0, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
      false,
    ],
    ['StatefulSet', { replicas: 1 }, { observedGeneration: 1, readyReplicas: 1, availableReplicas: 1 }, true],
    [
      'DaemonSet',
      {},
      { observedGeneration: 1, desiredNumberScheduled: 4, numberAvailable: 3, updatedNumberScheduled: 4 },
      false,
    ],
    [
      'DaemonSet',
      {},
      { observedGeneration: 1, desiredNumberScheduled: 4, numberAvailable: 4, updatedNumberScheduled: 4 },
      true,
    ],
  ])('judges a %s healthy like kstatus (%#)', (kind, spec, status, healthy) => {
    expect(workloadHealthy(kind, { metadata: { generation: 1 }, spec, status })).toBe(healthy);
  });

  it('counts Ready only for the current generation', () => {
    const ready = (observedGeneration: number) => ({
      metadata: { generation: 2 },
      status: { conditions: [{ type: 'Ready', status: 'True', observedGeneration }] },
    });
    expect(isReady(ready(2))).toBe(true);
    expect(isReady(ready(1))).toBe(false);
  });
});

describe.skipIf(!bed.ok)('Flux stand-in', () => {
  let plane: ControlPlane;
  let sims: Simulators;
  let custom: CustomObjectsApi;
  let giteaReachable = false;

  beforeAll(async () => {
    plane = await startControlPlane({ crds: upstreamCrdPaths() });
    custom = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    sims = await startSimulators(plane.kubeConfig, scenario.nodes, {
      // Gitea's image cannot be pulled until the test says so: its Deployment stays unavailable
      kubelet: { speed: 10, canPull: (image) => image !== normalizeImage(GITEA_IMAGE) || giteaReachable },
      longhorn: false,
    });
    await applyScenario(plane.kubeConfig, scenario);
  });
  afterAll(async () => {
    await sims?.stop();
    await plane?.stop();
  });

  const read = async (kind: FluxKind, namespace: string, name: string) => {
    const { group, version, plural } = FLUX_KINDS[kind];
    return (await custom.getNamespacedCustomObject({ group, version, plural, namespace, name })) as FluxObject;
  };
  const ready = (obj: FluxObject) =>
    (obj.status?.conditions as Condition[] | undefined)?.find((c) => c.type === 'Ready');

  it('keeps the GitRepository not Ready while Gitea is unavailable, with the reason and the dependants blocked', async () => {
    const git = await eventually('a GitRepository verdict', async () => {
      const g = await read('GitRepository', 'flux-system', 'flux-system');
      return ready(g) && g;
    });
    expect(ready(git)).toMatchObject({ status: 'False', reason: 'GitOperationFailed', observedGeneration: 1 });
    expect(ready(git)?.message).toMatch(/failed to checkout.*unable to clone 'ssh:\/\/git@scm\.example\/atlas\.git'/);
    const pod = await eventually('Gitea stuck pulling', async () => {
      const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
      const d = await apps.readNamespacedDeployment({ name: 'gitea', namespace: 'gitea' });
      return (d.status?.availableReplicas ?? 0) === 0 && d.status?.replicas === 1 && d;
    });
    expect(pod.status?.availableReplicas ?? 0).toBe(0);
    // several passes later (resync is 5 s) it is still not Ready
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(ready(await read('GitRepository', 'flux-system', 'flux-system'))?.status).toBe('False');
    expect(ready(await read('Kustomization', 'flux-system', 'gitea'))).toMatchObject({
      status: 'False',
      reason: 'ArtifactFailed',
    });
    expect(ready(await read('Kustomization', 'flux-system', 'apps'))).toMatchObject({
      status: 'False',
      reason: 'ArtifactFailed',
    });
  });

  it('turns the GitRepository Ready once Gitea is available, and the Kustomizations follow their dependencies', async () => {
    giteaReachable = true;
    const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
    const git = await eventually(
      'GitRepository Ready',
      async () => {
        const g = await read('GitRepository', 'flux-system', 'flux-system');
        return ready(g)?.status === 'True' && g;
      },
      { timeoutMs: 20_000 },
    );
    // not before: Gitea was available when the GitRepository turned Ready
    const gitea = await apps.readNamespacedDeployment({ name: 'gitea', namespace: 'gitea' });
    expect(gitea.status?.availableReplicas).toBe(1);
    const available = gitea.status?.conditions?.find((c) => c.type === 'Available');
    expect(Date.parse(ready(git)?.lastTransitionTime ?? '')).toBeGreaterThanOrEqual(
      new Date(available?.lastTransitionTime ?? 0).getTime(),
    );
    expect(git.status?.artifact?.revision).toMatch(/^main@sha1:[0-9a-f]{40}$/);
    expect(ready(git)).toMatchObject({ reason: 'Succeeded', observedGeneration: 1 });

    const ks = await eventually('Kustomization gitea Ready', async () => {
      const k = await read('Kustomization', 'flux-system', 'gitea');
      return ready(k)?.status === 'True' && k;
    });
    expect(ks.status?.lastAppliedRevision).toBe(git.status?.artifact?.revision);
    const appsKs = await eventually('Kustomization apps blocked by its missing object', async () => {
      const k = await read('Kustomization', 'flux-system', 'apps');
      return ready(k)?.reason === 'ReconciliationFailed' && k;
    });
    expect(ready(appsKs)?.message).toContain('ConfigMap/apps/missing not found');

    const harbor = await eventually('HelmRelease harbor Ready', async () => {
      const h = await read('HelmRelease', 'harbor', 'harbor');
      return ready(h)?.status === 'True' && h;
    });
    expect(ready(harbor)?.reason).toBe('InstallSucceeded');
  });

  it('leaves a suspended Kustomization alone; dependants report DependencyNotReady until it is resumed and Ready', async () => {
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const { group, version, plural } = FLUX_KINDS.Kustomization;
    const patchKs = (name: string, body: object) =>
      custom.patchNamespacedCustomObject({ group, version, plural, namespace: 'flux-system', name, body }, merge);
    expect((await read('Kustomization', 'flux-system', 'frozen')).status?.conditions ?? []).toEqual([]);
    // apps: drop the missing object, so only its dependency can block it
    await patchKs('apps', {
      metadata: {
        annotations: {
          'bed.hecate.dev/inventory': JSON.stringify([
            { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'apps', name: 'web' },
          ]),
        },
      },
    });
    await eventually('infra and apps Ready', async () => {
      const [infra, apps] = await Promise.all([
        read('Kustomization', 'flux-system', 'infra'),
        read('Kustomization', 'flux-system', 'apps'),
      ]);
      return ready(infra)?.status === 'True' && ready(apps)?.status === 'True';
    });

    await patchKs('infra', { spec: { suspend: true } });
    const suspended = await read('Kustomization', 'flux-system', 'infra');
    // a rollout that cannot finish: the new pod is unschedulable
    await plane.kubeConfig.makeApiClient(AppsV1Api).patchNamespacedDeployment(
      {
        name: 'backend',
        namespace: 'infra',
        body: { spec: { template: { spec: { nodeSelector: { 'kubernetes.io/hostname': 'nowhere' } } } } },
      },
      merge,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(ready(await read('Kustomization', 'flux-system', 'infra'))).toEqual(ready(suspended));
    // as kustomize-controller: suspending bumped infra's generation past its observedGeneration, so dependants wait
    const waiting = await eventually('apps DependencyNotReady on the suspended infra', async () => {
      const k = await read('Kustomization', 'flux-system', 'apps');
      return ready(k)?.reason === 'DependencyNotReady' && k;
    });
    expect(ready(waiting)?.message).toBe("dependency 'flux-system/infra' is not ready");

    await patchKs('infra', { spec: { suspend: false } });
    const infra = await eventually('infra not Ready', async () => {
      const k = await read('Kustomization', 'flux-system', 'infra');
      return ready(k)?.status !== 'True' && k;
    });
    expect(ready(infra)).toMatchObject({ status: 'Unknown', reason: 'Progressing', observedGeneration: 3 });
    expect(ready(infra)?.message).toContain("Deployment/infra/backend status: 'InProgress'");
    const apps = await eventually('apps DependencyNotReady', async () => {
      const k = await read('Kustomization', 'flux-system', 'apps');
      return ready(k)?.reason === 'DependencyNotReady' && k;
    });
    expect(ready(apps)).toMatchObject({ status: 'False', message: "dependency 'flux-system/infra' is not ready" });
  });
});

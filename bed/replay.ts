/**
 * What a rehearsal of a power event needs of the bed besides the stand-ins, apart from the CLI: the Git server the
 * repo snapshot is cloned from, the wait for the scenario to converge, and the power cut between shutdown and
 * startup. Shared by the end-to-end harness (./e2e.ts), the chaos runner and `hecate drill run` (./drill/).
 */
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { execa } from 'execa';
import { KubeFlux } from '../adapters/kube/flux.js';
import type { PowerPlanSpec } from '../core/api/index.js';
import { FLUX_ANNOTATIONS, FLUX_KINDS, type FluxObject } from './flux.js';
import type { ControlPlane } from './plane.js';
import type { RealNodes } from './real-node/index.js';
import type { Scenario } from './scenario.js';
import { eventually, type Simulators } from './simulators.js';
import { snapshotFiles } from './snapshot.js';

/** A running bed: its control plane, its stand-ins and the scenario they run. */
export interface PoweredBed {
  plane: ControlPlane;
  sims: Simulators;
  /** Real nodes beside the stand-ins: they lose power and boot too. */
  real?: RealNodes;
  scenario: Scenario;
}

/**
 * The bed's Git server: a bare repository the snapshot is a clone of (its origin), so that `prepare --execute`
 * refreshes the snapshot from the plan's Flux source URL as on a real control host. Returns that URL.
 */
export async function serveSnapshot(snapshot: string, bare: string): Promise<string> {
  const url = `file://${bare}`;
  const git = (...args: string[]) => execa('git', args, { env: { LC_ALL: 'C' } });
  await git('clone', '--quiet', '--bare', snapshot, bare);
  await git('-C', snapshot, 'remote', 'add', 'origin', url);
  await git('-C', snapshot, 'fetch', '--quiet', 'origin');
  await git('-C', snapshot, 'branch', '--quiet', '--set-upstream-to=origin/main', 'main');
  await git('-C', snapshot, 'remote', 'set-head', 'origin', 'main');
  return url;
}

/**
 * The snapshot is a clone of what the bed's Git server serves: every GitRepository of the scenario reports the
 * snapshot's commit as its artifact revision, as Flux would after fetching it (the way back compares the two).
 */
export async function serveRevision(kc: KubeConfig, scenario: Scenario, revision: string): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const annotations = { [FLUX_ANNOTATIONS.revision]: revision };
  for (const source of scenario.flux?.gitRepositories ?? []) {
    await custom.patchNamespacedCustomObject(
      {
        ...FLUX_KINDS.GitRepository,
        namespace: source.namespace ?? scenario.flux?.namespace ?? 'flux-system',
        name: source.name,
        body: { metadata: { annotations } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

/** Every Flux object Ready and every workload's pods running: the cluster before the power event. */
export async function waitConverged(plane: ControlPlane, scenario: Scenario): Promise<void> {
  const flux = new KubeFlux(plane.kubeConfig);
  const fluxNs = scenario.flux?.namespace ?? 'flux-system';
  for (const source of scenario.flux?.gitRepositories ?? []) {
    await eventually(
      `the Flux source ${source.name} to be Ready${source.servedBy ? ` (${source.servedBy} serving)` : ''}`,
      async () => {
        if (source.suspended) return true;
        const found = await flux.source('GitRepository', source.namespace ?? fluxNs, source.name);
        if (found?.ready) return true;
        // the timeout says why: the source's own message, and the serving Deployment's pods and their nodes
        throw new Error(
          `${found ? `not Ready: ${found.message ?? '(no message)'}` : 'not found'}${source.servedBy ? `; ${await servingState(plane, source.servedBy)}` : ''}`,
        );
      },
      { timeoutMs: 150_000, intervalMs: 500 },
    );
  }
  await eventually(
    'every Kustomization and HelmRelease to be Ready',
    async () => {
      const objects = await listFlux(plane, 'Kustomization').then(async (k) => [
        ...k,
        ...(await listFlux(plane, 'HelmRelease')),
      ]);
      return objects.every((o) => o.spec?.suspend || o.status?.conditions?.some(readyTrue));
    },
    { timeoutMs: 90_000 },
  );
}

/** `namespace/name` Deployment's replicas, and each of its pods' phase and node, with each node's readiness. */
async function servingState(plane: ControlPlane, ref: string): Promise<string> {
  const [namespace = '', name = ''] = ref.split('/');
  try {
    const deployment = await plane.kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment({ name, namespace });
    const { replicas = 0, readyReplicas = 0, availableReplicas = 0 } = deployment.status ?? {};
    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: selector })).items;
    const nodes = new Map(
      (await core.listNode()).items.map((n) => [
        n.metadata?.name ?? '',
        n.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? '?',
      ]),
    );
    const each = pods.map((p) => {
      const node = p.spec?.nodeName;
      return `${p.metadata?.name} ${p.metadata?.deletionTimestamp ? 'Terminating' : p.status?.phase} on ${node ? `${node} (Ready ${nodes.get(node) ?? '?'})` : 'no node'}`;
    });
    return `Deployment ${ref}: ${replicas} replica(s), ${readyReplicas} ready, ${availableReplicas} available; pods: ${each.join(', ') || 'none'}`;
  } catch (error) {
    return `Deployment ${ref}: ${error instanceof Error ? error.message : String(error)}`;
  }
}

const readyTrue = (c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True';

export async function listFlux(plane: ControlPlane, kind: keyof typeof FLUX_KINDS): Promise<FluxObject[]> {
  const { group, version, plural } = FLUX_KINDS[kind];
  const list = (await plane.kubeConfig
    .makeApiClient(CustomObjectsApi)
    .listClusterCustomObject({ group, version, plural })) as { items: FluxObject[] };
  return list.items;
}

/** `Kind/namespace/name` of every suspended Kustomization and HelmRelease. */
export async function suspendedFlux(plane: ControlPlane): Promise<string[]> {
  const all = [
    ...(await listFlux(plane, 'Kustomization')).map((o) => ({ kind: 'Kustomization', o })),
    ...(await listFlux(plane, 'HelmRelease')).map((o) => ({ kind: 'HelmRelease', o })),
  ];
  return all
    .filter(({ o }) => o.spec?.suspend === true)
    .map(({ kind, o }) => `${kind}/${o.metadata?.namespace}/${o.metadata?.name}`)
    .sort();
}

/**
 * The power cut between shutdown and startup: every node loses power, the chain's workloads (Gitea among them) do
 * not come back by themselves, the nodes boot, and Flux's source is down until the chain is applied.
 */
export async function powerCut(e2e: PoweredBed, spec: PowerPlanSpec): Promise<void> {
  for (const node of e2e.sims.kubelet.nodeNames) await e2e.sims.kubelet.powerOff(node);
  // NOTE: a real node the plan powered off is off already; one still on loses power now
  for (const node of e2e.real?.nodes ?? []) await node.powerOff();
  const apps = e2e.plane.kubeConfig.makeApiClient(AppsV1Api);
  const chainPaths = new Set(spec.bootstrapChain.map((s) => s.path.replace(/^\.\//, '')));
  for (const [path, objects] of snapshotFiles(e2e.scenario)) {
    if (!chainPaths.has(path.replace(/^\.\//, ''))) continue;
    for (const o of objects) {
      const { namespace = '', name = '' } = o.metadata as { namespace?: string; name?: string };
      const ref = { namespace, name };
      const gone = () => undefined;
      if (o.kind === 'Deployment') await apps.deleteNamespacedDeployment(ref).catch(gone);
      if (o.kind === 'StatefulSet') await apps.deleteNamespacedStatefulSet(ref).catch(gone);
      if (o.kind === 'DaemonSet') await apps.deleteNamespacedDaemonSet(ref).catch(gone);
    }
  }
  for (const node of e2e.sims.kubelet.nodeNames) await e2e.sims.kubelet.powerOn(node);
  for (const node of e2e.real?.nodes ?? []) await node.boot();
  const flux = new KubeFlux(e2e.plane.kubeConfig);
  await eventually(
    'the Flux source to go down with Gitea',
    async () => (await flux.source(spec.flux.source.kind, spec.flux.namespace, spec.flux.source.name))?.ready === false,
    { timeoutMs: 60_000 },
  );
}

import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { PowerPlanSpec } from '../../core/api/index.js';
import type { FluxKind, Observed } from '../../core/ports/index.js';
import { within } from '../within.js';
import { toFluxObject } from './flux.js';
import { toNodeView } from './nodes.js';

const FLUX = {
  Kustomization: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
  HelmRelease: { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' },
} as const satisfies Record<FluxKind, unknown>;

const SOURCE_PLURAL = {
  GitRepository: 'gitrepositories',
  OCIRepository: 'ocirepositories',
  Bucket: 'buckets',
} as const;

async function listFlux(kc: KubeConfig, kind: FluxKind) {
  const api = kc.makeApiClient(CustomObjectsApi);
  const list = (await api.listClusterCustomObject(FLUX[kind])) as { items?: unknown[] };
  return (list.items ?? []).map((item) => toFluxObject(kind, item));
}

async function sourceStatus(kc: KubeConfig, spec: PowerPlanSpec) {
  const { source, namespace } = spec.flux;
  const api = kc.makeApiClient(CustomObjectsApi);
  const obj = (await api.getNamespacedCustomObject({
    group: 'source.toolkit.fluxcd.io',
    version: 'v1',
    plural: SOURCE_PLURAL[source.kind],
    namespace,
    name: source.name,
  })) as { status?: { artifact?: { revision?: string }; conditions?: { type?: string; status?: string }[] } };
  const ready = obj.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
  const revision = obj.status?.artifact?.revision;
  return { sourceReady: ready, ...(revision ? { sourceRevision: revision } : {}) };
}

async function observeAll(kc: KubeConfig, spec: PowerPlanSpec): Promise<Observed> {
  const core = kc.makeApiClient(CoreV1Api);
  const nodes = await core.listNode();
  const [kustomizations, helmReleases, source] = await Promise.all([
    listFlux(kc, 'Kustomization').catch(() => undefined),
    listFlux(kc, 'HelmRelease').catch(() => undefined),
    sourceStatus(kc, spec).catch(() => ({ sourceReady: false })),
  ]);
  const objects = kustomizations && helmReleases ? [...kustomizations, ...helmReleases] : undefined;
  return {
    api: 'reachable',
    flux: { ...source, ...(objects ? { objects } : {}) },
    nodes: nodes.items.map((n) => {
      const { name, ready, unschedulable, readySince, bootId } = toNodeView(n);
      return { name, ready, unschedulable, ...(readySince ? { readySince } : {}), ...(bootId ? { bootId } : {}) };
    }),
  };
}

/**
 * What the cluster says now, for compiling a plan. Never throws: an unreachable API gives `api: 'unreachable'`
 * within `timeoutMs`.
 */
export async function observeCluster(kc: KubeConfig, spec: PowerPlanSpec, timeoutMs = 5_000): Promise<Observed> {
  const observed = await within(
    timeoutMs,
    observeAll(kc, spec).catch(() => undefined),
  );
  return observed ?? { api: 'unreachable' };
}

import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type {
  ChangeFeed,
  FluxKind,
  FluxObject,
  FluxObjectRef,
  FluxPort,
  MutationOptions,
} from '../../core/ports/index.js';
import { isNotFound } from './errors.js';
import { objectWatch, watchFeed } from './watch-feed.js';

export const FLUX_APIS = {
  Kustomization: { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' },
  HelmRelease: { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' },
} as const satisfies Record<FluxKind, unknown>;

const SOURCE_APIS: Record<string, { group: string; version: string; plural: string }> = {
  GitRepository: { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'gitrepositories' },
  OCIRepository: { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'ocirepositories' },
  Bucket: { group: 'source.toolkit.fluxcd.io', version: 'v1', plural: 'buckets' },
};

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Conditioned {
  status?: { artifact?: { revision?: string }; conditions?: { type?: string; status?: string; message?: string }[] };
}

/** FluxPort on client-node: merge patches of `spec.suspend` and the reconcile annotation. */
export class KubeFlux implements FluxPort {
  private readonly api: CustomObjectsApi;

  constructor(private readonly kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  /** Every Kustomization and HelmRelease, and the source: the Flux-ready wait looks again on each event. */
  watch(source: { kind: string; namespace: string; name: string }): Promise<ChangeFeed> {
    const path = ({ group, version, plural }: { group: string; version: string; plural: string }) =>
      `/apis/${group}/${version}/${plural}`;
    const api = SOURCE_APIS[source.kind];
    const sourceWatch = api
      ? [objectWatch(`/apis/${api.group}/${api.version}/namespaces/${source.namespace}/${api.plural}/${source.name}`)]
      : [];
    return watchFeed(this.kc, [
      { path: path(FLUX_APIS.Kustomization) },
      { path: path(FLUX_APIS.HelmRelease) },
      ...sourceWatch,
    ]);
  }

  async list(kind: FluxKind): Promise<FluxObject[]> {
    const list = (await this.api.listClusterCustomObject(FLUX_APIS[kind])) as { items?: unknown[] };
    return (list.items ?? []).map((item) => toFluxObject(kind, item));
  }

  async setSuspended(ref: FluxObjectRef, suspended: boolean, options: MutationOptions = {}): Promise<void> {
    await this.patch(ref, { spec: { suspend: suspended ? true : null } }, options);
  }

  async requestReconcile(ref: FluxObjectRef, at: Date, options: MutationOptions = {}): Promise<void> {
    await this.patch(
      ref,
      { metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': at.toISOString() } } },
      options,
    );
  }

  async source(kind: string, namespace: string, name: string) {
    const api = SOURCE_APIS[kind];
    if (!api) throw new Error(`unknown Flux source kind ${kind}`);
    try {
      const obj = (await this.api.getNamespacedCustomObject({ ...api, namespace, name })) as Conditioned;
      const ready = obj.status?.conditions?.find((c) => c.type === 'Ready');
      const revision = obj.status?.artifact?.revision;
      return {
        ready: ready?.status === 'True',
        ...(revision ? { revision } : {}),
        ...(ready?.message ? { message: ready.message } : {}),
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async patch(ref: FluxObjectRef, body: object, options: MutationOptions): Promise<void> {
    await this.api.patchNamespacedCustomObject(
      {
        ...FLUX_APIS[ref.kind],
        namespace: ref.namespace,
        name: ref.name,
        body,
        fieldManager: 'hecate',
        ...(options.dryRun ? { dryRun: 'All' } : {}),
      },
      MERGE_PATCH,
    );
  }
}

/**
 * Reads a Flux object as the API returns it (plain JSON, kustomize.toolkit.fluxcd.io/v1 or
 * helm.toolkit.fluxcd.io/v2). NOTE: a dependsOn entry without a namespace means the object's own namespace. `ready`
 * is true only when Ready is True for the current generation.
 */
export function toFluxObject(kind: FluxKind, raw: unknown): FluxObject {
  const obj = (raw ?? {}) as {
    metadata?: { name?: string; namespace?: string; generation?: number };
    spec?: { suspend?: boolean; dependsOn?: { name?: string; namespace?: string }[] };
    status?: {
      observedGeneration?: number;
      conditions?: { type?: string; status?: string; observedGeneration?: number }[];
    };
  };
  const namespace = obj.metadata?.namespace ?? 'default';
  const condition = obj.status?.conditions?.find((c) => c.type === 'Ready');
  // NOTE: a Ready condition from before the latest spec change (e.g. the resume that just cleared spec.suspend) is
  // stale: it counts only once the controller has observed the object's current generation (kstatus).
  const generation = obj.metadata?.generation;
  const observed = [obj.status?.observedGeneration, condition?.observedGeneration].filter((g) => g !== undefined);
  const stale = generation !== undefined && observed.some((g) => g !== generation);
  const ready = condition?.status === 'True' && stale ? 'Unknown' : condition?.status;
  return {
    kind,
    namespace,
    name: obj.metadata?.name ?? '',
    suspended: obj.spec?.suspend === true,
    dependsOn: (obj.spec?.dependsOn ?? [])
      .filter((d) => d.name)
      .map((d) => ({ namespace: d.namespace ?? namespace, name: d.name ?? '' })),
    ...(ready === undefined ? {} : { ready: ready === 'True' }),
  };
}

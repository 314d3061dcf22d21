/** What the engine needs to know about a Flux object: identity, suspension and its dependsOn edges. */
export type FluxKind = 'Kustomization' | 'HelmRelease';

export interface FluxObjectRef {
  kind: FluxKind;
  namespace: string;
  name: string;
}

export interface FluxObject extends FluxObjectRef {
  suspended: boolean;
  /** dependsOn targets of the same kind, with the namespace already defaulted to the object's own. */
  dependsOn: { namespace: string; name: string }[];
  ready?: boolean;
}

/** `Kind/namespace/name`: the key used in the outage record and in messages. */
export function fluxKey(ref: FluxObjectRef): string {
  return `${ref.kind}/${ref.namespace}/${ref.name}`;
}

/** Parses a key written by {@link fluxKey}; undefined when it is not one. */
export function parseFluxKey(key: string): FluxObjectRef | undefined {
  const [kind, namespace, name, ...rest] = key.split('/');
  if (rest.length > 0 || !namespace || !name) return undefined;
  if (kind !== 'Kustomization' && kind !== 'HelmRelease') return undefined;
  return { kind, namespace, name };
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

/**
 * Reading a Flux Kustomization (kustomize.toolkit.fluxcd.io/v1, v1beta2) for the chain, pure: the same view from a
 * snapshot file or from the cluster.
 */
import type { FluxKustomizationView, ObjectKey, SubstituteFrom } from '../core/ports/chain.js';

export const KUSTOMIZATION_GROUP = 'kustomize.toolkit.fluxcd.io';

/** Spec fields with an effect on what Flux applies that the chain does not replicate (a warning names them). */
const UNSUPPORTED = [
  'targetNamespace',
  'namePrefix',
  'nameSuffix',
  'patches',
  'patchesStrategicMerge',
  'patchesJson6902',
  'images',
  'components',
  'commonMetadata',
  'decryption',
] as const;

interface RawKustomization {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown };
  spec?: Record<string, unknown>;
}

export function isFluxKustomization(doc: unknown): boolean {
  const raw = doc as RawKustomization | null;
  return (
    typeof raw?.apiVersion === 'string' &&
    raw.apiVersion.startsWith(`${KUSTOMIZATION_GROUP}/`) &&
    raw.kind === 'Kustomization'
  );
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function healthChecks(value: unknown, namespace: string): ObjectKey[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: Record<string, unknown>) => {
    const kind = str(item?.kind);
    const name = str(item?.name);
    if (!kind || !name) return [];
    const apiVersion = str(item.apiVersion);
    return [{ kind, name, namespace: str(item.namespace) ?? namespace, ...(apiVersion ? { apiVersion } : {}) }];
  });
}

function substituteFrom(value: unknown): SubstituteFrom[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: Record<string, unknown>) => {
    const kind = item?.kind;
    const name = str(item?.name);
    if ((kind !== 'ConfigMap' && kind !== 'Secret') || !name) return [];
    return [{ kind, name, ...(item.optional === true ? { optional: true } : {}) }];
  });
}

function stringMap(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : String(v)]));
}

/**
 * The chain's view of a Kustomization; `defaultNamespace` stands in when the document has none. NOTE: a health
 * check without a namespace means the Kustomization's own, as in Flux.
 */
export function toKustomizationView(doc: unknown, from: string, defaultNamespace: string): FluxKustomizationView {
  const raw = doc as RawKustomization;
  const namespace = str(raw.metadata?.namespace) ?? defaultNamespace;
  const spec = raw.spec ?? {};
  const postBuild = (spec.postBuild ?? {}) as Record<string, unknown>;
  const unsupported = UNSUPPORTED.filter((field) => {
    const value = spec[field];
    return value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0) && value !== '';
  });
  const path = str(spec.path);
  return {
    namespace,
    name: str(raw.metadata?.name) ?? '',
    ...(path ? { path } : {}),
    postBuild: {
      substitute: stringMap(postBuild.substitute),
      substituteFrom: substituteFrom(postBuild.substituteFrom),
    },
    healthChecks: healthChecks(spec.healthChecks, namespace),
    wait: spec.wait === true,
    unsupported: [...unsupported],
    from,
  };
}

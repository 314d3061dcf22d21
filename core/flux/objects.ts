/** Flux objects' keys: `Kind/namespace/name`, as the outage record and messages name them. */
import type { FluxObjectRef } from '../ports/index.js';

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

import type { FluxObject, FluxObjectRef } from '../ports/index.js';
import { fluxKey } from './objects.js';

/** A dependsOn cycle: no order can honour it. */
export class DependencyCycleError extends Error {
  override readonly name = 'DependencyCycleError';
  constructor(readonly cycle: readonly string[]) {
    super(`dependsOn cycle: ${cycle.join(' → ')}`);
  }
}

/**
 * Suspend order: the root Kustomization first (so it cannot re-apply the others while they are suspended), then
 * the other Kustomizations, then HelmReleases. Objects already suspended are left out: they are not Hecate's.
 */
export function suspendOrder(root: FluxObjectRef, objects: readonly FluxObject[]): FluxObject[] {
  const isRoot = (o: FluxObject) => fluxKey(o) === fluxKey(root);
  const active = objects.filter((o) => !o.suspended);
  const byName = (a: FluxObject, b: FluxObject) => fluxKey(a).localeCompare(fluxKey(b));
  return [
    ...active.filter(isRoot),
    ...active.filter((o) => o.kind === 'Kustomization' && !isRoot(o)).sort(byName),
    ...active.filter((o) => o.kind === 'HelmRelease').sort(byName),
  ];
}

/**
 * Resume order for the objects Hecate suspended: the root first (it re-applies the definitions of the others),
 * then Kustomizations, then HelmReleases, each in dependsOn order (dependencies before dependents; ties keep the
 * order of `toResume`). Dependencies outside `toResume` are already running and impose no order.
 */
export function resumeOrder(root: FluxObjectRef, toResume: readonly FluxObject[]): FluxObject[] {
  const isRoot = (o: FluxObject) => fluxKey(o) === fluxKey(root);
  return [
    ...toResume.filter(isRoot),
    ...dependencyOrder(toResume.filter((o) => o.kind === 'Kustomization' && !isRoot(o))),
    ...dependencyOrder(toResume.filter((o) => o.kind === 'HelmRelease')),
  ];
}

/** Stable topological sort of objects of one kind by their dependsOn edges; throws on a cycle. */
export function dependencyOrder(objects: readonly FluxObject[]): FluxObject[] {
  const byKey = new Map(objects.map((o) => [`${o.namespace}/${o.name}`, o]));
  const done = new Set<string>();
  const visiting: string[] = [];
  const out: FluxObject[] = [];
  const visit = (key: string): void => {
    const object = byKey.get(key);
    if (!object || done.has(key)) return;
    if (visiting.includes(key)) throw new DependencyCycleError([...visiting.slice(visiting.indexOf(key)), key]);
    visiting.push(key);
    for (const dep of object.dependsOn) visit(`${dep.namespace}/${dep.name}`);
    visiting.pop();
    done.add(key);
    out.push(object);
  };
  for (const key of byKey.keys()) visit(key);
  return out;
}

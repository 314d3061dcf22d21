import type { RepoDocument } from '../ports/index.js';
import { FLUX_NAMESPACE, idOf, type RepoModel } from './model.js';
import { joinPath } from './paths.js';

/** Hops followed up a chain of kustomization.yaml files; a longer chain is a loop. */
const MAX_CHAIN = 32;

/** Which kustomization.yaml lists each path (a file, or a folder with its own kustomization.yaml); the first wins. */
function includers(model: RepoModel): Map<string, { dir: string; namespace?: string }> {
  const out = new Map<string, { dir: string; namespace?: string }>();
  for (const config of model.kustomizeConfigs.values()) {
    for (const entry of config.resources) {
      const path = joinPath(config.dir, entry);
      if (!out.has(path)) out.set(path, config);
    }
  }
  return out;
}

const cache = new WeakMap<RepoModel, ReturnType<typeof includers>>();

/**
 * The namespace kustomize gives `doc` when it is built from outside its own folder: the outermost `namespace:` of
 * the chain of kustomization.yaml files that include its file, else its own `metadata.namespace`, else flux-system.
 * Used where no root reaches the object yet (a FluxInstance that defines a root); reached objects get theirs from
 * the build itself (reach.ts), where a parent Kustomization's targetNamespace also applies.
 */
export function includedNamespace(model: RepoModel, doc: RepoDocument): string {
  let map = cache.get(model);
  if (!map) {
    map = includers(model);
    cache.set(model, map);
  }
  let namespace: string | undefined;
  let target = doc.file;
  for (let hop = 0; hop < MAX_CHAIN; hop++) {
    const config = map.get(target);
    if (!config) break;
    namespace = config.namespace ?? namespace;
    target = config.dir;
  }
  return namespace ?? idOf(doc, FLUX_NAMESPACE).namespace;
}

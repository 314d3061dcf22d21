import type { GitDeadlock, RegistryFinding, Undecided } from './findings.js';
import { type DependencyGraph, type Edge, edgesFrom } from './graph.js';
import type { FluxKustomization } from './model.js';
import { ksKey } from './model.js';

/** One Kustomization of the derived bootstrap chain. */
export interface ChainEntry {
  key: string;
  namespace: string;
  name: string;
  /** Repo-relative path without "./". */
  path: string;
  layer: number;
  /** Why it is in the chain: the edges from the Git server's Kustomization down to it. */
  because: string[];
}

/** Where the registry seed goes: after the registry's dependencies, before anything that pulls from it. */
export interface SeedStage {
  host: string;
  kustomization: string;
  /** The chain stages that must run before seeding (the registry's dependencies in the chain). */
  after: string[];
  /** Index in `stages` before which the seed runs; `stages.length` means after the whole chain. */
  position: number;
  /** Registry dependencies that are not in the chain: Flux applies them once the Git source is back. */
  outsideChain: string[];
}

export interface DerivedChain {
  stages: ChainEntry[];
  seed?: SeedStage;
  undecided: Undecided[];
}

/** Breadth-first from the roots: each reached node with the path of edges that reached it first. */
function reach(graph: DependencyGraph, roots: string[]): Map<string, Edge[]> {
  const out = edgesFrom(graph);
  const paths = new Map<string, Edge[]>(roots.map((r) => [r, []]));
  const queue = [...roots];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const edge of out.get(node) ?? []) {
      if (paths.has(edge.to)) continue;
      paths.set(edge.to, [...(paths.get(node) ?? []), edge]);
      queue.push(edge.to);
    }
  }
  return paths;
}

function layerIndex(graph: DependencyGraph): Map<string, number> {
  return new Map(graph.layers.flatMap((layer, i) => layer.map((key) => [key, i] as [string, number])));
}

function describePath(edges: Edge[]): string[] {
  return edges.map((e) => (e.kind === 'dependsOn' ? e.reason : `${e.from} → ${e.to}: ${e.reason}`));
}

/**
 * The minimal bootstrap chain: the Kustomizations that serve the self-hosted sources, and everything they need,
 * transitively, in dependency order (layer, then name). The registry seed goes after the registry's
 * dependencies; when a chain member pulls from the registry, the registry and its needs join the chain and
 * the seed moves in front of the registry.
 */
export function deriveChain(
  graph: DependencyGraph,
  kustomizations: readonly FluxKustomization[],
  git: readonly GitDeadlock[],
  registries: readonly RegistryFinding[],
): DerivedChain {
  const roots = [...new Set(git.map((d) => d.kustomization))];
  let members = reach(graph, roots);
  const registry = registries.find((r) => r.deadlock);
  const pullsInChain = registry?.pulls.filter((p) => members.has(p.site.owner ?? '')) ?? [];
  if (registry && pullsInChain.length > 0) members = reach(graph, [...roots, registry.kustomization]);
  const layers = layerIndex(graph);
  const byKey = new Map(kustomizations.map((k) => [ksKey(k), k]));
  const undecided: Undecided[] = [];
  const stages = [...members.keys()]
    .sort((a, b) => (layers.get(a) ?? Infinity) - (layers.get(b) ?? Infinity) || a.localeCompare(b))
    .map((key) => {
      if (!layers.has(key))
        undecided.push({
          subject: `where ${key} goes in the chain`,
          reason: 'it is in a dependency cycle, so no order exists',
        });
      const ks = byKey.get(key);
      return {
        key,
        namespace: ks?.namespace ?? '',
        name: ks?.name ?? key,
        path: ks?.path ?? '',
        layer: layers.get(key) ?? -1,
        because: describePath(members.get(key) ?? []),
      };
    });
  if (registry && pullsInChain.length > 0) hoistRegistry(graph, stages, registry, pullsInChain);
  const derived: DerivedChain = { stages, undecided };
  if (registry) derived.seed = seedStage(graph, registry, stages, pullsInChain.length > 0);
  return derived;
}

/**
 * NOTE: pulling from a registry is not a graph edge (it would make every registry deadlock a cycle), so the
 * sort alone may put a puller before the registry: move the registry and its needs in front of the first puller.
 */
function hoistRegistry(
  graph: DependencyGraph,
  stages: ChainEntry[],
  registry: RegistryFinding,
  pulls: { site: { owner?: string } }[],
): void {
  const pullers = new Set(pulls.map((p) => p.site.owner));
  const first = stages.findIndex((s) => pullers.has(s.key));
  const needed = new Set(reach(graph, [registry.kustomization]).keys());
  const tail = stages.splice(first);
  stages.push(...tail.filter((s) => needed.has(s.key)), ...tail.filter((s) => !needed.has(s.key)));
}

function seedStage(
  graph: DependencyGraph,
  registry: RegistryFinding,
  stages: ChainEntry[],
  inChain: boolean,
): SeedStage {
  const needs = reach(graph, [registry.kustomization]);
  needs.delete(registry.kustomization);
  const keys = stages.map((s) => s.key);
  const position = inChain ? keys.indexOf(registry.kustomization) : stages.length;
  return {
    host: registry.host,
    kustomization: registry.kustomization,
    after: keys.filter((k) => needs.has(k)),
    position,
    outsideChain: [...needs.keys()].filter((k) => !keys.includes(k)).sort(),
  };
}

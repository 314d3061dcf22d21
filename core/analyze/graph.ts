import type { DeployIndex } from './deploy.js';
import { asString, dig, type Location } from './input.js';
import { ksKey, type RepoModel } from './model.js';

export type EdgeKind =
  | 'dependsOn'
  | 'namespace'
  | 'crd'
  | 'source'
  | 'helmrelease'
  | 'storage'
  | 'database'
  | 'service';

/** `from` needs `to` Ready first: a dependsOn, or what one of `from`'s objects requires (implied). */
export interface Edge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** Human reason, such as "Ingress gitea/gitea is in namespace gitea, created by core". */
  reason: string;
  where: Location;
  /** Inferred from what a workload uses at run time (needs.ts), not from what Flux must apply first. */
  inferred?: boolean;
  /** The field an inferred edge was read from. */
  field?: string;
}

export interface Cycle {
  /** Keys in cycle order; the first is repeated at the end. */
  path: string[];
  edges: Edge[];
}

export interface DependencyGraph {
  /** Kustomization keys in repo order. */
  nodes: string[];
  /** Deduplicated: one edge per (from, to), dependsOn preferred over an implied one. */
  edges: Edge[];
  /** dependsOn targets that no Kustomization in the repo defines. */
  missing: { from: string; to: string; where: Location }[];
  cycles: Cycle[];
  /** Layer 0 needs nothing; layer n needs something in layer n-1. Names sorted inside a layer. */
  layers: string[][];
  /** Nodes in a cycle or needing one: no order exists for them. */
  unordered: string[];
  /** Kustomizations defined more than once (same namespace/name); the first definition is used. */
  duplicates: { key: string; where: Location[] }[];
  /** Inferred edges left out because they would close a cycle with edges that are certain. */
  dropped: Edge[];
}

interface Providers {
  namespaces: Map<string, string>;
  crds: Map<string, string>;
  objects: Map<string, string>;
}

function providers(index: DeployIndex): Providers {
  const p: Providers = { namespaces: new Map(), crds: new Map(), objects: new Map() };
  for (const [owner, items] of index.byOwner) {
    for (const { id, doc } of items) {
      const setOnce = (map: Map<string, string>, key: string) => map.has(key) || map.set(key, owner);
      setOnce(p.objects, `${id.kind}/${id.namespace}/${id.name}`);
      if (id.kind === 'Namespace') setOnce(p.namespaces, id.name);
      const group = asString(dig(doc.value, 'spec', 'group'));
      const kind = asString(dig(doc.value, 'spec', 'names', 'kind'));
      if (id.kind === 'CustomResourceDefinition' && group && kind) setOnce(p.crds, `${group}/${kind}`);
    }
  }
  return p;
}

function ancestorsOf(key: string, parents: Map<string, string[]>): Set<string> {
  const out = new Set<string>();
  const stack = [...(parents.get(key) ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (out.has(next)) continue;
    out.add(next);
    stack.push(...(parents.get(next) ?? []));
  }
  return out;
}

/**
 * Edges that objects imply: a namespace, a CRD, a chart or Flux source, a HelmRelease dependsOn, provided by
 * another Kustomization. NOTE: a Kustomization's ancestors (those that apply its definition) are never added:
 * they run before it by construction, and adding them would put the root in every chain.
 */
function impliedEdges(model: RepoModel, index: DeployIndex): Edge[] {
  const p = providers(index);
  const edges: Edge[] = [];
  for (const [owner, items] of index.byOwner) {
    const ancestors = ancestorsOf(owner, index.parents);
    const add = (to: string | undefined, kind: EdgeKind, reason: string, where: Location) => {
      if (to && to !== owner && !ancestors.has(to))
        edges.push({ from: owner, to, kind, reason: `${reason} (by ${to})`, where });
    };
    for (const { id, doc } of items) {
      const where = { file: doc.file, line: doc.line };
      const label = `${id.kind} ${id.namespace ? `${id.namespace}/` : ''}${id.name}`;
      if (id.namespace)
        add(p.namespaces.get(id.namespace), 'namespace', `${label} needs namespace ${id.namespace}, created`, where);
      const group = String(dig(doc.value, 'apiVersion')).split('/')[0] ?? '';
      add(p.crds.get(`${group}/${id.kind}`), 'crd', `${label} needs the ${id.kind} CRD, installed`, where);
      const ref =
        dig(doc.value, 'spec', 'chart', 'spec', 'sourceRef') ??
        dig(doc.value, 'spec', 'chartRef') ??
        dig(doc.value, 'spec', 'sourceRef');
      const refKind = asString(dig(ref, 'kind'));
      if (refKind && (id.kind === 'HelmRelease' || id.kind === 'Kustomization')) {
        const target = `${refKind}/${asString(dig(ref, 'namespace')) ?? id.namespace}/${asString(dig(ref, 'name'))}`;
        add(p.objects.get(target), 'source', `${label} needs its source ${target.replace(/\//, ' ')}, applied`, where);
      }
      if (id.kind !== 'HelmRelease') continue;
      for (const dep of model.helmReleases.find((h) => h.file === doc.file && h.line === doc.line)?.dependsOn ?? []) {
        const target = `HelmRelease/${dep.namespace}/${dep.name}`;
        add(
          p.objects.get(target),
          'helmrelease',
          `${label} dependsOn HelmRelease ${dep.namespace}/${dep.name}, applied`,
          where,
        );
      }
    }
  }
  return edges;
}

function explicitEdges(model: RepoModel, known: Set<string>, graph: DependencyGraph): Edge[] {
  const edges: Edge[] = [];
  const done = new Set<string>();
  for (const ks of model.kustomizations) {
    const from = ksKey(ks);
    if (done.has(from)) continue;
    done.add(from);
    for (const dep of ks.dependsOn) {
      const to = ksKey(dep);
      const where = { file: ks.file, line: ks.line };
      if (!known.has(to)) graph.missing.push({ from, to, where });
      else edges.push({ from, to, kind: 'dependsOn', reason: `${from} dependsOn ${to}`, where });
    }
  }
  return edges;
}

/** True when `to` already needs `from` (so `from → to` would close a cycle). */
function reaches(out: Map<string, Edge[]>, from: string, to: string): boolean {
  const seen = new Set<string>([from]);
  const stack = [from];
  while (stack.length > 0) {
    for (const edge of out.get(stack.pop() as string) ?? []) {
      if (edge.to === to) return true;
      if (!seen.has(edge.to)) {
        seen.add(edge.to);
        stack.push(edge.to);
      }
    }
  }
  return false;
}

/**
 * The Kustomization graph of one cluster: dependsOn plus what objects imply, then the `inferred` run-time needs
 * (needs.ts) where they close no cycle; layers, cycles and missing targets.
 */
export function buildGraph(model: RepoModel, index: DeployIndex, inferred: readonly Edge[] = []): DependencyGraph {
  const nodes = [...new Set(model.kustomizations.map(ksKey))];
  const graph: DependencyGraph = {
    nodes,
    edges: [],
    missing: [],
    cycles: [],
    layers: [],
    unordered: [],
    duplicates: index.duplicates,
    dropped: [],
  };
  const unique = new Map<string, Edge>();
  for (const edge of [...explicitEdges(model, new Set(nodes), graph), ...impliedEdges(model, index)]) {
    if (!unique.has(`${edge.from}\n${edge.to}`)) unique.set(`${edge.from}\n${edge.to}`, edge);
  }
  graph.edges = [...unique.values()];
  const out = edgesFrom(graph);
  for (const edge of inferred) {
    const key = `${edge.from}\n${edge.to}`;
    if (unique.has(key) || edge.from === edge.to || !out.has(edge.from) || !out.has(edge.to)) continue;
    if (reaches(out, edge.to, edge.from)) {
      graph.dropped.push(edge);
      continue;
    }
    unique.set(key, edge);
    graph.edges.push(edge);
    out.get(edge.from)?.push(edge);
  }
  layerGraph(graph);
  return graph;
}

export function edgesFrom(graph: DependencyGraph): Map<string, Edge[]> {
  const out = new Map<string, Edge[]>(graph.nodes.map((n) => [n, []]));
  for (const edge of graph.edges) out.get(edge.from)?.push(edge);
  return out;
}

/** Longest-path layering; strongly connected components of more than one node (or a self-edge) are cycles. */
function layerGraph(graph: DependencyGraph): void {
  const out = edgesFrom(graph);
  const cyclic = new Set<string>();
  for (const scc of stronglyConnected(graph.nodes, out)) {
    const first = scc[0] as string;
    if (scc.length === 1 && !(out.get(first) ?? []).some((e) => e.to === first)) continue;
    for (const n of scc) cyclic.add(n);
    graph.cycles.push(cycleThrough(scc, out));
  }
  const layer = new Map<string, number | undefined>();
  const visit = (node: string): number | undefined => {
    if (layer.has(node)) return layer.get(node);
    layer.set(node, undefined);
    let depth = cyclic.has(node) ? undefined : 0;
    for (const edge of out.get(node) ?? []) {
      const d = visit(edge.to);
      depth = d === undefined || depth === undefined ? undefined : Math.max(depth, d + 1);
    }
    layer.set(node, depth);
    return depth;
  };
  for (const node of graph.nodes) {
    const depth = visit(node);
    if (depth === undefined) graph.unordered.push(node);
    else graph.layers[depth] = [...(graph.layers[depth] ?? []), node];
  }
  graph.layers = graph.layers.map((l) => (l ?? []).sort());
}

/** Tarjan's algorithm (iterative bookkeeping is unnecessary at a few thousand nodes). */
function stronglyConnected(nodes: string[], out: Map<string, Edge[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const { to } of out.get(v) ?? []) {
      if (!index.has(to)) {
        connect(to);
        low.set(v, Math.min(low.get(v) as number, low.get(to) as number));
      } else if (onStack.has(to)) low.set(v, Math.min(low.get(v) as number, index.get(to) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    result.push(scc.sort());
  };
  for (const node of nodes) if (!index.has(node)) connect(node);
  return result;
}

/** One concrete cycle inside a component: breadth-first from its first node back to itself. */
function cycleThrough(scc: string[], out: Map<string, Edge[]>): Cycle {
  const start = scc[0] as string;
  const members = new Set(scc);
  const via = new Map<string, Edge>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const edge of out.get(node) ?? []) {
      if (!members.has(edge.to) || via.has(edge.to)) continue;
      via.set(edge.to, edge);
      if (edge.to === start) break;
      queue.push(edge.to);
    }
    if (via.has(start)) break;
  }
  const edges: Edge[] = [];
  for (
    let node = start, edge = via.get(start);
    edge;
    node = edge.from, edge = node === start ? undefined : via.get(node)
  ) {
    edges.unshift(edge);
  }
  return { path: [start, ...edges.map((e) => e.to)], edges };
}

/**
 * Which clusters a repo holds, and which Flux objects belong to none. A cluster is what one root reaches: a
 * FluxInstance's sync path, a Kustomization whose path applies its own definition (flux bootstrap's
 * `flux-system`), or a `clusters/<name>` folder. What no root reaches (test fixtures, policy tests, old folders)
 * is listed and left out of every graph.
 */

import type { RepoDocument } from '../ports/index.js';
import type { DeployIndex } from './deploy.js';
import { allDirs, buildPath, isFluxKustomization, ROOT_OWNER } from './deploy.js';
import type { Undecided } from './findings.js';
import { type FluxSync, fluxSyncsOf, generatedRoot } from './flux-instance.js';
import type { Location } from './input.js';
import { idOf, isFlux, isKubeObject, type ObjectId, type RepoModel, toKustomization } from './model.js';
import { includedNamespace } from './namespaces.js';
import { isUnder, normalizePath } from './paths.js';
import { type ClusterRoot, indexCluster } from './reach.js';

export interface Cluster {
  root: ClusterRoot;
  index: DeployIndex;
}

/** A Flux object that no cluster's root reaches. */
export interface OutsideObject extends ObjectId, Location {}

export interface ClusterLayout {
  clusters: Cluster[];
  outside: OutsideObject[];
  notes: string[];
  undecided: Undecided[];
}

const CLUSTER_FOLDER = /^(.*?(?:^|\/)clusters\/[^/]+)\//;

/** `clusters/<name>` → name; else the folder's path ("." for the repo root). */
export function clusterNameOf(dir: string): string {
  return /(?:^|\/)clusters\/([^/]+)/.exec(dir)?.[1] ?? (dir || '.');
}

function fromSync(sync: FluxSync, dirs: ReadonlySet<string>, undecided: Undecided[]): ClusterRoot | undefined {
  const subject = `which folder ${sync.origin} syncs`;
  if (!sync.path || sync.path.includes('${')) {
    const why = sync.path ? `its sync.path "${sync.path}" has a variable` : 'it has no sync.path';
    undecided.push({ subject, reason: `${why} (${sync.field})`, about: 'repo' });
    return undefined;
  }
  const dir = normalizePath(sync.path);
  if (!dirs.has(dir)) {
    undecided.push({ subject, reason: `its sync.path "${sync.path}" is not a folder of the repo`, about: 'repo' });
    return undefined;
  }
  const { source, kustomization } = generatedRoot(sync);
  return {
    name: clusterNameOf(dir),
    dir,
    foundBy: `${sync.origin}: ${sync.field}.path`,
    kustomization,
    doc: sync.doc,
    source,
  };
}

/** Flux bootstrap's root: a Kustomization whose path's build includes its own definition. */
function selfApplying(model: RepoModel, dirs: ReadonlySet<string>): ClusterRoot[] {
  const out: { root: ClusterRoot; depth: number }[] = [];
  for (const docs of model.documentsByFile.values()) {
    for (const doc of docs.filter(isFluxKustomization)) {
      const ks = toKustomization(doc, includedNamespace(model, doc));
      if (!isUnder(doc.file, ks.path) || !dirs.has(ks.path)) continue;
      if (!buildPath(model, dirs, ks.path, ks.targetNamespace, ROOT_OWNER).some((item) => item.doc === doc)) continue;
      const root = {
        name: clusterNameOf(ks.path),
        dir: ks.path,
        foundBy: `Kustomization ${ks.namespace}/${ks.name} (${doc.file}:${doc.line}), whose path applies its own definition`,
        kustomization: ks,
        doc,
      };
      out.push({ root, depth: ks.path === '' ? 0 : ks.path.split('/').length });
    }
  }
  return out.sort((a, b) => a.depth - b.depth || a.root.dir.localeCompare(b.root.dir)).map((e) => e.root);
}

/** `clusters/<name>` folders that hold Flux Kustomizations, each a root applied by a bootstrap outside the repo. */
function clusterFolders(model: RepoModel): Map<string, RepoDocument[]> {
  const out = new Map<string, RepoDocument[]>();
  for (const [file, docs] of model.documentsByFile) {
    const dir = CLUSTER_FOLDER.exec(file)?.[1];
    const flux = docs.filter(isFluxKustomization);
    if (dir && flux.length > 0) out.set(dir, [...(out.get(dir) ?? []), ...flux]);
  }
  return out;
}

function isFluxObject(doc: RepoDocument): boolean {
  const value = doc.value;
  if (!isKubeObject(value)) return false;
  return (
    ['kustomize', 'helm', 'source'].some((group) => isFlux(value, group)) ||
    value.apiVersion.startsWith('fluxcd.controlplane.io/')
  );
}

interface Layout {
  model: RepoModel;
  dirs: ReadonlySet<string>;
  clusters: Cluster[];
  covered: Set<RepoDocument>;
}

function keep(layout: Layout, root: ClusterRoot): void {
  const index = indexCluster(layout.model, root, layout.dirs);
  const taken = layout.clusters.some((c) => c.root.name === root.name);
  layout.clusters.push({ root: taken ? { ...root, name: root.dir || '.' } : root, index });
  for (const doc of index.reached) layout.covered.add(doc);
  if (root.doc) layout.covered.add(root.doc);
}

/** Every cluster of the repo with what it applies; when no root is found, the whole repo is one cluster. */
export function findClusters(model: RepoModel): ClusterLayout {
  const dirs = allDirs(model.files);
  const layout: Layout = { model, dirs, clusters: [], covered: new Set() };
  const undecided: Undecided[] = [];
  const { syncs, problems } = fluxSyncsOf(model);
  for (const p of problems)
    undecided.push({ subject: `where ${p.origin} syncs from`, reason: p.reason, about: 'repo' });
  const hasDir = (dir: string) => layout.clusters.some((c) => c.root.dir === dir);
  for (const sync of syncs) {
    const root = fromSync(sync, dirs, undecided);
    if (root && !hasDir(root.dir)) keep(layout, root);
  }
  for (const root of selfApplying(model, dirs)) {
    if (!hasDir(root.dir) && root.doc && !layout.covered.has(root.doc)) keep(layout, root);
  }
  for (const [dir, docs] of clusterFolders(model)) {
    if (hasDir(dir) || docs.every((d) => layout.covered.has(d))) continue;
    keep(layout, { name: clusterNameOf(dir), dir, foundBy: `the cluster folder ${dir}` });
  }
  const notes: string[] = [];
  if (layout.clusters.length === 0) {
    keep(layout, {
      name: '.',
      dir: '',
      foundBy: 'the repo itself (no FluxInstance, root Kustomization or clusters/<name> folder)',
    });
    notes.push(
      'No cluster root found (a FluxInstance sync path, a Kustomization that applies its own definition, or a clusters/<name> folder): the whole repo is read as one cluster',
    );
  }
  const outside = [...model.documentsByFile.values()]
    .flat()
    .filter((doc) => isFluxObject(doc) && !layout.covered.has(doc))
    .map((doc) => ({ ...idOf(doc), namespace: includedNamespace(model, doc), file: doc.file, line: doc.line }));
  return { clusters: layout.clusters, outside, notes, undecided };
}

export type { ClusterRoot };

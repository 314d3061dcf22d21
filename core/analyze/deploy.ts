import { asString, dig, type RepoDocument } from './input.js';
import { type FluxKustomization, idOf, ksKey, type ObjectId, type RepoModel } from './model.js';
import { dirnameOf, isKustomizeFile, isUnder, joinPath, kustomizeFileIn, leavesRepo } from './paths.js';

/** One object as a Flux Kustomization applies it: the namespace is the effective one after kustomize and Flux. */
export interface Deployed {
  doc: RepoDocument;
  id: ObjectId;
  /** Key (`namespace/name`) of the Flux Kustomization that applies it. */
  owner: string;
}

/** A kustomization.yaml entry that was not followed. */
export interface UnfollowedEntry {
  owner: string;
  file: string;
  entry: string;
  reason: 'remote' | 'missing' | 'outside-repo';
}

export interface DeployIndex {
  byOwner: Map<string, Deployed[]>;
  /** Flux Kustomization key → keys of the Kustomizations whose path applies its definition. */
  parents: Map<string, string[]>;
  unfollowed: UnfollowedEntry[];
  /** Kustomizations whose path is not in this repo: another source, or a path that does not exist. */
  notInRepo: { owner: string; reason: string }[];
}

/** Kinds that are never namespaced (the ones Flux repos commonly hold). */
const CLUSTER_SCOPED = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'StorageClass',
  'PriorityClass',
  'IngressClass',
  'GatewayClass',
  'ValidatingWebhookConfiguration',
  'MutatingWebhookConfiguration',
  'PersistentVolume',
  'CSIDriver',
  'ClusterIssuer',
  'ClusterSecretStore',
  'IPAddressPool',
  'RuntimeClass',
  'APIService',
]);

export function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

const REMOTE = /^([a-z][a-z0-9+.-]*:\/\/|git@|git::|(github|gitlab|bitbucket)\.(com|org)\/)|\?ref=/i;

export function isRemoteEntry(entry: string): boolean {
  return REMOTE.test(entry);
}

interface Walk {
  model: RepoModel;
  dirs: Set<string>;
  owner: string;
  out: Deployed[];
  seen: Set<string>;
  unfollowed: UnfollowedEntry[];
}

function addFile(walk: Walk, file: string, namespace: string | undefined): void {
  if (walk.seen.has(file)) return;
  walk.seen.add(file);
  for (const doc of walk.model.documentsByFile.get(file) ?? []) {
    const id = idOf(doc, 'default');
    if (isClusterScoped(id.kind)) id.namespace = '';
    else if (namespace) id.namespace = namespace;
    else if (!asString(dig(doc.value, 'metadata', 'namespace'))) id.namespace = 'default';
    walk.out.push({ doc, id, owner: walk.owner });
  }
}

/** kustomize build of `dir`: its kustomization file's entries, or (as Flux generates one) every YAML file below. */
function addDir(walk: Walk, dir: string, namespace: string | undefined): void {
  if (walk.seen.has(`${dir}/`)) return;
  walk.seen.add(`${dir}/`);
  const config = walk.model.kustomizeConfigs.get(dir);
  if (!config) {
    addGenerated(walk, dir, namespace);
    return;
  }
  const ns = namespace ?? config.namespace;
  for (const entry of config.resources) {
    const path = joinPath(dir, entry);
    const base = { owner: walk.owner, file: config.file, entry };
    if (isRemoteEntry(entry)) walk.unfollowed.push({ ...base, reason: 'remote' });
    else if (leavesRepo(path)) walk.unfollowed.push({ ...base, reason: 'outside-repo' });
    else if (walk.model.files.has(path)) addFile(walk, path, ns);
    else if (walk.dirs.has(path)) addDir(walk, path, ns);
    else walk.unfollowed.push({ ...base, reason: 'missing' });
  }
}

function addGenerated(walk: Walk, dir: string, namespace: string | undefined): void {
  const nested = new Set<string>();
  for (const file of walk.model.files) {
    if (!isUnder(file, dir) || isKustomizeFile(file)) continue;
    const sub = [...nested].find((d) => isUnder(file, d)) ?? nestedKustomization(walk, dir, file);
    if (sub === undefined) addFile(walk, file, namespace);
    else if (!nested.has(sub)) {
      nested.add(sub);
      addDir(walk, sub, namespace);
    }
  }
}

/** The directory between `dir` (exclusive) and `file` that holds a kustomization file, closest to `dir`. */
function nestedKustomization(walk: Walk, dir: string, file: string): string | undefined {
  const parts = dirnameOf(file)
    .slice(dir === '' ? 0 : dir.length + 1)
    .split('/');
  let current = dir;
  for (const part of parts) {
    if (part === '') break;
    current = joinPath(current, part);
    if (kustomizeFileIn(current, walk.model.files)) return current;
  }
  return undefined;
}

function allDirs(files: Iterable<string>): Set<string> {
  const dirs = new Set<string>(['']);
  for (const file of files) {
    for (let dir = dirnameOf(file); dir !== '' && !dirs.has(dir); dir = dirnameOf(dir)) dirs.add(dir);
  }
  return dirs;
}

function sameRef(a: ObjectId, b: ObjectId): boolean {
  return a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;
}

/**
 * What each Flux Kustomization applies. Only Kustomizations whose source is the repo source are built from the
 * repo; the others are listed in `notInRepo`. NOTE: remote bases are never fetched (no network), only reported.
 */
export function indexDeployments(model: RepoModel, repoSource: ObjectId | undefined): DeployIndex {
  const dirs = allDirs(model.files);
  const index: DeployIndex = { byOwner: new Map(), parents: new Map(), unfollowed: [], notInRepo: [] };
  for (const ks of model.kustomizations) {
    const owner = ksKey(ks);
    if (index.byOwner.has(owner)) continue;
    const out: Deployed[] = [];
    index.byOwner.set(owner, out);
    const reason = notInRepoReason(ks, repoSource, dirs);
    if (reason) {
      index.notInRepo.push({ owner, reason });
      continue;
    }
    const walk: Walk = { model, dirs, owner, out, seen: new Set(), unfollowed: index.unfollowed };
    if (model.files.has(ks.path)) addFile(walk, ks.path, ks.targetNamespace);
    else addDir(walk, ks.path, ks.targetNamespace);
  }
  recordParents(model, index);
  return index;
}

function notInRepoReason(ks: FluxKustomization, repoSource: ObjectId | undefined, dirs: Set<string>): string {
  if (repoSource && !sameRef(ks.sourceRef, repoSource)) {
    return `its source ${ks.sourceRef.kind} ${ks.sourceRef.namespace}/${ks.sourceRef.name} is not this repo`;
  }
  if (leavesRepo(ks.path)) return `its path "${ks.path}" leaves the repo`;
  return dirs.has(ks.path) ? '' : `its path "./${ks.path}" does not exist in the repo`;
}

function recordParents(model: RepoModel, index: DeployIndex): void {
  const known = new Set(model.kustomizations.map(ksKey));
  for (const [owner, deployed] of index.byOwner) {
    for (const item of deployed) {
      if (
        item.id.kind !== 'Kustomization' ||
        !String(dig(item.doc.value, 'apiVersion')).startsWith('kustomize.toolkit')
      )
        continue;
      const child = ksKey(idOf(item.doc, 'flux-system'));
      if (child === owner || !known.has(child)) continue;
      index.parents.set(child, [...(index.parents.get(child) ?? []), owner]);
    }
  }
}

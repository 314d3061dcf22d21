import type { RepoDocument } from '../ports/index.js';
import { dig, type Location } from './input.js';
import { FLUX_NAMESPACE, type FluxKustomization, idOf, type ObjectId, type RepoModel } from './model.js';
import { dirnameOf, isKustomizeFile, isUnder, joinPath, kustomizeFileIn, leavesRepo } from './paths.js';

/** One object as a Flux Kustomization applies it: the namespace is the effective one after kustomize and Flux. */
export interface Deployed {
  doc: RepoDocument;
  id: ObjectId;
  /** Key (`namespace/name`) of the Flux Kustomization that applies it; {@link ROOT_OWNER} for a root folder. */
  owner: string;
}

/** The owner of what a cluster's root folder applies when no Kustomization in the repo is that root. */
export const ROOT_OWNER = '';

/** A kustomization.yaml entry that was not followed. */
export interface UnfollowedEntry {
  owner: string;
  file: string;
  entry: string;
  reason: 'remote' | 'missing' | 'outside-repo';
}

/** What one cluster applies, found from its root: every Kustomization reached, and what each applies. */
export interface DeployIndex {
  byOwner: Map<string, Deployed[]>;
  /** Flux Kustomization key → keys of the Kustomizations whose path applies its definition. */
  parents: Map<string, string[]>;
  unfollowed: UnfollowedEntry[];
  /** Kustomizations whose path is not in this repo: another source, or a path that does not exist. */
  notInRepo: { owner: string; reason: string }[];
  /** The cluster's Flux Kustomizations, keyed by their effective namespace, in the order reached. */
  kustomizations: FluxKustomization[];
  /** What the root folder applies itself (when the root is a folder, not a Kustomization in the repo). */
  rootItems: Deployed[];
  /** Kustomizations defined more than once in this cluster (same namespace/name); the first reached is used. */
  duplicates: { key: string; where: Location[] }[];
  /** Every document the cluster applies. */
  reached: Set<RepoDocument>;
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
  dirs: ReadonlySet<string>;
  owner: string;
  out: Deployed[];
  seen: Set<string>;
  unfollowed: UnfollowedEntry[];
}

/**
 * kustomize build of `path` (a folder or one file) as the Flux Kustomization `owner` applies it: `namespace` is its
 * targetNamespace, which wins over every kustomization.yaml namespace. NOTE: remote bases are never fetched.
 */
export function buildPath(
  model: RepoModel,
  dirs: ReadonlySet<string>,
  path: string,
  namespace: string | undefined,
  owner: string,
  unfollowed: UnfollowedEntry[] = [],
): Deployed[] {
  const walk: Walk = { model, dirs, owner, out: [], seen: new Set(), unfollowed };
  if (model.files.has(path)) addFile(walk, path, namespace);
  else addDir(walk, path, namespace);
  return walk.out;
}

/** Flux's own objects default to flux-system (the bootstrap convention), everything else to `default`. */
function defaultNamespaceOf(doc: RepoDocument): string {
  const apiVersion = String(dig(doc.value, 'apiVersion'));
  return /^(kustomize|source)\.toolkit\.fluxcd\.io\//.test(apiVersion) ? FLUX_NAMESPACE : 'default';
}

function addFile(walk: Walk, file: string, namespace: string | undefined): void {
  if (walk.seen.has(file)) return;
  walk.seen.add(file);
  for (const doc of walk.model.documentsByFile.get(file) ?? []) {
    const id = idOf(doc, defaultNamespaceOf(doc));
    if (isClusterScoped(id.kind)) id.namespace = '';
    else if (namespace) id.namespace = namespace;
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

/** Every folder of the repo that holds a YAML file, and their parents ("" is the root). */
export function allDirs(files: Iterable<string>): Set<string> {
  const dirs = new Set<string>(['']);
  for (const file of files) {
    for (let dir = dirnameOf(file); dir !== '' && !dirs.has(dir); dir = dirnameOf(dir)) dirs.add(dir);
  }
  return dirs;
}

/** Why `ks` is not built from this repo ("" when it is): another source, or a path that is not here. */
export function notInRepoReason(
  ks: FluxKustomization,
  repoSource: ObjectId | undefined,
  dirs: ReadonlySet<string>,
): string {
  const ref = ks.sourceRef;
  if (
    repoSource &&
    !(ref.kind === repoSource.kind && ref.namespace === repoSource.namespace && ref.name === repoSource.name)
  ) {
    return `its source ${ref.kind} ${ref.namespace}/${ref.name} is not this repo`;
  }
  if (leavesRepo(ks.path)) return `its path "${ks.path}" leaves the repo`;
  return dirs.has(ks.path) ? '' : `its path "./${ks.path}" does not exist in the repo`;
}

export function isFluxKustomization(doc: RepoDocument): boolean {
  return idOf(doc).kind === 'Kustomization' && String(dig(doc.value, 'apiVersion')).startsWith('kustomize.toolkit');
}

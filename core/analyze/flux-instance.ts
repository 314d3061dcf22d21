/**
 * flux-operator: a FluxInstance (the custom resource, or the values of a HelmRelease of the flux-instance chart)
 * makes the operator generate the cluster's Flux source and root Kustomization, both named after the instance's
 * namespace (flux bootstrap's convention), so neither is a file of the repo. Read `sync` and stand them in.
 */
import { fromYaml } from '../api/yaml.js';
import type { RepoDocument } from '../ports/index.js';
import { asString, dig, isRecord, type Location } from './input.js';
import {
  type FluxKustomization,
  type FluxSource,
  type HelmReleaseInfo,
  idOf,
  type RepoModel,
  SOURCE_KINDS,
  type SourceKind,
} from './model.js';
import { includedNamespace } from './namespaces.js';
import { normalizePath } from './paths.js';

/** The `sync` block of a FluxInstance, with where it was read. */
export interface FluxSync extends Location {
  doc: RepoDocument;
  /** `FluxInstance flux-system/flux` or `HelmRelease flux-system/flux-instance`. */
  origin: string;
  /** The field the values came from: `spec.sync`, `spec.values.instance.sync`, or a valuesFrom file. */
  field: string;
  namespace: string;
  /** Name of the generated source and Kustomization: `sync.name`, else the namespace. */
  name: string;
  kind: SourceKind;
  url?: string;
  ref?: string;
  /** As written; undefined when missing. */
  path?: string;
}

/** A FluxInstance this analysis cannot follow, and why. */
export interface SyncProblem {
  origin: string;
  reason: string;
}

type Values = Record<string, unknown>;

function merge(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key];
    out[key] = isRecord(prior) && isRecord(value) ? merge(prior, value) : value;
  }
  return out;
}

/** The text of `key` in an in-repo ConfigMap, or in a file of a kustomize configMapGenerator, with where it is. */
function valuesFile(model: RepoModel, name: string, key: string): { value: unknown; where: string } | undefined {
  for (const config of model.kustomizeConfigs.values()) {
    const file = config.configMaps.find((c) => c.name === name)?.files.find((f) => f.key === key)?.file;
    const doc = file ? model.input.documents.find((d) => d.file === file) : undefined;
    if (file && doc) return { value: doc.value, where: `${file} (configMapGenerator ${name} in ${config.file})` };
  }
  for (const docs of model.documentsByFile.values()) {
    for (const doc of docs) {
      const id = idOf(doc);
      const text = asString(dig(doc.value, 'data', key));
      if (id.kind !== 'ConfigMap' || id.name !== name || !text) continue;
      try {
        return { value: fromYaml(text), where: `ConfigMap ${name} ${key} (${doc.file}:${doc.line})` };
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** spec.values over spec.valuesFrom (Flux merges valuesFrom in order, then spec.values). */
function helmValues(model: RepoModel, release: HelmReleaseInfo): { values: Values; from: string[]; missing: string[] } {
  let values: Values = {};
  const from: string[] = [];
  const missing: string[] = [];
  for (const ref of release.valuesFrom) {
    const found = ref.kind === 'ConfigMap' ? valuesFile(model, ref.name, ref.key) : undefined;
    if (found && isRecord(found.value)) {
      values = merge(values, found.value);
      from.push(found.where);
    } else missing.push(`${ref.kind} ${ref.name} (${ref.key})`);
  }
  return { values: merge(values, isRecord(release.values) ? release.values : {}), from, missing };
}

function isFluxInstanceChart(model: RepoModel, release: HelmReleaseInfo): boolean {
  if (release.chart === 'flux-instance') return true;
  const ref = release.chartSource;
  const source = ref && model.sources.find((s) => s.kind === ref.kind && s.name === ref.name);
  return /(^|\/)flux-instance$/.test(source?.url ?? '') || (ref?.name ?? '').includes('flux-instance');
}

function syncOf(
  doc: RepoDocument,
  sync: unknown,
  base: Omit<FluxSync, 'kind' | 'name' | 'url' | 'ref' | 'path' | 'doc' | 'file' | 'line'>,
): FluxSync {
  const kind = asString(dig(sync, 'kind')) ?? 'GitRepository';
  const url = asString(dig(sync, 'url'));
  const ref = asString(dig(sync, 'ref'));
  const path = asString(dig(sync, 'path'));
  return {
    ...base,
    doc,
    file: doc.file,
    line: doc.line,
    name: asString(dig(sync, 'name')) ?? base.namespace,
    kind: (SOURCE_KINDS as readonly string[]).includes(kind) ? (kind as SourceKind) : 'GitRepository',
    ...(url ? { url } : {}),
    ...(ref ? { ref } : {}),
    ...(path ? { path } : {}),
  };
}

/** Every FluxInstance with a `sync` block; the ones without one, or whose values are not in the repo, as problems. */
export function fluxSyncsOf(model: RepoModel): { syncs: FluxSync[]; problems: SyncProblem[] } {
  const syncs: FluxSync[] = [];
  const problems: SyncProblem[] = [];
  for (const doc of model.fluxInstances) {
    const namespace = includedNamespace(model, doc);
    const origin = `FluxInstance ${namespace}/${idOf(doc).name} (${doc.file}:${doc.line})`;
    const sync = dig(doc.value, 'spec', 'sync');
    if (isRecord(sync)) syncs.push(syncOf(doc, sync, { origin, field: 'spec.sync', namespace }));
    else problems.push({ origin, reason: 'it has no spec.sync, so it does not say which folder is the root' });
  }
  for (const release of model.helmReleases.filter((r) => isFluxInstanceChart(model, r))) {
    const doc = model.input.documents.find((d) => d.file === release.file && d.line === release.line);
    if (!doc) continue;
    const namespace = includedNamespace(model, doc);
    const origin = `HelmRelease ${namespace}/${release.name} of the flux-instance chart (${release.file}:${release.line})`;
    const { values, from, missing } = helmValues(model, release);
    const sync = dig(values, 'instance', 'sync');
    const field =
      from.length > 0 ? `instance.sync of spec.values over ${from.join(', ')}` : 'spec.values.instance.sync';
    if (isRecord(sync)) syncs.push(syncOf(doc, sync, { origin, field, namespace }));
    else {
      const why = missing.length > 0 ? `; its valuesFrom ${missing.join(', ')} is not in the repo` : '';
      problems.push({ origin, reason: `no instance.sync in its values${why}` });
    }
  }
  return { syncs, problems };
}

/** `refs/heads/main` → `main`; other refs (tags, commits) name no branch. */
function branchOf(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  if (ref.startsWith('refs/heads/')) return ref.slice('refs/heads/'.length);
  return ref.startsWith('refs/') ? undefined : ref;
}

/** The source and root Kustomization the operator generates from `sync` (located at the FluxInstance). */
export function generatedRoot(sync: FluxSync): { source: FluxSource; kustomization: FluxKustomization } {
  const where = { file: sync.file, line: sync.line };
  const branch = branchOf(sync.ref);
  const id = { namespace: sync.namespace, name: sync.name };
  return {
    source: {
      ...id,
      ...where,
      kind: sync.kind,
      ...(sync.url ? { url: sync.url } : {}),
      ...(branch ? { branch } : {}),
      oci: sync.kind === 'OCIRepository',
    },
    kustomization: {
      ...id,
      ...where,
      kind: 'Kustomization',
      path: normalizePath(sync.path ?? ''),
      sourceRef: { kind: sync.kind, ...id },
      dependsOn: [],
      substitute: {},
      substituteFrom: [],
      healthChecks: [],
      wait: false,
      suspended: false,
    },
  };
}

import type { RepoDocument, RepoInput } from '../ports/index.js';
import { asArray, asString, dig, isRecord, type Location } from './input.js';
import { basenameOf, isKustomizeFile, joinPath, normalizePath } from './paths.js';

/** A namespaced object reference as the analysis prints it: `Kind namespace/name`. */
export interface ObjectId {
  kind: string;
  namespace: string;
  name: string;
}

export function objectLabel(id: ObjectId): string {
  return `${id.kind} ${id.namespace ? `${id.namespace}/` : ''}${id.name}`;
}

/** `namespace/name` of a Flux Kustomization: the key used in the graph and the chain. */
export function ksKey(ref: { namespace: string; name: string }): string {
  return `${ref.namespace}/${ref.name}`;
}

export interface FluxKustomization extends ObjectId, Location {
  kind: 'Kustomization';
  /** Normalised repo-relative path ("" is the source root). */
  path: string;
  sourceRef: ObjectId;
  dependsOn: { namespace: string; name: string }[];
  targetNamespace?: string;
  substitute: Record<string, string>;
  substituteFrom: { kind: string; name: string; optional: boolean }[];
  healthChecks: ObjectId[];
  wait: boolean;
  timeout?: string;
  suspended: boolean;
}

export const SOURCE_KINDS = ['GitRepository', 'OCIRepository', 'HelmRepository', 'Bucket'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export interface FluxSource extends ObjectId, Location {
  kind: SourceKind;
  /** As written (variables not yet substituted); Bucket's endpoint. */
  url?: string;
  branch?: string;
  /** HelmRepository `type: oci`. */
  oci: boolean;
}

export interface HelmReleaseInfo extends ObjectId, Location {
  kind: 'HelmRelease';
  chart?: string;
  chartVersion?: string;
  /** spec.chart.spec.sourceRef or spec.chartRef, namespace defaulted. */
  chartSource?: ObjectId;
  values: unknown;
  /** spec.valuesFrom, in order: ConfigMaps and Secrets whose key holds more values. */
  valuesFrom: { kind: string; name: string; key: string }[];
  dependsOn: { namespace: string; name: string }[];
}

/** A configMapGenerator entry of a kustomization.yaml: the ConfigMap's name and the files it is made of. */
export interface GeneratedConfigMap {
  name: string;
  /** Key in the ConfigMap → repo-relative file. */
  files: { key: string; file: string }[];
}

/** A kustomize kustomization.yaml: what it includes, and the namespace it forces on its resources. */
export interface KustomizeConfig extends Location {
  dir: string;
  resources: string[];
  namespace?: string;
  configMaps: GeneratedConfigMap[];
}

export interface RepoModel {
  input: RepoInput;
  kustomizations: FluxKustomization[];
  sources: FluxSource[];
  helmReleases: HelmReleaseInfo[];
  /** flux-operator FluxInstance objects (their namespace as written). */
  fluxInstances: RepoDocument[];
  kustomizeConfigs: Map<string, KustomizeConfig>;
  /** Kubernetes documents by file (kustomize configs excluded). */
  documentsByFile: Map<string, RepoDocument[]>;
  files: Set<string>;
}

const KUSTOMIZE_API = 'kustomize.config.k8s.io/';
export const FLUX_OPERATOR_API = 'fluxcd.controlplane.io/';

/** A Kubernetes object: a mapping with string apiVersion and kind. Anything else in the repo is ignored. */
export function isKubeObject(value: unknown): value is Record<string, unknown> & { apiVersion: string; kind: string } {
  return isRecord(value) && typeof value.apiVersion === 'string' && typeof value.kind === 'string';
}

/** The object's id with the namespace as written (`defaultNamespace` when it has none). */
export function idOf(doc: RepoDocument, defaultNamespace = 'default'): ObjectId {
  const value = doc.value as Record<string, unknown>;
  return {
    kind: String(value.kind),
    namespace: asString(dig(value, 'metadata', 'namespace')) ?? defaultNamespace,
    name: asString(dig(value, 'metadata', 'name')) ?? '(unnamed)',
  };
}

function nsRefs(list: unknown, namespace: string): { namespace: string; name: string }[] {
  return asArray(list).flatMap((d) => {
    const name = asString(dig(d, 'name'));
    return name ? [{ namespace: asString(dig(d, 'namespace')) ?? namespace, name }] : [];
  });
}

function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

/** The namespace Flux objects get when nothing sets one (the bootstrap convention). */
export const FLUX_NAMESPACE = 'flux-system';

/** `namespace`: the effective namespace (kustomize's namespace transformer, the parent's targetNamespace). */
function withNamespace(doc: RepoDocument, namespace: string | undefined): ObjectId {
  const id = idOf(doc, FLUX_NAMESPACE);
  return namespace ? { ...id, namespace } : id;
}

/** A Flux Kustomization; references without a namespace are in its own (effective) namespace. */
export function toKustomization(doc: RepoDocument, namespace?: string): FluxKustomization {
  const id = withNamespace(doc, namespace);
  const spec = dig(doc.value, 'spec');
  const sourceNs = asString(dig(spec, 'sourceRef', 'namespace')) ?? id.namespace;
  return {
    ...id,
    kind: 'Kustomization',
    file: doc.file,
    line: doc.line,
    path: normalizePath(asString(dig(spec, 'path')) ?? ''),
    sourceRef: {
      kind: asString(dig(spec, 'sourceRef', 'kind')) ?? 'GitRepository',
      namespace: sourceNs,
      name: asString(dig(spec, 'sourceRef', 'name')) ?? '',
    },
    dependsOn: nsRefs(dig(spec, 'dependsOn'), id.namespace),
    ...(asString(dig(spec, 'targetNamespace')) ? { targetNamespace: String(dig(spec, 'targetNamespace')) } : {}),
    substitute: stringMap(dig(spec, 'postBuild', 'substitute')),
    substituteFrom: asArray(dig(spec, 'postBuild', 'substituteFrom')).flatMap((ref) => {
      const name = asString(dig(ref, 'name'));
      return name
        ? [{ kind: asString(dig(ref, 'kind')) ?? 'ConfigMap', name, optional: dig(ref, 'optional') === true }]
        : [];
    }),
    healthChecks: asArray(dig(spec, 'healthChecks')).flatMap((hc) => {
      const kind = asString(dig(hc, 'kind'));
      const name = asString(dig(hc, 'name'));
      return kind && name ? [{ kind, name, namespace: asString(dig(hc, 'namespace')) ?? id.namespace }] : [];
    }),
    wait: dig(spec, 'wait') === true,
    ...(asString(dig(spec, 'timeout')) ? { timeout: String(dig(spec, 'timeout')) } : {}),
    suspended: dig(spec, 'suspend') === true,
  };
}

export function toSource(doc: RepoDocument, kind: SourceKind, namespace?: string): FluxSource {
  const spec = dig(doc.value, 'spec');
  const url = asString(dig(spec, kind === 'Bucket' ? 'endpoint' : 'url'));
  const branch = asString(dig(spec, 'ref', 'branch'));
  return {
    ...withNamespace(doc, namespace),
    kind,
    file: doc.file,
    line: doc.line,
    ...(url ? { url } : {}),
    ...(branch ? { branch } : {}),
    oci: dig(spec, 'type') === 'oci' || (url?.startsWith('oci://') ?? false),
  };
}

export function toHelmRelease(doc: RepoDocument, namespace?: string): HelmReleaseInfo {
  const declared = idOf(doc, 'default');
  const id = namespace ? { ...declared, namespace } : declared;
  const spec = dig(doc.value, 'spec');
  const chartSpec = dig(spec, 'chart', 'spec');
  const ref = dig(chartSpec, 'sourceRef') ?? dig(spec, 'chartRef');
  const refKind = asString(dig(ref, 'kind'));
  const refName = asString(dig(ref, 'name'));
  const chart = asString(dig(chartSpec, 'chart'));
  const chartVersion = asString(dig(chartSpec, 'version'));
  return {
    ...id,
    kind: 'HelmRelease',
    file: doc.file,
    line: doc.line,
    ...(chart ? { chart } : {}),
    ...(chartVersion ? { chartVersion } : {}),
    ...(refKind && refName
      ? { chartSource: { kind: refKind, name: refName, namespace: asString(dig(ref, 'namespace')) ?? id.namespace } }
      : {}),
    values: dig(spec, 'values') ?? {},
    valuesFrom: asArray(dig(spec, 'valuesFrom')).flatMap((ref) => {
      const name = asString(dig(ref, 'name'));
      const kind = asString(dig(ref, 'kind')) ?? 'ConfigMap';
      return name ? [{ kind, name, key: asString(dig(ref, 'valuesKey')) ?? 'values.yaml' }] : [];
    }),
    dependsOn: nsRefs(dig(spec, 'dependsOn'), id.namespace),
  };
}

/** `key=path` or `path` (the key is then the file's name), relative to the kustomization's directory. */
function generatedFile(entry: string, dir: string): { key: string; file: string } {
  const [key, path] = entry.includes('=')
    ? [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]
    : ['', entry];
  const file = joinPath(dir, path);
  return { key: key || basenameOf(file), file };
}

function toKustomizeConfig(doc: RepoDocument, dir: string): KustomizeConfig {
  const value = doc.value;
  const entries = ['resources', 'bases', 'components'].flatMap((key) => asArray(dig(value, key)));
  const namespace = asString(dig(value, 'namespace'));
  return {
    file: doc.file,
    line: doc.line,
    dir,
    resources: entries.filter((e): e is string => typeof e === 'string'),
    ...(namespace ? { namespace } : {}),
    configMaps: asArray(dig(value, 'configMapGenerator')).flatMap((gen) => {
      const name = asString(dig(gen, 'name'));
      const files = asArray(dig(gen, 'files')).filter((f): f is string => typeof f === 'string');
      return name ? [{ name, files: files.map((f) => generatedFile(f, dir)) }] : [];
    }),
  };
}

export function isFlux(value: { apiVersion: string }, group: string): boolean {
  return value.apiVersion.startsWith(`${group}.toolkit.fluxcd.io/`);
}

/** Sorts every document of the repo into Flux objects, kustomize configs and plain Kubernetes objects. */
export function buildModel(input: RepoInput): RepoModel {
  const model: RepoModel = {
    input,
    kustomizations: [],
    sources: [],
    helmReleases: [],
    fluxInstances: [],
    kustomizeConfigs: new Map(),
    documentsByFile: new Map(),
    files: new Set(input.files),
  };
  for (const doc of input.documents) {
    const value = doc.value;
    if (
      isKustomizeFile(doc.file) &&
      isRecord(value) &&
      (!isKubeObject(value) || value.apiVersion.startsWith(KUSTOMIZE_API))
    ) {
      const dir = doc.file.slice(0, Math.max(0, doc.file.lastIndexOf('/')));
      if (!model.kustomizeConfigs.has(dir)) model.kustomizeConfigs.set(dir, toKustomizeConfig(doc, dir));
      continue;
    }
    if (!isKubeObject(value)) continue;
    const list = model.documentsByFile.get(doc.file) ?? [];
    list.push(doc);
    model.documentsByFile.set(doc.file, list);
    if (value.kind === 'Kustomization' && isFlux(value, 'kustomize')) model.kustomizations.push(toKustomization(doc));
    else if (value.kind === 'HelmRelease' && isFlux(value, 'helm')) model.helmReleases.push(toHelmRelease(doc));
    else if (value.kind === 'FluxInstance' && value.apiVersion.startsWith(FLUX_OPERATOR_API))
      model.fluxInstances.push(doc);
    else if ((SOURCE_KINDS as readonly string[]).includes(value.kind) && isFlux(value, 'source')) {
      model.sources.push(toSource(doc, value.kind as SourceKind));
    }
  }
  return model;
}

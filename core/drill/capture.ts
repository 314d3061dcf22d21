/**
 * Shaping a drill capture, pure: an object as the API returned it trimmed to what a rehearsal needs, the Secrets and
 * ConfigMaps the pods name (names only), and `--redact`'s consistent renaming.
 */

import { isRecord } from '../analyze/input.js';
import {
  API_VERSION,
  CAPTURE_KIND,
  CAPTURED_CRD_GROUPS,
  type CapturedKind,
  type CapturedObject,
  type DrillCapture,
} from '../api/index.js';

type Json = Record<string, unknown>;

/** The metadata a replay needs; the server's bookkeeping (uid, resourceVersion, managedFields, times) goes. */
function trimMetadata(raw: unknown): CapturedObject['metadata'] {
  const m = isRecord(raw) ? raw : {};
  const owners = Array.isArray(m.ownerReferences) ? (m.ownerReferences as Json[]) : [];
  const strings = (v: unknown) =>
    isRecord(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) : undefined;
  const labels = strings(m.labels);
  const annotations = strings(m.annotations);
  delete annotations?.['kubectl.kubernetes.io/last-applied-configuration'];
  return {
    name: String(m.name ?? ''),
    ...(typeof m.namespace === 'string' ? { namespace: m.namespace } : {}),
    ...(labels && Object.keys(labels).length > 0 ? { labels: labels as Record<string, string> } : {}),
    ...(annotations && Object.keys(annotations).length > 0
      ? { annotations: annotations as Record<string, string> }
      : {}),
    ...(owners.length > 0
      ? {
          ownerReferences: owners.map((o) => ({
            apiVersion: String(o.apiVersion ?? ''),
            kind: String(o.kind ?? ''),
            name: String(o.name ?? ''),
            ...(o.controller === true ? { controller: true } : {}),
          })),
        }
      : {}),
    ...(Array.isArray(m.finalizers) && m.finalizers.length > 0 ? { finalizers: m.finalizers.map(String) } : {}),
  };
}

/** A node's status without its image list: capacity, conditions and what it runs. */
function nodeStatus(status: unknown): unknown {
  if (!isRecord(status)) return status;
  const info = isRecord(status.nodeInfo) ? status.nodeInfo : {};
  return {
    capacity: status.capacity,
    allocatable: status.allocatable,
    conditions: status.conditions,
    nodeInfo: { architecture: info.architecture, kubeletVersion: info.kubeletVersion, osImage: info.osImage },
  };
}

/** Whether a CRD belongs in a capture: one of the captured custom kinds' groups. */
export function isCapturedCrd(raw: unknown): boolean {
  const group = isRecord(raw) && isRecord(raw.spec) ? raw.spec.group : undefined;
  return typeof group === 'string' && CAPTURED_CRD_GROUPS.includes(group);
}

/** An object as the API returned it, trimmed for the capture. */
export function trimObject(kind: CapturedKind, apiVersion: string, raw: unknown): CapturedObject {
  const obj = isRecord(raw) ? raw : {};
  const status = kind === 'Node' ? nodeStatus(obj.status) : obj.status;
  return {
    apiVersion,
    kind,
    metadata: trimMetadata(obj.metadata),
    ...(obj.spec !== undefined ? { spec: obj.spec } : {}),
    ...(status !== undefined ? { status } : {}),
  };
}

/** The Secrets and ConfigMaps the pods name (volumes, env, envFrom, image pull secrets), as `namespace/name`. */
export function referencedByPods(objects: readonly CapturedObject[]): DrillCapture['referenced'] {
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  for (const pod of objects.filter((o) => o.kind === 'Pod')) {
    const ns = pod.metadata.namespace ?? 'default';
    const spec = isRecord(pod.spec) ? pod.spec : {};
    const add = (set: Set<string>, name: unknown) => typeof name === 'string' && name && set.add(`${ns}/${name}`);
    for (const v of Array.isArray(spec.volumes) ? (spec.volumes as Json[]) : []) {
      if (isRecord(v.secret)) add(secrets, v.secret.secretName);
      if (isRecord(v.configMap)) add(configMaps, v.configMap.name);
      const sources =
        isRecord(v.projected) && Array.isArray(v.projected.sources) ? (v.projected.sources as Json[]) : [];
      for (const s of sources) {
        if (isRecord(s.secret)) add(secrets, s.secret.name);
        if (isRecord(s.configMap)) add(configMaps, s.configMap.name);
      }
    }
    const containers = [spec.containers, spec.initContainers].flatMap((c) => (Array.isArray(c) ? (c as Json[]) : []));
    for (const c of containers) {
      for (const e of Array.isArray(c.env) ? (c.env as Json[]) : []) {
        const from = isRecord(e.valueFrom) ? e.valueFrom : {};
        if (isRecord(from.secretKeyRef)) add(secrets, from.secretKeyRef.name);
        if (isRecord(from.configMapKeyRef)) add(configMaps, from.configMapKeyRef.name);
      }
      for (const e of Array.isArray(c.envFrom) ? (c.envFrom as Json[]) : []) {
        if (isRecord(e.secretRef)) add(secrets, e.secretRef.name);
        if (isRecord(e.configMapRef)) add(configMaps, e.configMapRef.name);
      }
    }
    for (const s of Array.isArray(spec.imagePullSecrets) ? (spec.imagePullSecrets as Json[]) : []) add(secrets, s.name);
  }
  return { secrets: [...secrets].sort(), configMaps: [...configMaps].sort() };
}

/** A capture of `objects`, read from `server` at `at`. */
export function captureOf(objects: readonly CapturedObject[], server: string, at: Date): DrillCapture {
  return {
    apiVersion: API_VERSION,
    kind: CAPTURE_KIND,
    metadata: { capturedAt: at.toISOString(), server, redacted: false },
    objects: [...objects],
    referenced: referencedByPods(objects),
  };
}

/** Names Kubernetes itself gives meaning to: kept by `--redact`, since a replay needs them as they are. */
const KEPT_NAMES = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);

/**
 * `--redact`: every namespace, node and object name (and the Secrets and ConfigMaps named) replaced by a neutral one
 * (`ns-1`, `node-1`, `obj-1`...), the same everywhere it appears: in references (owners, nodeName, dependsOn, a
 * PowerPlan's node list, label values) and inside longer strings (a pod named after its owner, an image or a host).
 * Kinds, API versions and field names are kept, and the names Kubernetes defines. CRDs keep only their identity
 * (group, names, versions): their schemas are public, and their prose would carry words that happen to be names
 * here; a replay takes the schemas from the bed's own copies. The API server's address becomes `redacted`.
 */
export function redact(capture: DrillCapture): DrillCapture {
  const renames = new Map<string, string>();
  const counters: Record<string, number> = {};
  const rename = (name: string, prefix: string) => {
    if (!name || KEPT_NAMES.has(name) || renames.has(name)) return;
    counters[prefix] = (counters[prefix] ?? 0) + 1;
    renames.set(name, `${prefix}-${counters[prefix]}`);
  };
  const crds = new Set(
    capture.objects.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => o.metadata.name),
  );
  for (const o of capture.objects) {
    if (o.kind === 'Namespace') rename(o.metadata.name, 'ns');
    if (o.metadata.namespace) rename(o.metadata.namespace, 'ns');
  }
  for (const o of capture.objects) if (o.kind === 'Node') rename(o.metadata.name, 'node');
  for (const o of capture.objects) if (!crds.has(o.metadata.name)) rename(o.metadata.name, 'obj');
  for (const ref of [...capture.referenced.secrets, ...capture.referenced.configMaps]) {
    const [ns = '', name = ''] = ref.split('/');
    rename(ns, 'ns');
    rename(name, 'obj');
  }
  // Longest first, on name boundaries, so that `gitea-db` is not renamed through `gitea`.
  const names = [...renames.keys()].sort((a, b) => b.length - a.length);
  const escaped = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const pattern = names.length > 0 ? new RegExp(`(?<![a-z0-9])(${escaped.join('|')})(?![a-z0-9])`, 'g') : undefined;
  const text = (s: string) => (pattern ? s.replace(pattern, (n) => renames.get(n) ?? n) : s);
  const walk = (value: unknown, key?: string): unknown => {
    if (typeof value === 'string') return key === 'apiVersion' || key === 'kind' ? value : text(value);
    if (Array.isArray(value)) return value.map((v) => walk(v));
    if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    return value;
  };
  const objects = capture.objects.map((o) =>
    crds.has(o.metadata.name) ? crdIdentity(o) : (walk(o) as CapturedObject),
  );
  return {
    ...capture,
    metadata: { ...capture.metadata, server: 'redacted', redacted: true },
    objects,
    referenced: {
      secrets: capture.referenced.secrets.map(text).sort(),
      configMaps: capture.referenced.configMaps.map(text).sort(),
    },
  };
}

/** A CRD reduced to what identifies it: its group, names, scope and versions (served, storage), no schema. */
function crdIdentity(crd: CapturedObject): CapturedObject {
  const spec = isRecord(crd.spec) ? crd.spec : {};
  const versions = Array.isArray(spec.versions) ? (spec.versions as Json[]) : [];
  return {
    apiVersion: crd.apiVersion,
    kind: crd.kind,
    metadata: { name: crd.metadata.name },
    spec: {
      group: spec.group,
      names: spec.names,
      scope: spec.scope,
      versions: versions.map((v) => ({ name: v.name, served: v.served, storage: v.storage })),
    },
  };
}

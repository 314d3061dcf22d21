/**
 * What a Kustomization's workloads need at run time, beyond dependsOn: the StorageClass of their volumes, the
 * database (or other Service) they connect to, and the CRDs a Helm chart installs for the kinds they apply. Each
 * edge is inferred: it names the field it was read from. The graph adds them only where they close no cycle.
 */
import type { Deployed, DeployIndex } from './deploy.js';
import type { Edge } from './graph.js';
import { asArray, asString, dig, isRecord } from './input.js';
import { objectLabel } from './model.js';
import { DATABASE_KINDS, isClusterDns, type ServiceIndex } from './services.js';

/** A need that names no provider in the repo; reported only for the chain's members. */
export interface OpenNeed {
  owner: string;
  subject: string;
  reason: string;
}

interface Provider {
  owner: string;
  /** `StorageClass longhorn (file:line)` or `HelmRelease longhorn-system/longhorn persistence.defaultClass`. */
  what: string;
  isDefault: boolean;
}

/** StorageClasses that charts create with their default values, and whether that one is the default class. */
const CHART_STORAGE: Record<string, { name: string; isDefault: boolean }[]> = {
  longhorn: [{ name: 'longhorn', isDefault: true }],
  'rook-ceph-cluster': [
    { name: 'ceph-block', isDefault: true },
    { name: 'ceph-filesystem', isDefault: false },
    { name: 'ceph-bucket', isDefault: false },
  ],
  'local-path-provisioner': [{ name: 'local-path', isDefault: false }],
  topolvm: [{ name: 'topolvm-provisioner', isDefault: false }],
};

/** API groups whose CRDs a chart installs (the chart's name is also matched against the group's labels). */
const CHART_CRDS: Record<string, string[]> = {
  'cloudnative-pg': ['postgresql.cnpg.io'],
  'rook-ceph': ['ceph.rook.io', 'objectbucket.io'],
  'kube-prometheus-stack': ['monitoring.coreos.com'],
  'prometheus-operator-crds': ['monitoring.coreos.com'],
  pgo: ['postgres-operator.crunchydata.com'],
  'mariadb-operator': ['k8s.mariadb.com'],
  'mariadb-operator-crds': ['k8s.mariadb.com'],
  'dragonfly-operator': ['dragonflydb.io'],
  'cert-manager': ['cert-manager.io', 'acme.cert-manager.io'],
  'external-secrets': ['external-secrets.io', 'generators.external-secrets.io'],
  traefik: ['traefik.io', 'traefik.containo.us'],
  'traefik-crds': ['traefik.io', 'traefik.containo.us'],
  'snapshot-controller': ['snapshot.storage.k8s.io'],
  topolvm: ['topolvm.io', 'topolvm.cybozu.com'],
  'flux-operator': ['fluxcd.controlplane.io'],
  'vault-secrets-operator': ['secrets.hashicorp.com'],
  volsync: ['volsync.backube'],
};

const BUILT_IN_GROUP = /(^|\.)k8s\.io$|^[^.]*$|\.toolkit\.fluxcd\.io$/;
const DEFAULT_KEY = /^(isDefault|isDefaultClass|defaultClass)$/;

type Visit = (key: string, path: string, value: unknown, parent: Record<string, unknown>) => void;

function walk(value: unknown, path: string, visit: Visit, key = '', parent: Record<string, unknown> = {}): void {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) walk(v, `${path}[${i}]`, visit, key, parent);
  } else if (isRecord(value)) {
    visit(key, path, value, parent);
    for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k, visit, k, value);
  } else visit(key, path, value, parent);
}

function label(item: Deployed): string {
  return `${objectLabel(item.id)} (${item.doc.file}:${item.doc.line})`;
}

function chartOf(item: Deployed): string {
  return (
    asString(dig(item.doc.value, 'spec', 'chart', 'spec', 'chart')) ??
    asString(dig(item.doc.value, 'spec', 'chartRef', 'name')) ??
    ''
  );
}

/** StorageClass name → who provides it: StorageClass objects, HelmRelease values that define one, chart defaults. */
function storageProviders(items: Deployed[]): Map<string, Provider[]> {
  const out = new Map<string, Provider[]>();
  const add = (name: string, p: Provider) => out.set(name, [...(out.get(name) ?? []), p]);
  for (const item of items) {
    if (item.id.kind === 'StorageClass') {
      const isDefault =
        dig(item.doc.value, 'metadata', 'annotations', 'storageclass.kubernetes.io/is-default-class') === 'true';
      add(item.id.name, { owner: item.owner, what: label(item), isDefault });
    }
    if (item.id.kind !== 'HelmRelease') continue;
    const values = dig(item.doc.value, 'spec', 'values');
    let defined = false;
    walk(values, 'spec.values', (key, path, value) => {
      if (!/^storageClass(es)?$/i.test(key) || !isRecord(value) || value.enabled === false) return;
      const name = asString(value.name);
      if (!name) return;
      defined = true;
      const flags = { ...value, ...(isRecord(value.storageClass) ? value.storageClass : {}) };
      const isDefault = Object.entries(flags).some(([k, v]) => DEFAULT_KEY.test(k) && v === true);
      add(name, { owner: item.owner, what: `${label(item)} ${path}.name`, isDefault });
    });
    if (defined) continue;
    const chart = chartOf(item);
    const longhornDefault = dig(values, 'persistence', 'defaultClass') !== false;
    for (const sc of CHART_STORAGE[chart] ?? []) {
      const isDefault = chart === 'longhorn' ? longhornDefault : sc.isDefault;
      add(sc.name, {
        owner: item.owner,
        what: `${label(item)} (chart ${chart}, its default StorageClass ${sc.name})`,
        isDefault,
      });
    }
  }
  return out;
}

/** `persistence:` or `storage:` that asks for a volume (enabled, or sized) without naming its class. */
function takesDefaultClass(key: string, value: Record<string, unknown>): boolean {
  if (!/^(persistence|storage)$/.test(key) || 'storageClass' in value || 'storageClassName' in value) return false;
  return value.enabled === true || (value.enabled === undefined && value.size !== undefined);
}

interface Need {
  item: Deployed;
  field: string;
  /** A StorageClass name, or undefined for the default class. */
  storageClass?: string;
}

/** Volumes of an object: explicit storageClassName/storageClass fields, and claims that take the default class. */
function storageNeeds(item: Deployed): Need[] {
  if (item.id.kind === 'StorageClass') return [];
  const out: Need[] = [];
  const base = item.id.kind === 'HelmRelease' ? 'spec.values' : 'spec';
  const root = dig(item.doc.value, ...base.split('.'));
  walk(root, base, (key, path, value) => {
    if (/^storageClass(Name)?$/.test(key) && typeof value === 'string' && value !== '' && value !== '-') {
      out.push({ item, field: path, storageClass: value });
    } else if (isRecord(value) && takesDefaultClass(key, value)) out.push({ item, field: `${path} (no storageClass)` });
  });
  if (item.id.kind === 'PersistentVolumeClaim' && !dig(item.doc.value, 'spec', 'storageClassName')) {
    out.push({ item, field: 'spec (no storageClassName)' });
  }
  asArray(dig(item.doc.value, 'spec', 'volumeClaimTemplates')).forEach((t, i) => {
    if (!dig(t, 'spec', 'storageClassName'))
      out.push({ item, field: `spec.volumeClaimTemplates[${i}] (no storageClassName)` });
  });
  return out;
}

interface Inference {
  edges: Edge[];
  open: OpenNeed[];
}

function inferStorage(items: Deployed[], out: Inference): void {
  const providers = storageProviders(items);
  const defaults = [...providers.values()].flat().filter((p) => p.isDefault);
  for (const need of items.flatMap(storageNeeds)) {
    const list = need.storageClass ? (providers.get(need.storageClass) ?? []) : defaults;
    const what = need.storageClass ? `StorageClass ${need.storageClass}` : 'the default StorageClass';
    const where = { file: need.item.doc.file, line: need.item.doc.line };
    if (list.length !== 1) {
      const why =
        list.length === 0
          ? 'nothing in the repo provides it'
          : `${list.length} objects provide it: ${list.map((p) => p.what).join('; ')}`;
      out.open.push({
        owner: need.item.owner,
        subject: `which Kustomization provides ${what} of ${label(need.item)}`,
        reason: `${need.field} needs it; ${why}`,
      });
      continue;
    }
    const provider = list[0] as Provider;
    if (provider.owner === need.item.owner) continue;
    out.edges.push({
      from: need.item.owner,
      to: provider.owner,
      kind: 'storage',
      reason: `${objectLabel(need.item.id)} uses ${what} (inferred from ${need.field}), provided by ${provider.what}`,
      field: need.field,
      inferred: true,
      where,
    });
  }
}

const HOST_KEY = /(^|_)(host|hostname|server|address|addr)$/i;
/** `name.namespace`, optionally `.svc[.cluster.local]`, as a whole host (not the start of a longer name). */
const DNS_NAME =
  /(?<![-a-z0-9.])[a-z0-9](?:[-a-z0-9]*[a-z0-9])?\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.svc(?:\.[a-z0-9-]+)*)?(?![-a-z0-9]|\.[a-z0-9])/g;

/** In-cluster Service names in an object's strings: `name.namespace[.svc...]`, and bare names in host fields. */
function serviceMentions(
  item: Deployed,
  services: ServiceIndex,
): { ref: { name: string; namespace: string }; field: string }[] {
  const out: { ref: { name: string; namespace: string }; field: string }[] = [];
  const base = item.id.kind === 'HelmRelease' ? 'spec.values' : item.id.kind === 'ConfigMap' ? 'data' : 'spec';
  walk(dig(item.doc.value, ...base.split('.')), base, (key, path, value, parent) => {
    if (typeof value !== 'string') return;
    for (const match of value.toLowerCase().matchAll(DNS_NAME)) {
      const ref = services.serviceOf(match[0]);
      if (ref && (isClusterDns(match[0]) || services.serversOf(ref).length > 0)) out.push({ ref, field: path });
    }
    const envKey = key === 'value' ? asString(parent.name) : key;
    const bare = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(:\d+)?$/.exec(value)?.[1];
    if (bare && envKey && HOST_KEY.test(envKey) && item.id.namespace) {
      const ref = { name: bare, namespace: item.id.namespace };
      if (services.serversOf(ref).length > 0) out.push({ ref, field: path });
    }
  });
  return out;
}

function inferServices(items: Deployed[], services: ServiceIndex, out: Inference): void {
  for (const item of items) {
    if (
      !['HelmRelease', 'ConfigMap', 'Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job'].includes(item.id.kind)
    )
      continue;
    const seen = new Set<string>();
    for (const { ref, field } of serviceMentions(item, services)) {
      const servers = services.serversOf(ref);
      const key = `${ref.namespace}/${ref.name}`;
      if (servers.length === 0 && isClusterDns(`${ref.name}.${ref.namespace}.svc`) && !seen.has(key)) {
        seen.add(key);
        out.open.push({
          owner: item.owner,
          subject: `which Kustomization serves Service ${key} (${label(item)} ${field})`,
          reason: 'no Service, operator, route backend or HelmRelease in the repo makes it',
        });
        continue;
      }
      for (const server of servers.filter((s) => s.site.owner && s.site.owner !== item.owner)) {
        if (seen.has(`${key}>${server.site.owner}`)) continue;
        seen.add(`${key}>${server.site.owner}`);
        const database =
          DATABASE_KINDS.has(server.site.kind) || /postgres|mysql|mariadb|mongo|redis|valkey|dragonfly/.test(ref.name);
        out.edges.push({
          from: item.owner,
          to: server.site.owner as string,
          kind: database ? 'database' : 'service',
          reason: `${objectLabel(item.id)} connects to Service ${key} (inferred from ${field}), served by ${objectLabel(server.site)} ${server.field}`,
          field,
          inferred: true,
          where: { file: item.doc.file, line: item.doc.line },
        });
      }
    }
  }
}

/** Kinds whose CRD no file provides: linked to the HelmRelease whose chart installs that API group. */
function inferChartCrds(items: Deployed[], out: Inference): void {
  const files = new Set<string>();
  for (const { id, doc } of items) {
    if (id.kind === 'CustomResourceDefinition')
      files.add(`${asString(dig(doc.value, 'spec', 'group'))}/${asString(dig(doc.value, 'spec', 'names', 'kind'))}`);
  }
  const charts = items.filter((i) => i.id.kind === 'HelmRelease').map((item) => ({ item, chart: chartOf(item) }));
  const done = new Set<string>();
  for (const item of items) {
    const group = String(dig(item.doc.value, 'apiVersion')).split('/')[0] ?? '';
    if (!group.includes('.') || BUILT_IN_GROUP.test(group) || files.has(`${group}/${item.id.kind}`)) continue;
    const provider = charts.find(
      ({ chart }) => chart !== '' && ((CHART_CRDS[chart] ?? []).includes(group) || group.split('.').includes(chart)),
    );
    if (!provider || provider.item.owner === item.owner || done.has(`${item.owner}>${group}/${item.id.kind}`)) continue;
    done.add(`${item.owner}>${group}/${item.id.kind}`);
    out.edges.push({
      from: item.owner,
      to: provider.item.owner,
      kind: 'crd',
      reason: `${objectLabel(item.id)} needs the ${item.id.kind} CRD (${group}, inferred from apiVersion), installed by the chart ${provider.chart} of ${label(provider.item)}`,
      field: 'apiVersion',
      inferred: true,
      where: { file: item.doc.file, line: item.doc.line },
    });
  }
}

/** Every inferred need of the cluster's Kustomizations, and the needs no object in the repo answers. */
export function inferNeeds(index: DeployIndex, services: ServiceIndex): Inference {
  const items = [...index.byOwner.values()].flat();
  const out: Inference = { edges: [], open: [] };
  inferStorage(items, out);
  inferServices(items, services, out);
  inferChartCrds(items, out);
  return out;
}

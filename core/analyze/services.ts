/**
 * In-cluster Service names: `name.namespace`, `name.namespace.svc`, `name.namespace.svc.cluster.local`. Such a host
 * is served by the Service of that name, which a file may define, an operator may make (a CNPG Cluster makes
 * `<name>-rw`), or a Helm chart may generate; then a route or Ingress backend, a values field or the release's
 * name links it to the Kustomization that deploys it. Never "outside the cluster".
 */
import type { Deployed, DeployIndex } from './deploy.js';
import type { Site } from './facts.js';
import { asArray, asString, dig, isRecord } from './input.js';

export interface ServiceRef {
  name: string;
  namespace: string;
}

/** How an object serves a Service, strongest first. */
export type ServiceEvidence = 'service' | 'operator' | 'backend' | 'release-name' | 'values';

export interface ServiceServer {
  site: Site;
  /** The field that names the Service, such as `spec.rules[0].backendRefs[0].name`. */
  field: string;
  evidence: ServiceEvidence;
}

const EVIDENCE_ORDER: ServiceEvidence[] = ['service', 'operator', 'backend', 'release-name', 'values'];
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** True for hosts that only cluster DNS answers: `*.svc`, `*.svc.cluster.local` (or another cluster domain). */
export function isClusterDns(host: string): boolean {
  return /\.svc$/.test(host) || /\.svc\.[a-z0-9.-]+$/.test(host);
}

/**
 * The Service a host names, or undefined. `name.namespace` (two labels) counts only when `namespaces` (those the
 * cluster uses) has the namespace: `github.com` is not the Service github in namespace com.
 */
export function serviceOfHost(host: string, namespaces: ReadonlySet<string>): ServiceRef | undefined {
  const labels = host.toLowerCase().split('.');
  const [name, namespace, svc] = labels;
  if (!name || !namespace || !LABEL.test(name) || !LABEL.test(namespace)) return undefined;
  if (svc === 'svc') return { name, namespace };
  return labels.length === 2 && namespaces.has(namespace) ? { name, namespace } : undefined;
}

/** Services that operators make from one custom resource: kind → name suffixes. */
const OPERATOR_SERVICES: Record<string, { group: string; suffixes: string[] }> = {
  Cluster: { group: 'postgresql.cnpg.io', suffixes: ['-rw', '-ro', '-r'] },
  Pooler: { group: 'postgresql.cnpg.io', suffixes: [''] },
  PostgresCluster: { group: 'postgres-operator.crunchydata.com', suffixes: ['-primary', '-replicas', '-pgbouncer'] },
  MariaDB: { group: 'k8s.mariadb.com', suffixes: ['', '-primary', '-secondary'] },
  Dragonfly: { group: 'dragonflydb.io', suffixes: [''] },
};

/** Kinds whose Services are databases: an edge to them is a database edge. */
export const DATABASE_KINDS = new Set(['Cluster', 'Pooler', 'PostgresCluster', 'MariaDB', 'Dragonfly']);

function siteOf(item: Deployed): Site {
  return { ...item.id, file: item.doc.file, line: item.doc.line, owner: item.owner };
}

type Found = (server: ServiceServer) => void;

function operatorServes(item: Deployed, ref: ServiceRef, found: Found): void {
  if (item.id.kind === 'StatefulSet' && dig(item.doc.value, 'spec', 'serviceName') === ref.name) {
    found({ site: siteOf(item), field: 'spec.serviceName', evidence: 'operator' });
  }
  const known = OPERATOR_SERVICES[item.id.kind];
  if (!known || !String(dig(item.doc.value, 'apiVersion')).startsWith(`${known.group}/`)) return;
  if (known.suffixes.some((s) => `${item.id.name}${s}` === ref.name)) {
    found({ site: siteOf(item), field: 'metadata.name', evidence: 'operator' });
  }
}

/** Backends of Ingresses, Gateway API routes and Traefik IngressRoutes that name the Service. */
function backendServes(item: Deployed, ref: ServiceRef, found: Found): void {
  const spec = dig(item.doc.value, 'spec');
  const check = (backend: unknown, field: string) => {
    const kind = asString(dig(backend, 'kind')) ?? 'Service';
    const namespace = asString(dig(backend, 'namespace')) ?? item.id.namespace;
    if (kind === 'Service' && dig(backend, 'name') === ref.name && namespace === ref.namespace) {
      found({ site: siteOf(item), field: `${field}.name`, evidence: 'backend' });
    }
  };
  if (item.id.kind === 'Ingress') {
    check(dig(spec, 'defaultBackend', 'service'), 'spec.defaultBackend.service');
    asArray(dig(spec, 'rules')).forEach((rule, i) => {
      asArray(dig(rule, 'http', 'paths')).forEach((path, j) => {
        check(dig(path, 'backend', 'service'), `spec.rules[${i}].http.paths[${j}].backend.service`);
      });
    });
  } else if (item.id.kind.endsWith('Route') && !item.id.kind.startsWith('IngressRoute')) {
    asArray(dig(spec, 'rules')).forEach((rule, i) => {
      asArray(dig(rule, 'backendRefs')).forEach((b, j) => {
        check(b, `spec.rules[${i}].backendRefs[${j}]`);
      });
    });
  } else if (item.id.kind.startsWith('IngressRoute')) {
    asArray(dig(spec, 'routes')).forEach((route, i) => {
      asArray(dig(route, 'services')).forEach((s, j) => {
        check(s, `spec.routes[${i}].services[${j}]`);
      });
    });
  }
}

/** Helm's naming: a chart's Services are `<fullname>` or `<fullname>-<suffix>`, fullname from the release. */
function releaseServes(item: Deployed, ref: ServiceRef, found: Found): void {
  const values = dig(item.doc.value, 'spec', 'values');
  const names = [
    [asString(dig(values, 'fullnameOverride')), 'spec.values.fullnameOverride'],
    [asString(dig(item.doc.value, 'spec', 'releaseName')), 'spec.releaseName'],
    [item.id.name, 'metadata.name'],
  ] as const;
  for (const [name, field] of names) {
    if (name && (ref.name === name || ref.name.startsWith(`${name}-`))) {
      found({
        site: siteOf(item),
        field: `${field} (charts name their Services <release>-<suffix>)`,
        evidence: 'release-name',
      });
      return;
    }
  }
}

/** A values field of the release that names the Service or its host. */
function valuesServe(item: Deployed, ref: ServiceRef, found: Found): void {
  const host = new RegExp(`(^|[/@.])${ref.name}\\.${ref.namespace}(\\.svc|:|/|$)`);
  const visit = (value: unknown, path: string): boolean => {
    if (typeof value === 'string') {
      if (value !== ref.name && !host.test(value)) return false;
      found({ site: siteOf(item), field: path, evidence: 'values' });
      return true;
    }
    if (Array.isArray(value)) return value.some((v, i) => visit(v, `${path}[${i}]`));
    if (isRecord(value)) return Object.entries(value).some(([k, v]) => visit(v, `${path}.${k}`));
    return false;
  };
  visit(dig(item.doc.value, 'spec', 'values'), 'spec.values');
}

/** Who serves each in-cluster Service name, over everything one cluster applies. */
export class ServiceIndex {
  /** Namespaces the cluster uses: its Namespace objects and every namespace an object is applied to. */
  readonly namespaces = new Set<string>();
  private readonly items: Deployed[];
  private readonly cache = new Map<string, ServiceServer[]>();

  constructor(index: DeployIndex) {
    this.items = [...index.byOwner.values()].flat();
    for (const { id } of this.items) {
      if (id.namespace) this.namespaces.add(id.namespace);
      if (id.kind === 'Namespace') this.namespaces.add(id.name);
    }
  }

  serviceOf(host: string): ServiceRef | undefined {
    return serviceOfHost(host, this.namespaces);
  }

  /** The objects that serve the Service, of the strongest kind of evidence found (empty when none). */
  serversOf(ref: ServiceRef): ServiceServer[] {
    const key = `${ref.namespace}/${ref.name}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const all: ServiceServer[] = [];
    const found: Found = (s) => all.push(s);
    for (const item of this.items) {
      if (item.id.kind === 'Service' && item.id.name === ref.name && item.id.namespace === ref.namespace) {
        found({ site: siteOf(item), field: 'metadata.name', evidence: 'service' });
      }
      if (item.id.namespace === ref.namespace) operatorServes(item, ref, found);
      backendServes(item, ref, found);
      if (item.id.kind === 'HelmRelease' && item.id.namespace === ref.namespace) {
        releaseServes(item, ref, found);
        valuesServe(item, ref, found);
      }
    }
    const best = EVIDENCE_ORDER.find((e) => all.some((s) => s.evidence === e));
    const servers = all.filter((s) => s.evidence === best);
    this.cache.set(key, servers);
    return servers;
  }
}

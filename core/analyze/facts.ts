import type { Deployed, DeployIndex } from './deploy.js';
import { hostOfUrl, hostsInTraefikRule, registryOfImage, templateHostOf, templateRegistryOf } from './hosts.js';
import { asArray, asString, dig, isRecord, type Location } from './input.js';
import type { FluxSource, ObjectId, RepoModel } from './model.js';
import type { UnknownVariable, Variables } from './vars.js';

/** An object, where it is written, and the Flux Kustomization that applies it. */
export interface Site extends ObjectId, Location {
  /** Key of the applying Kustomization; undefined when none in the repo applies it. */
  owner?: string;
}

/**
 * A host served by a workload the repo deploys. `route` evidence (Ingress, routes, LB Services) beats `values`;
 * `service` is an in-cluster Service name (services.ts).
 */
export interface HostFact {
  /** A name, or a template (`harbor.${SECRET_DOMAIN}`) when a variable in it is unknown: then `unknown` says why. */
  host: string;
  site: Site;
  field: string;
  evidence: 'route' | 'values' | 'service';
  via: string[];
  unknown?: UnknownVariable[];
}

/** A pull from a registry host: an image, or a Helm chart through its source. */
export interface PullFact {
  /** A name, or a template (see {@link HostFact.host}). */
  host: string;
  reference: string;
  what: 'image' | 'chart';
  site: Site;
  field: string;
  via: string[];
  unknown?: UnknownVariable[];
}

/** A host or pull reference whose `${VAR}` the repo does not resolve. */
export interface UnresolvedText {
  text: string;
  role: 'served host' | 'image' | 'chart source' | 'source URL';
  site: Site;
  field: string;
  unknown: UnknownVariable[];
}

export interface Facts {
  served: HostFact[];
  pulls: PullFact[];
  unresolved: UnresolvedText[];
}

interface Scan {
  vars: Variables;
  facts: Facts;
  site: Site;
}

function siteOf(item: Deployed): Site {
  return { ...item.id, file: item.doc.file, line: item.doc.line, owner: item.owner };
}

function addHost(scan: Scan, text: string, field: string, evidence: HostFact['evidence']): void {
  const resolved = scan.vars.resolve(text, scan.site.owner);
  if (resolved.unknown.length > 0) {
    scan.facts.unresolved.push({ text, role: 'served host', site: scan.site, field, unknown: resolved.unknown });
    const extract = (t: string) => (evidence === 'values' || t.includes('/') ? hostOfUrl(t) : t.trim().toLowerCase());
    for (const part of resolved.value.split(',')) {
      const host = templateHostOf(part, extract);
      if (host)
        scan.facts.served.push({
          host,
          site: scan.site,
          field,
          evidence,
          via: resolved.via,
          unknown: resolved.unknown,
        });
    }
    return;
  }
  for (const part of resolved.value.split(',')) {
    const host = evidence === 'values' || part.includes('/') ? hostOfUrl(part) : part.trim().toLowerCase();
    if (host) scan.facts.served.push({ host, site: scan.site, field, evidence, via: resolved.via });
  }
}

function addPull(
  scan: Scan,
  text: string,
  field: string,
  what: PullFact['what'],
  toHost: (t: string) => string | undefined,
): void {
  const resolved = scan.vars.resolve(text, scan.site.owner);
  // NOTE: an unknown tag does not hide the registry; only an unknown first segment does.
  if ((resolved.value.split('/')[0] ?? '').includes('${')) {
    const template = what === 'image' ? templateRegistryOf(resolved.value) : templateHostOf(resolved.value, toHost);
    if (template) {
      const pull = { host: template, reference: resolved.value, what, site: scan.site, field, via: resolved.via };
      scan.facts.pulls.push({ ...pull, unknown: resolved.unknown });
      return;
    }
    scan.facts.unresolved.push({
      text,
      role: what === 'image' ? 'image' : 'chart source',
      site: scan.site,
      field,
      unknown: resolved.unknown,
    });
    return;
  }
  const host = toHost(resolved.value);
  if (host) scan.facts.pulls.push({ host, reference: resolved.value, what, site: scan.site, field, via: resolved.via });
}

/** Hosts an object serves, by kind (Ingress, Gateway API routes, Traefik IngressRoutes, LoadBalancer Services). */
function scanServed(scan: Scan, value: unknown): void {
  const kind = scan.site.kind;
  const spec = dig(value, 'spec');
  if (kind === 'Ingress') {
    asArray(dig(spec, 'rules')).forEach((rule, i) => {
      const host = asString(dig(rule, 'host'));
      if (host) addHost(scan, host, `spec.rules[${i}].host`, 'route');
    });
  } else if (kind.endsWith('Route') && Array.isArray(dig(spec, 'hostnames'))) {
    asArray(dig(spec, 'hostnames')).forEach((h, i) => {
      if (typeof h === 'string') addHost(scan, h, `spec.hostnames[${i}]`, 'route');
    });
  } else if (kind.startsWith('IngressRoute')) {
    asArray(dig(spec, 'routes')).forEach((route, i) => {
      for (const host of hostsInTraefikRule(asString(dig(route, 'match')) ?? '')) {
        addHost(scan, host, `spec.routes[${i}].match`, 'route');
      }
    });
  } else if (kind === 'Service' && dig(spec, 'type') === 'LoadBalancer') {
    scanLoadBalancer(scan, value);
  }
}

const LB_ANNOTATIONS = [
  'external-dns.alpha.kubernetes.io/hostname',
  'metallb.universe.tf/loadBalancerIPs',
  'metallb.io/loadBalancerIPs',
  'kube-vip.io/loadbalancerIPs',
];

function scanLoadBalancer(scan: Scan, value: unknown): void {
  for (const key of LB_ANNOTATIONS) {
    const text = asString(dig(value, 'metadata', 'annotations', key));
    if (text) addHost(scan, text, `metadata.annotations["${key}"]`, 'route');
  }
  const ip = asString(dig(value, 'spec', 'loadBalancerIP'));
  if (ip) addHost(scan, ip, 'spec.loadBalancerIP', 'route');
}

/** Keys in Helm values that name the host the release itself serves (not one it connects to). */
const SERVED_KEY =
  /^(host|hosts|hostname|hostnames|domain|ssh_domain|fqdn|externalurl|external_url|root_url|rooturl|externalhost)$/i;

type Visit = (key: string, path: string, value: unknown, parent: Record<string, unknown>) => void;

function walk(value: unknown, path: string, visit: Visit, key = '', parent: Record<string, unknown> = {}): void {
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) walk(item, `${path}[${i}]`, visit, key, parent);
  } else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k, visit, k, value);
  } else visit(key, path, value, parent);
}

function looksLikeHost(text: string): boolean {
  return /^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$/i.test(text);
}

/** Images in any object (`image:` strings), and in Helm values (`image: {registry, repository}` too). */
function scanValues(scan: Scan, value: unknown, base: string, isHelmValues: boolean): void {
  walk(value, base, (key, path, leaf, parent) => {
    if (typeof leaf !== 'string' || leaf === '') return;
    if (key === 'image') addPull(scan, leaf, path, 'image', registryOfImage);
    if (!isHelmValues) return;
    if (SERVED_KEY.test(key)) addHost(scan, leaf, path, 'values');
    else if (key === 'repository' && typeof parent.registry === 'string') {
      addPull(scan, `${parent.registry}/${leaf}`, path, 'image', registryOfImage);
    } else if (key === 'repository' && leaf.includes('/')) addPull(scan, leaf, path, 'image', registryOfImage);
    else if (/^(imageRegistry|registry)$/.test(key) && looksLikeHost(leaf))
      addPull(scan, `${leaf}/`, path, 'image', registryOfImage);
  });
}

function sourceIndex(model: RepoModel, index: DeployIndex): Map<string, { source: FluxSource; owner?: string }> {
  const ownerOf = new Map<string, string>();
  for (const [owner, items] of index.byOwner) {
    for (const item of items) ownerOf.set(`${item.id.kind}/${item.id.namespace}/${item.id.name}`, owner);
  }
  const out = new Map<string, { source: FluxSource; owner?: string }>();
  for (const source of model.sources) {
    const key = `${source.kind}/${source.namespace}/${source.name}`;
    const owner = ownerOf.get(key);
    if (!out.has(key)) out.set(key, owner ? { source, owner } : { source });
  }
  return out;
}

/** A HelmRelease pulls its chart from its source's host. */
function scanChart(scan: Scan, value: unknown, sources: ReturnType<typeof sourceIndex>, vars: Variables): void {
  const ref = dig(value, 'spec', 'chart', 'spec', 'sourceRef') ?? dig(value, 'spec', 'chartRef');
  const kind = asString(dig(ref, 'kind'));
  const name = asString(dig(ref, 'name'));
  const found = sources.get(`${kind}/${asString(dig(ref, 'namespace')) ?? scan.site.namespace}/${name}`);
  if (!found?.source.url) return;
  const url = vars.resolve(found.source.url, found.owner);
  const field = `spec.chart.spec.sourceRef → ${found.source.kind} ${found.source.namespace}/${found.source.name}`;
  if (url.unknown.length > 0) {
    const template = templateHostOf(url.value, hostOfUrl);
    if (template) {
      scan.facts.pulls.push({
        host: template,
        reference: url.value,
        what: 'chart',
        site: scan.site,
        field,
        via: url.via,
        unknown: url.unknown,
      });
      return;
    }
    scan.facts.unresolved.push({
      text: found.source.url,
      role: 'chart source',
      site: scan.site,
      field,
      unknown: url.unknown,
    });
    return;
  }
  const host = hostOfUrl(url.value);
  if (host) scan.facts.pulls.push({ host, reference: url.value, what: 'chart', site: scan.site, field, via: url.via });
}

/** Every served host and every pull in what the repo's Kustomizations apply. */
export function collectFacts(model: RepoModel, index: DeployIndex, vars: Variables): Facts {
  const facts: Facts = { served: [], pulls: [], unresolved: [] };
  const sources = sourceIndex(model, index);
  for (const items of index.byOwner.values()) {
    for (const item of items) {
      const scan: Scan = { vars, facts, site: siteOf(item) };
      const value = item.doc.value;
      scanServed(scan, value);
      if (item.id.kind === 'HelmRelease') {
        scanValues(scan, dig(value, 'spec', 'values'), 'spec.values', true);
        scanChart(scan, value, sources, vars);
      } else if (!['ConfigMap', 'Secret'].includes(item.id.kind)) scanValues(scan, dig(value, 'spec'), 'spec', false);
    }
  }
  return facts;
}

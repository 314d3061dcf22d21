/** What the two deadlock detectors share: who serves a host, and how findings are worded. */
import type { DeployIndex } from './deploy.js';
import type { Facts, HostFact, UnresolvedText } from './facts.js';
import type { GitDeadlock, RegistryFinding, Undecided } from './findings.js';
import { type DependencyGraph, edgesFrom } from './graph.js';
import { hostMatches, isTemplate } from './hosts.js';
import type { Location } from './input.js';
import type { ObjectId, RepoModel } from './model.js';
import type { ServiceIndex } from './services.js';
import type { Variables } from './vars.js';

export function objectText(o: ObjectId & Partial<Location>): string {
  const where = o.file ? ` (${o.file}:${o.line})` : '';
  return `${o.kind} ${o.namespace ? `${o.namespace}/` : ''}${o.name}${where}`;
}

/** Everything the Kustomization `key` needs, transitively (not itself). */
export function closureOf(graph: DependencyGraph, key: string): Set<string> {
  const out = edgesFrom(graph);
  const seen = new Set<string>();
  const stack = [key];
  while (stack.length > 0) {
    for (const edge of out.get(stack.pop() as string) ?? []) {
      if (seen.has(edge.to)) continue;
      seen.add(edge.to);
      stack.push(edge.to);
    }
  }
  seen.delete(key);
  return seen;
}

/** Who serves a host: the Service's makers for an in-cluster name, else route objects when any, else Helm values. */
export function servingFacts(facts: Facts, host: string, services: ServiceIndex): HostFact[] {
  const ref = services.serviceOf(host);
  if (ref) {
    return services.serversOf(ref).map((s) => ({
      host,
      site: s.site,
      field: `${s.field} [${s.evidence === 'service' ? 'the Service' : `${s.evidence}: Service ${ref.namespace}/${ref.name}`}]`,
      evidence: 'service' as const,
      via: [],
    }));
  }
  const all = facts.served.filter((f) => f.site.owner && hostMatches(f.host, host));
  const routes = all.filter((f) => f.evidence === 'route');
  return routes.length > 0 ? routes : all;
}

/** Why a template host counts as one host on both sides. */
export function templateNote(host: string, facts: HostFact[]): string[] {
  if (!isTemplate(host)) return [];
  const unknown = [...new Set(facts.flatMap((f) => f.unknown ?? []).map((v) => `\${${v.name}} ${v.reason}`))];
  return [
    `(${host} is matched as written: both sides name the same template, so it is the same host whatever the value${unknown.length > 0 ? `; ${unknown.join('; ')}` : ''})`,
  ];
}

export function byOwner(list: HostFact[]): Map<string, HostFact[]> {
  const out = new Map<string, HostFact[]>();
  for (const fact of list) out.set(fact.site.owner as string, [...(out.get(fact.site.owner as string) ?? []), fact]);
  return out;
}

export function factText(fact: HostFact): string {
  const via = fact.via.length > 0 ? ` [${fact.via.join('; ')}]` : '';
  return `${objectText(fact.site)} ${fact.field}${via}`;
}

export function unresolvedText(u: UnresolvedText): string {
  return `${objectText(u.site)} ${u.field} "${u.text}": ${u.unknown.map((v) => `\${${v.name}} ${v.reason}`).join('; ')}`;
}

export interface Detection {
  git: GitDeadlock[];
  registries: RegistryFinding[];
  /** Sources whose host nothing in the repo serves: the source is outside the cluster (no Git cycle). */
  external: { source: string; host: string }[];
  undecided: Undecided[];
}

/** What one cluster's detection reads, and where it writes. */
export interface Scope {
  model: RepoModel;
  index: DeployIndex;
  facts: Facts;
  vars: Variables;
  services: ServiceIndex;
  out: Detection;
}

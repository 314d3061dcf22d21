import type { DeployIndex } from './deploy.js';
import type { Facts, HostFact, PullFact, UnresolvedText } from './facts.js';
import { type DependencyGraph, edgesFrom } from './graph.js';
import { hostMatches, hostOfUrl } from './hosts.js';
import type { Location } from './input.js';
import { ksKey, type ObjectId, type RepoModel } from './model.js';
import type { Variables } from './vars.js';

/** A Flux source served by a workload that Flux applies from that same source (deadlock 1). */
export interface GitDeadlock {
  type: 'git-source';
  source: ObjectId & Location & { url: string; host: string; branch?: string };
  /** The objects that serve the host, all applied by `kustomization`. */
  servedBy: HostFact[];
  kustomization: string;
  /** Human-readable chain of objects, from the source around to itself. */
  links: string[];
}

/** A registry the repo deploys, and who pulls from it; a deadlock when the registry or its dependencies do. */
export interface RegistryFinding {
  type: 'registry';
  host: string;
  servedBy: HostFact[];
  kustomization: string;
  pulls: PullFact[];
  /** Pulls by the registry's own Kustomization or one it needs (transitively): these cannot start without it. */
  selfPulls: PullFact[];
  deadlock: boolean;
  links: string[];
}

/** A question the analysis could not answer from the repo, with why. */
export interface Undecided {
  subject: string;
  reason: string;
}

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

/** Serving evidence for a host: route objects when there are any, else Helm values. */
function servingFacts(facts: Facts, host: string): HostFact[] {
  const all = facts.served.filter((f) => f.site.owner && hostMatches(f.host, host));
  const routes = all.filter((f) => f.evidence === 'route');
  return routes.length > 0 ? routes : all;
}

function byOwner(list: HostFact[]): Map<string, HostFact[]> {
  const out = new Map<string, HostFact[]>();
  for (const fact of list) out.set(fact.site.owner as string, [...(out.get(fact.site.owner as string) ?? []), fact]);
  return out;
}

function factText(fact: HostFact): string {
  const via = fact.via.length > 0 ? ` [${fact.via.join('; ')}]` : '';
  return `${objectText(fact.site)} ${fact.field}${via}`;
}

function unresolvedText(u: UnresolvedText): string {
  return `${objectText(u.site)} ${u.field} "${u.text}": ${u.unknown.map((v) => `\${${v.name}} ${v.reason}`).join('; ')}`;
}

export interface Detection {
  git: GitDeadlock[];
  registries: RegistryFinding[];
  /** Sources whose host nothing in the repo serves: the source is outside the cluster (no Git cycle). */
  external: { source: string; host: string }[];
  undecided: Undecided[];
}

function ownerMap(index: DeployIndex): Map<string, string> {
  const out = new Map<string, string>();
  for (const [owner, items] of index.byOwner) {
    for (const { id } of items)
      if (!out.has(`${id.kind}/${id.namespace}/${id.name}`)) out.set(`${id.kind}/${id.namespace}/${id.name}`, owner);
  }
  return out;
}

/** Deadlock 1 for every source that some Kustomization applies from. */
function detectGit(model: RepoModel, index: DeployIndex, facts: Facts, vars: Variables, out: Detection): void {
  const owners = ownerMap(index);
  const used = new Set(
    model.kustomizations.map((k) => `${k.sourceRef.kind}/${k.sourceRef.namespace}/${k.sourceRef.name}`),
  );
  for (const source of model.sources) {
    const key = `${source.kind}/${source.namespace}/${source.name}`;
    if (!used.has(key) || !source.url || source.kind === 'HelmRepository') continue;
    const url = vars.resolve(source.url, owners.get(key));
    const label = objectText(source);
    const host = url.unknown.length === 0 ? hostOfUrl(url.value) : undefined;
    if (!host) {
      out.undecided.push({
        subject: `whether ${label} is self-hosted`,
        reason: `its URL "${source.url}" has no host the repo resolves${url.unknown.map((v) => `; \${${v.name}} ${v.reason}`).join('')}`,
      });
      continue;
    }
    const serving = byOwner(servingFacts(facts, host));
    const cycles = [...serving].filter(([owner]) => {
      const ks = model.kustomizations.find((k) => ksKey(k) === owner);
      return ks && `${ks.sourceRef.kind}/${ks.sourceRef.namespace}/${ks.sourceRef.name}` === key;
    });
    for (const [owner, served] of cycles) {
      const ks = model.kustomizations.find((k) => ksKey(k) === owner);
      out.git.push({
        type: 'git-source',
        source: { ...source, url: url.value, host },
        servedBy: served,
        kustomization: owner,
        links: [
          `${label} fetches ${url.value}${url.via.length > 0 ? ` [${url.via.join('; ')}]` : ''}`,
          ...served.map((f) => `host ${host} is served by ${factText(f)}`),
          `which Kustomization ${owner} applies (path ./${ks?.path ?? '?'}, ${ks?.file}:${ks?.line})`,
          `from ${source.kind} ${source.namespace}/${source.name}, the source it cannot fetch until ${host} answers`,
        ],
      });
    }
    if (serving.size === 0) noteUnserved(facts, label, host, out);
  }
}

function noteUnserved(facts: Facts, label: string, host: string, out: Detection): void {
  const hidden = facts.unresolved.filter((u) => u.role === 'served host');
  if (hidden.length === 0) {
    out.external.push({ source: label, host });
    return;
  }
  out.undecided.push({
    subject: `whether ${host} (${label}) is served inside the cluster`,
    reason: `no object in the repo serves it, but these hosts are unknown: ${hidden.map(unresolvedText).join(' | ')}`,
  });
}

/** Every in-repo registry that something pulls from; a deadlock when the registry's own side pulls from it. */
function detectRegistries(graph: DependencyGraph, facts: Facts, out: Detection): void {
  const pullHosts = new Set(facts.pulls.map((p) => p.host));
  for (const host of [...pullHosts].sort()) {
    if (host === 'docker.io') continue;
    for (const [owner, served] of byOwner(servingFacts(facts, host))) {
      const needs = closureOf(graph, owner);
      const pulls = facts.pulls.filter((p) => p.host === host);
      const selfPulls = pulls.filter((p) => p.site.owner === owner || needs.has(p.site.owner ?? ''));
      out.registries.push({
        type: 'registry',
        host,
        servedBy: served,
        kustomization: owner,
        pulls,
        selfPulls,
        deadlock: selfPulls.length > 0,
        links: [
          ...served.map((f) => `registry ${host} is served by ${factText(f)}`),
          `which Kustomization ${owner} applies`,
          ...selfPulls.map(
            (p) =>
              `${p.site.owner === owner ? 'and it' : `and ${p.site.owner}, which ${owner} needs,`} pulls ${p.what} ${p.reference} (${objectText(p.site)} ${p.field})`,
          ),
        ],
      });
    }
  }
  for (const u of facts.unresolved.filter((x) => x.role === 'image' || x.role === 'chart source')) {
    out.undecided.push({ subject: `which registry ${objectText(u.site)} pulls from`, reason: unresolvedText(u) });
  }
}

/** Both deadlocks, the external sources, and what the repo does not tell. */
export function detectSelfHosting(
  model: RepoModel,
  index: DeployIndex,
  graph: DependencyGraph,
  facts: Facts,
  vars: Variables,
): Detection {
  const out: Detection = { git: [], registries: [], external: [], undecided: [] };
  detectGit(model, index, facts, vars, out);
  detectRegistries(graph, facts, out);
  return out;
}

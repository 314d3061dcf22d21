/** Deadlock 2: a registry the cluster deploys that it, or what it needs, pulls from. */
import type { DependencyGraph } from './graph.js';
import { isTemplate, templateCouldBe } from './hosts.js';
import { isClusterDns } from './services.js';
import {
  byOwner,
  closureOf,
  factText,
  objectText,
  type Scope,
  servingFacts,
  templateNote,
  unresolvedText,
} from './serving.js';

/** Every in-repo registry that something pulls from; a deadlock when the registry's own side pulls from it. */
export function detectRegistries(scope: Scope, graph: DependencyGraph): void {
  const { facts, out } = scope;
  // NOTE: `zot.registry:5000` and `zot.registry.svc.cluster.local` are one registry: in-cluster names are grouped.
  const canonical = (host: string) => {
    const ref = scope.services.serviceOf(host);
    return ref ? `${ref.name}.${ref.namespace}.svc` : host;
  };
  const pullHosts = new Set(facts.pulls.map((p) => canonical(p.host)));
  for (const host of [...pullHosts].sort()) {
    if (host === 'docker.io') continue;
    const serving = byOwner(servingFacts(facts, host, scope.services));
    if (serving.size === 0) noteUnservedRegistry(scope, host);
    for (const [owner, served] of serving) {
      const needs = closureOf(graph, owner);
      const pulls = facts.pulls.filter((p) => canonical(p.host) === host);
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
          ...templateNote(host, served),
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
    out.undecided.push({
      subject: `which registry ${objectText(u.site)} pulls from`,
      reason: unresolvedText(u),
      about: 'registry',
    });
  }
}

/** A pulled host no object serves: undecided when it is in-cluster, a template, or could be a served template. */
function noteUnservedRegistry(scope: Scope, host: string): void {
  const ref = scope.services.serviceOf(host);
  const pullers = scope.facts.pulls.filter((p) => {
    const other = scope.services.serviceOf(p.host);
    return p.host === host || (ref && other && other.name === ref.name && other.namespace === ref.namespace);
  });
  const first = pullers[0];
  const where = first
    ? `${objectText(first.site)} ${first.field}${pullers.length > 1 ? ` and ${pullers.length - 1} more` : ''}`
    : '';
  const subject = `whether registry ${host} (pulled by ${where}) is served inside the cluster`;
  if (isTemplate(host)) {
    const unknown = [...new Set((first?.unknown ?? []).map((v) => `\${${v.name}} ${v.reason}`))];
    scope.out.undecided.push({
      subject,
      reason: `no object serves the template ${host}${unknown.length > 0 ? `; ${unknown.join('; ')}` : ''}`,
      about: 'registry',
    });
  } else if (scope.services.serviceOf(host) || isClusterDns(host)) {
    scope.out.undecided.push({
      subject,
      reason: `${host} is an in-cluster Service name, but nothing in the repo makes it`,
      about: 'registry',
    });
  } else {
    const could = scope.facts.served.filter((f) => isTemplate(f.host) && templateCouldBe(f.host, host));
    if (could.length > 0) {
      scope.out.undecided.push({
        subject,
        reason: `it could be ${could.map(factText).join('; ')}, whose host has an unknown variable`,
        about: 'registry',
      });
    }
  }
}

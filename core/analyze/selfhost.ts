import type { DeployIndex } from './deploy.js';
import type { Facts } from './facts.js';
import type { DependencyGraph } from './graph.js';
import { hostOfUrl, isTemplate, templateCouldBe, templateHostOf } from './hosts.js';
import { type FluxSource, ksKey, type ObjectId, type RepoModel } from './model.js';
import { detectRegistries } from './registries.js';
import { isClusterDns, type ServiceIndex } from './services.js';
import {
  byOwner,
  type Detection,
  factText,
  objectText,
  type Scope,
  servingFacts,
  templateNote,
  unresolvedText,
} from './serving.js';
import type { Resolved, Variables } from './vars.js';

export { closureOf, type Detection, objectText } from './serving.js';

function ownerMap(index: DeployIndex): Map<string, string> {
  const out = new Map<string, string>();
  for (const [owner, items] of index.byOwner) {
    for (const { id } of items)
      if (!out.has(`${id.kind}/${id.namespace}/${id.name}`)) out.set(`${id.kind}/${id.namespace}/${id.name}`, owner);
  }
  return out;
}

const refKey = (r: ObjectId) => `${r.kind}/${r.namespace}/${r.name}`;

/** A source's host: resolved, else a template of it; undefined (and undecided) when neither can be read. */
function sourceHost(
  scope: Scope,
  source: FluxSource,
  owner: string | undefined,
): { host: string; url: Resolved } | undefined {
  const label = objectText(source);
  const subject = `whether ${label} is self-hosted`;
  if (!source.url) {
    scope.out.undecided.push({
      subject,
      reason: `it has no URL in the repo (${source.kind === 'Bucket' ? 'spec.endpoint' : 'spec.url'} is missing)`,
      about: 'git',
    });
    return undefined;
  }
  const url = scope.vars.resolve(source.url, owner);
  const host = url.unknown.length === 0 ? hostOfUrl(url.value) : templateHostOf(url.value, hostOfUrl);
  if (!host) {
    scope.out.undecided.push({
      subject,
      reason: `its URL "${source.url}" has no host the repo resolves${url.unknown.map((v) => `; \${${v.name}} ${v.reason}`).join('')}`,
      about: 'git',
    });
    return undefined;
  }
  return { host, url };
}

/** Deadlock 1 for every source that some Kustomization applies from. */
function detectGit(scope: Scope): void {
  const { model, out } = scope;
  const owners = ownerMap(scope.index);
  const used = new Map<string, ObjectId>();
  for (const ks of model.kustomizations)
    if (ks.sourceRef.kind !== 'HelmRepository') used.set(refKey(ks.sourceRef), ks.sourceRef);
  for (const [key, ref] of used) {
    const source = model.sources.find((s) => refKey(s) === key);
    if (!source) {
      out.undecided.push({
        subject: `whether ${ref.kind} ${ref.namespace}/${ref.name} is self-hosted`,
        reason:
          'Kustomizations apply from it, but it is not in the repo (created outside it, such as by flux bootstrap): its URL is unknown',
        about: 'git',
      });
      continue;
    }
    const found = sourceHost(scope, source, owners.get(key));
    if (!found) continue;
    const { host, url } = found;
    const label = objectText(source);
    const serving = byOwner(servingFacts(scope.facts, host, scope.services));
    const cycles = [...serving].filter(([owner]) => {
      const ks = model.kustomizations.find((k) => ksKey(k) === owner);
      return ks && refKey(ks.sourceRef) === key;
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
          ...templateNote(host, served),
          `which Kustomization ${owner} applies (path ./${ks?.path ?? '?'}, ${ks?.file}:${ks?.line})`,
          `from ${source.kind} ${source.namespace}/${source.name}, the source it cannot fetch until ${host} answers`,
        ],
      });
    }
    if (serving.size === 0) noteUnserved(scope, label, host);
  }
}

/** True unless `text` (a served host with unknown variables) has a shape that can never be `host`. */
function couldServe(text: string, host: string): boolean {
  const template = templateHostOf(text, (t) => (t.includes('/') ? hostOfUrl(t) : t.trim().toLowerCase()));
  return template === undefined || templateCouldBe(template, host);
}

/** A host nothing serves: outside the cluster, unless it is in-cluster, a template, or hidden behind a variable. */
function noteUnserved(scope: Scope, label: string, host: string): void {
  const { facts, out } = scope;
  const subject = `whether ${host} (${label}) is served inside the cluster`;
  if (isTemplate(host)) {
    out.undecided.push({
      subject,
      reason: `its host is the template ${host}, and no object serves the same template`,
      about: 'git',
    });
    return;
  }
  if (scope.services.serviceOf(host) || isClusterDns(host)) {
    out.undecided.push({
      subject,
      reason: `${host} is an in-cluster Service name, but no Service, operator, route backend or HelmRelease in the repo makes it`,
      about: 'git',
    });
    return;
  }
  const hidden = facts.unresolved.filter((u) => u.role === 'served host' && couldServe(u.text, host));
  if (hidden.length === 0) {
    out.external.push({ source: label, host });
    return;
  }
  out.undecided.push({
    subject,
    reason: `no object in the repo serves it, but these hosts are unknown: ${hidden.map(unresolvedText).join(' | ')}`,
    about: 'git',
  });
}

/** Both deadlocks, the external sources, and what the repo does not tell. */
export function detectSelfHosting(
  model: RepoModel,
  index: DeployIndex,
  graph: DependencyGraph,
  facts: Facts,
  vars: Variables,
  services: ServiceIndex,
): Detection {
  const out: Detection = { git: [], registries: [], external: [], undecided: [] };
  const scope: Scope = { model, index, facts, vars, services, out };
  detectGit(scope);
  detectRegistries(scope, graph);
  return out;
}

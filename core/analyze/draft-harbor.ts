/** The Harbor seed stage of a draft PowerPlan: the registry's node, namespace, release, version and arch. */
import type { Deployed } from './deploy.js';
import type { Draft } from './draft-model.js';
import { asString, isRecord } from './input.js';

/** Kubernetes name rules: a DNS label, a DNS subdomain. */
export const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Values of the node label `key` in selectors and affinities (`key: value`, or `{ key, values }`), first seen first. */
export function labelValuesIn(value: unknown, key: string, out: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) labelValuesIn(v, key, out);
  if (!isRecord(value)) return;
  const pinned = asString(value[key]);
  if (pinned && SUBDOMAIN.test(pinned)) out.add(pinned);
  if (value.key === key && Array.isArray(value.values)) {
    for (const v of value.values) if (typeof v === 'string' && SUBDOMAIN.test(v)) out.add(v);
  }
  for (const v of Object.values(value)) labelValuesIn(v, key, out);
}

/** The most common semver tag in the registry's images and values. */
function mostCommonVersion(items: readonly Deployed[]): string | undefined {
  const counts = new Map<string, number>();
  const count = (v: string) => counts.set(v, (counts.get(v) ?? 0) + 1);
  const visit = (v: unknown, key: string): void => {
    if (Array.isArray(v)) for (const x of v) visit(x, key);
    else if (isRecord(v)) for (const [k, x] of Object.entries(v)) visit(x, k);
    else if (typeof v !== 'string') return;
    else if (key === 'tag' && /^v?[0-9]+\.[0-9]+\.[0-9]+/.test(v)) count(v);
    else if (key === 'image') {
      const tag = /:(v?[0-9]+\.[0-9]+\.[0-9]+[^@]*)(@.*)?$/.exec(v)?.[1];
      if (tag) count(tag);
    }
  };
  for (const d of items) visit(d.doc.value, '');
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
}

function harborNode(draft: Draft, deployed: readonly Deployed[], where: string): unknown {
  const pinned = new Set<string>();
  for (const d of deployed) labelValuesIn(d.doc.value, 'kubernetes.io/hostname', pinned);
  const node = [...pinned][0];
  const live = draft.input.nodes?.nodes;
  if (node && (!live || live.some((n) => n.name === node))) return node;
  draft.todos.push({
    path: ['spec', 'harbor', 'node'],
    what: node
      ? `${where} pins the registry to node ${node}, which the cluster does not have: name the node that holds its images`
      : `nothing in ${where} pins the registry to a node: name the node whose containerd holds its images`,
  });
  return null;
}

function harborArch(draft: Draft, deployed: readonly Deployed[], node: unknown): unknown {
  const live = draft.input.nodes?.nodes.find((n) => n.name === node)?.arch;
  if (live) return live;
  const archs = new Set<string>();
  for (const d of deployed) labelValuesIn(d.doc.value, 'kubernetes.io/arch', archs);
  const [arch] = [...archs];
  if (archs.size === 1 && (arch === 'amd64' || arch === 'arm64')) return arch;
  draft.todos.push({
    path: ['spec', 'harbor', 'arch'],
    what: 'amd64 or arm64: the architecture of the registry node (the bundle holds one); the repo does not say',
  });
  return null;
}

export function harborSpec(draft: Draft): Record<string, unknown> | undefined {
  const { registry, index, helmReleases } = draft.input;
  if (!registry) return undefined;
  const deployed = index.byOwner.get(registry.kustomization) ?? [];
  const release = helmReleases.find((h) => deployed.some((d) => d.doc.file === h.file && d.doc.line === h.line));
  const where = release
    ? `HelmRelease ${release.namespace}/${release.name}`
    : `Kustomization ${registry.kustomization}`;
  const node = harborNode(draft, deployed, where);
  const namespace = release?.namespace ?? registry.servedBy[0]?.site.namespace;
  const version = mostCommonVersion(deployed);
  const harbor: Record<string, unknown> = { node };
  if (namespace && LABEL.test(namespace)) harbor.namespace = namespace;
  else {
    harbor.namespace = null;
    draft.todos.push({
      path: ['spec', 'harbor', 'namespace'],
      what: `the namespace the registry ${registry.host} runs in`,
    });
  }
  if (release && SUBDOMAIN.test(release.name)) harbor.helmRelease = release.name;
  else {
    harbor.helmRelease = null;
    draft.todos.push({
      path: ['spec', 'harbor', 'helmRelease'],
      what: `the HelmRelease reconciled after seeding: ${registry.kustomization} deploys the registry ${registry.host} without one`,
    });
  }
  harbor.version = version ?? null;
  if (!version) {
    draft.todos.push({
      path: ['spec', 'harbor', 'version'],
      what: `the registry version of the bundle: no image tag in ${where}`,
    });
  }
  harbor.arch = harborArch(draft, deployed, node);
  return harbor;
}

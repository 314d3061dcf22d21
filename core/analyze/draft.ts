import { API_VERSION } from '../api/meta.js';
import { type PowerPlanSpecInput, powerPlan } from '../api/powerplan.js';
import { parseOrThrow } from '../api/validate.js';
import { toYaml } from '../yaml.js';
import type { DerivedChain } from './chain.js';
import type { Deployed, DeployIndex } from './deploy.js';
import { asString, isRecord } from './input.js';
import type { FluxKustomization, HelmReleaseInfo } from './model.js';
import { ksKey } from './model.js';
import type { GitDeadlock, RegistryFinding } from './selfhost.js';

export interface DraftInput {
  name: string;
  chain: DerivedChain;
  git: readonly GitDeadlock[];
  registry?: RegistryFinding;
  kustomizations: readonly FluxKustomization[];
  helmReleases: readonly HelmReleaseInfo[];
  index: DeployIndex;
}

/** A draft PowerPlan (validated by the PowerPlan schema) and what a person must review before using it. */
export interface DraftPlan {
  /** Only the fields the repo decides; the schema's defaults fill the rest when the plan is read. */
  plan: { apiVersion: string; kind: 'PowerPlan'; metadata: { name: string }; spec: PowerPlanSpecInput };
  review: string[];
}

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const WORKLOADS = ['HelmRelease', 'Deployment', 'StatefulSet', 'DaemonSet'];
const MAX_WAIT = 6;

function toLabel(name: string, taken: Set<string>): string {
  const base =
    name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 56) || 'stage';
  let label = base;
  for (let i = 2; taken.has(label); i++) label = `${base}-${i}`;
  taken.add(label);
  return label;
}

function isName(text: string): boolean {
  return LABEL.test(text) || /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text);
}

/** Flux's own health checks when the Kustomization has them, else the workloads it applies. */
function waitFor(
  ks: FluxKustomization | undefined,
  deployed: Deployed[],
): { kind: string; namespace?: string; name: string }[] {
  const refs =
    ks && ks.healthChecks.length > 0
      ? ks.healthChecks
      : deployed.map((d) => d.id).filter((id) => WORKLOADS.includes(id.kind));
  return refs
    .filter((r) => isName(r.name) && (r.namespace === '' || LABEL.test(r.namespace)))
    .slice(0, MAX_WAIT)
    .map((r) => ({ kind: r.kind, ...(r.namespace ? { namespace: r.namespace } : {}), name: r.name }));
}

/** Node names from `kubernetes.io/hostname` selectors and affinities, in the order first seen. */
function hostnamesIn(value: unknown, out: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) hostnamesIn(v, out);
  if (!isRecord(value)) return;
  const pinned = asString(value['kubernetes.io/hostname']);
  if (pinned && isName(pinned)) out.add(pinned);
  if (value.key === 'kubernetes.io/hostname' && Array.isArray(value.values)) {
    for (const v of value.values) if (typeof v === 'string' && isName(v)) out.add(v);
  }
  for (const v of Object.values(value)) hostnamesIn(v, out);
}

function mostCommonVersion(value: unknown): string | undefined {
  const counts = new Map<string, number>();
  const visit = (v: unknown, key: string): void => {
    if (Array.isArray(v)) for (const x of v) visit(x, key);
    else if (isRecord(v)) for (const [k, x] of Object.entries(v)) visit(x, k);
    else if (key === 'tag' && typeof v === 'string' && /^v?[0-9]+\.[0-9]+\.[0-9]+/.test(v))
      counts.set(v, (counts.get(v) ?? 0) + 1);
  };
  visit(value, '');
  return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
}

function harborStage(input: DraftInput, nodes: string[], review: string[]): PowerPlanSpecInput['harbor'] {
  const registry = input.registry;
  if (!registry) return undefined;
  const deployed = input.index.byOwner.get(registry.kustomization) ?? [];
  const release = input.helmReleases.find((h) => deployed.some((d) => d.doc.file === h.file && d.doc.line === h.line));
  const pinned = new Set<string>();
  for (const d of deployed) hostnamesIn(d.doc.value, pinned);
  const node = [...pinned][0] ?? nodes[0] ?? 'node-1';
  if (pinned.size === 0)
    review.push(
      `harbor.node: nothing in ${registry.kustomization} pins the registry to a node; set the node that holds its images`,
    );
  const version = mostCommonVersion(release?.values);
  if (!version)
    review.push(
      `harbor.version: no image tag in ${release ? `HelmRelease ${release.name}` : registry.kustomization}'s values; set the registry version of the bundle`,
    );
  review.push('harbor.arch: not in the repo; arm64 assumed (the bundle is per architecture)');
  const namespace = release?.namespace ?? registry.servedBy[0]?.site.namespace;
  return {
    node,
    ...(namespace && LABEL.test(namespace) ? { namespace } : {}),
    ...(release && isName(release.name) ? { helmRelease: release.name } : {}),
    version: version ?? 'v0.0.0',
    arch: 'arm64',
  };
}

function nodesOf(input: DraftInput, review: string[]): string[] {
  const names = new Set<string>();
  for (const items of input.index.byOwner.values()) for (const d of items) hostnamesIn(d.doc.value, names);
  if (names.size === 0) names.add('node-1');
  review.push(
    `nodes: ${[...names].join(', ')} (from kubernetes.io/hostname selectors); add every node with its role, arch and order`,
  );
  return [...names].sort();
}

/** Drafts a PowerPlan from the derived chain and the registry seed; throws a ValidationError if it is invalid. */
export function draftPlan(input: DraftInput): DraftPlan {
  const review: string[] = [];
  const byKey = new Map(input.kustomizations.map((k) => [ksKey(k), k]));
  const taken = new Set<string>();
  const bootstrapChain = input.chain.stages.map((stage) => {
    const ks = byKey.get(stage.key);
    const wait = waitFor(ks, input.index.byOwner.get(stage.key) ?? []);
    return {
      name: toLabel(stage.name, taken),
      path: stage.path || '.',
      kustomization: { name: stage.name, ...(LABEL.test(stage.namespace) ? { namespace: stage.namespace } : {}) },
      ...(wait.length > 0 ? { waitFor: wait } : {}),
      ...(ks?.timeout && DURATION.test(ks.timeout) ? { timeout: ks.timeout } : {}),
    };
  });
  if (bootstrapChain.length === 0)
    review.push('bootstrapChain: no self-hosted Git source was found; the chain is empty');
  const nodes = nodesOf(input, review);
  const harbor = harborStage(input, nodes, review);
  if (harbor && !nodes.includes(harbor.node)) nodes.push(harbor.node);
  const source = input.git[0]?.source;
  const draft = {
    apiVersion: API_VERSION,
    kind: 'PowerPlan' as const,
    metadata: { name: input.name },
    spec: {
      flux: source
        ? {
            namespace: source.namespace,
            source: {
              kind: source.kind,
              name: source.name,
              url: source.url,
              ...(source.branch ? { branch: source.branch } : {}),
            },
          }
        : {},
      bootstrapChain: bootstrapChain.length > 0 ? bootstrapChain : [{ name: 'review-me', path: '.' }],
      ...(harbor ? { harbor } : {}),
      nodes: nodes.map((name) => ({ name, role: 'worker' })),
    },
  };
  parseOrThrow(powerPlan, draft, 'the drafted PowerPlan');
  return { plan: draft as DraftPlan['plan'], review };
}

/** The draft as YAML 1.1, with the review list as a comment header. */
export function draftPlanYaml(draft: DraftPlan, repo: string): string {
  const header = [
    `# Draft PowerPlan from \`hecate analyze --repo ${repo}\`. Review before use:`,
    ...draft.review.map((line) => `#   - ${line}`),
  ];
  return `${header.join('\n')}\n${toYaml(draft.plan)}`;
}

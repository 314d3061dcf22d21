import type { PowerPlanSpec } from '../api/powerplan.js';
import type { DerivedChain } from './chain.js';
import type { GitDeadlock, RegistryFinding } from './findings.js';
import { type DependencyGraph, type Edge, edgesFrom } from './graph.js';
import { hostOfUrl } from './hosts.js';
import { type FluxKustomization, ksKey } from './model.js';
import { normalizePath } from './paths.js';

export type PlanFindingKind =
  | 'missing-dependency'
  | 'wrong-order'
  | 'missing-stage'
  | 'unknown-stage'
  | 'path-mismatch'
  | 'extra-stage'
  | 'missing-seed'
  | 'seed-mismatch'
  | 'source-mismatch';

/** Where an existing PowerPlan disagrees with the repo. `error` breaks a cold boot; `info` does not. */
export interface PlanFinding {
  kind: PlanFindingKind;
  severity: 'error' | 'warning' | 'info';
  stage?: string;
  message: string;
}

export interface PlanCompareInput {
  spec: PowerPlanSpec;
  graph: DependencyGraph;
  chain: DerivedChain;
  kustomizations: readonly FluxKustomization[];
  git: readonly GitDeadlock[];
  registry?: RegistryFinding;
}

/** Maps each plan stage to a Kustomization key: by its `kustomization` ref, else by its path. */
function stageKeys(input: PlanCompareInput, findings: PlanFinding[]): (string | undefined)[] {
  const keys = new Set(input.kustomizations.map(ksKey));
  return input.spec.bootstrapChain.map((stage) => {
    const ref = stage.kustomization;
    const byRef = ref ? `${ref.namespace ?? input.spec.flux.namespace}/${ref.name}` : undefined;
    const byPath = input.kustomizations.find((k) => k.path === normalizePath(stage.path));
    const key = byRef && keys.has(byRef) ? byRef : byPath ? ksKey(byPath) : undefined;
    if (!key) {
      const what = byRef ? `Kustomization ${byRef}` : `a Kustomization with path ${stage.path}`;
      findings.push({
        kind: 'unknown-stage',
        severity: 'error',
        stage: stage.name,
        message: `stage ${stage.name}: the repo has no ${what}`,
      });
      return undefined;
    }
    const ks = input.kustomizations.find((k) => ksKey(k) === key);
    if (ks && normalizePath(stage.path) !== ks.path) {
      findings.push({
        kind: 'path-mismatch',
        severity: 'error',
        stage: stage.name,
        message: `stage ${stage.name} applies ${stage.path}, but Kustomization ${key} has path ./${ks.path}`,
      });
    }
    return key;
  });
}

/** Every dependency of `from`, with the first path of edges that reaches it. */
function needsOf(out: Map<string, Edge[]>, from: string): Map<string, Edge[]> {
  const paths = new Map<string, Edge[]>([[from, []]]);
  const queue = [from];
  while (queue.length > 0) {
    const node = queue.shift() as string;
    for (const edge of out.get(node) ?? []) {
      if (paths.has(edge.to)) continue;
      paths.set(edge.to, [...(paths.get(node) ?? []), edge]);
      queue.push(edge.to);
    }
  }
  paths.delete(from);
  return paths;
}

const pathText = (edges: Edge[]) =>
  edges.map((e) => (e.kind === 'dependsOn' ? `${e.from} dependsOn ${e.to}` : e.reason)).join(', ');

function checkOrder(input: PlanCompareInput, keys: (string | undefined)[], findings: PlanFinding[]): void {
  const out = edgesFrom(input.graph);
  const position = new Map(keys.flatMap((k, i) => (k ? [[k, i] as [string, number]] : [])));
  const reported = new Set<string>();
  keys.forEach((key, i) => {
    if (!key) return;
    const stage = input.spec.bootstrapChain[i]?.name ?? key;
    for (const [dep, path] of needsOf(out, key)) {
      const at = position.get(dep);
      if (at === undefined && !reported.has(dep)) {
        reported.add(dep);
        findings.push({
          kind: 'missing-dependency',
          severity: 'error',
          stage,
          message: `stage ${stage} needs ${dep}, which no stage applies (${pathText(path)})`,
        });
      } else if (at !== undefined && at > i) {
        const other = input.spec.bootstrapChain[at]?.name ?? dep;
        findings.push({
          kind: 'wrong-order',
          severity: 'error',
          stage,
          message: `stage ${stage} (#${i + 1}) runs before ${other} (#${at + 1}), but needs it (${pathText(path)})`,
        });
      }
    }
  });
}

function checkCoverage(input: PlanCompareInput, keys: (string | undefined)[], findings: PlanFinding[]): void {
  const inPlan = new Set(keys.filter((k): k is string => k !== undefined));
  const derived = new Set(input.chain.stages.map((s) => s.key));
  for (const root of new Set(input.git.map((d) => d.kustomization))) {
    if (!inPlan.has(root)) {
      findings.push({
        kind: 'missing-stage',
        severity: 'error',
        message: `no stage applies ${root}, which serves the Flux source's host: the chain cannot bring Git back`,
      });
    }
  }
  keys.forEach((key, i) => {
    const stage = input.spec.bootstrapChain[i]?.name;
    if (key && !derived.has(key) && input.chain.stages.length > 0) {
      findings.push({
        kind: 'extra-stage',
        severity: 'info',
        ...(stage ? { stage } : {}),
        message: `stage ${stage} (${key}) is not needed to bring the Git server back`,
      });
    }
  });
}

function checkSeedAndSource(input: PlanCompareInput, findings: PlanFinding[]): void {
  const { registry, spec } = input;
  if (registry && !spec.harbor) {
    findings.push({
      kind: 'missing-seed',
      severity: 'error',
      message: `the repo's registry ${registry.host} (${registry.kustomization}) pulls from itself, but the plan has no harbor seed stage`,
    });
  } else if (registry && spec.harbor && !registry.servedBy.some((f) => f.site.namespace === spec.harbor?.namespace)) {
    findings.push({
      kind: 'seed-mismatch',
      severity: 'warning',
      message: `harbor.namespace is ${spec.harbor.namespace}, but ${registry.host} is served from ${registry.servedBy.map((f) => f.site.namespace).join(', ')}`,
    });
  } else if (!registry && spec.harbor) {
    findings.push({
      kind: 'seed-mismatch',
      severity: 'info',
      message: 'the plan seeds a registry, but no registry in the repo pulls from itself',
    });
  }
  const planHost = spec.flux.source.url ? hostOfUrl(spec.flux.source.url) : undefined;
  const repoHosts = input.git.map((d) => d.source.host);
  if (planHost && repoHosts.length > 0 && !repoHosts.includes(planHost)) {
    findings.push({
      kind: 'source-mismatch',
      severity: 'warning',
      message: `flux.source.url points at ${planHost}, but the repo's self-hosted source is ${repoHosts.join(', ')}`,
    });
  }
}

/** Where the plan's chain and seed stage disagree with the repo: missing dependencies, wrong order, stale stages. */
export function comparePlan(input: PlanCompareInput): PlanFinding[] {
  const findings: PlanFinding[] = [];
  const keys = stageKeys(input, findings);
  checkOrder(input, keys, findings);
  checkCoverage(input, keys, findings);
  checkSeedAndSource(input, findings);
  return findings;
}

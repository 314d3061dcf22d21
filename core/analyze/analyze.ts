import type { PowerPlanSpec } from '../api/powerplan.js';
import type { DraftNodes } from '../ports/analyze.js';
import type { ParseProblem, RepoInput } from '../ports/index.js';
import { type DerivedChain, deriveChain } from './chain.js';
import { type Cluster, findClusters, type OutsideObject } from './clusters.js';
import type { UnfollowedEntry } from './deploy.js';
import { comparePlan, type PlanFinding } from './diff.js';
import { draftPlan } from './draft.js';
import type { DraftPlan } from './draft-model.js';
import { collectFacts } from './facts.js';
import type { GitDeadlock, RegistryFinding, Undecided } from './findings.js';
import { buildGraph, type Cycle, type DependencyGraph, type Edge } from './graph.js';
import { hostOfUrl } from './hosts.js';
import {
  buildModel,
  type FluxSource,
  type HelmReleaseInfo,
  ksKey,
  type RepoModel,
  SOURCE_KINDS,
  type SourceKind,
  toHelmRelease,
  toSource,
} from './model.js';
import { inferNeeds } from './needs.js';
import { detectSelfHosting } from './selfhost.js';
import { ServiceIndex } from './services.js';
import { detectStorage, type StorageUse } from './storage.js';
import { Variables } from './vars.js';

/** A deadlock verdict: `could not decide` when something the repo does not tell could hide the deadlock. */
export type Verdict = 'found' | 'none found' | 'could not decide';

/** What `hecate analyze` finds in one cluster of the repo: plain data, printed as text or JSON. */
export interface Analysis {
  cluster: { name: string; root: string; foundBy: string };
  counts: { kustomizations: number; sources: number; helmReleases: number };
  /** The source the cluster's root applies from: `Kind namespace/name`. */
  repoSource?: string;
  graph: {
    layers: string[][];
    cycles: Cycle[];
    missing: DependencyGraph['missing'];
    unordered: string[];
    /** Every edge that is not a dependsOn; the inferred ones (storage, database, service, chart CRDs) say so. */
    implied: Edge[];
    /** Inferred edges left out because they would close a cycle. */
    dropped: Edge[];
    duplicates: DependencyGraph['duplicates'];
  };
  verdicts: { git: Verdict; registry: Verdict };
  deadlocks: { git: GitDeadlock[]; registry: RegistryFinding[] };
  /** In-repo registries that others pull from without a deadlock (they wait for the registry). */
  registries: RegistryFinding[];
  external: { source: string; host: string }[];
  chain: DerivedChain;
  storage: StorageUse[];
  unfollowed: UnfollowedEntry[];
  notes: string[];
  undecided: Undecided[];
  planCheck?: PlanFinding[];
}

/** The whole repo: one analysis per cluster, and what belongs to none. */
export interface RepoReport {
  repo: string;
  counts: { files: number; documents: number; clusters: number };
  parseErrors: ParseProblem[];
  /** Paths the reader left out on purpose (Helm charts, symlinks, oversized files). */
  skipped: RepoInput['skipped'];
  clusters: Analysis[];
  /** Flux objects that no cluster's root reaches (test fixtures, policy tests, old folders): in no graph. */
  outside: OutsideObject[];
  notes: string[];
  undecided: Undecided[];
}

/** One cluster's analysis, and what it keeps to draft or check a plan. */
export interface AnalysisContext {
  analysis: Analysis;
  /** The cluster's objects (namespaces as applied); files and documents are the whole repo's. */
  model: RepoModel;
  draft(name: string, nodes?: DraftNodes): DraftPlan;
  compare(spec: PowerPlanSpec): PlanFinding[];
}

export interface RepoAnalysis {
  report: RepoReport;
  clusters: AnalysisContext[];
  /** The cluster a PowerPlan is about: the one most of its stages and its source URL match (the first on a tie). */
  forPlan(spec: PowerPlanSpec): AnalysisContext;
}

/** The cluster's Flux sources and HelmReleases, with the namespaces they are applied to. */
function clusterModel(model: RepoModel, cluster: Cluster): RepoModel {
  const sources: FluxSource[] = cluster.root.source ? [cluster.root.source] : [];
  const helmReleases: HelmReleaseInfo[] = [];
  const items = [...cluster.index.rootItems, ...[...cluster.index.byOwner.values()].flat()];
  const seen = new Set<unknown>();
  for (const { doc, id } of items) {
    if (seen.has(doc)) continue;
    seen.add(doc);
    const group = String((doc.value as { apiVersion?: unknown }).apiVersion).split('.')[0];
    if (group === 'helm' && id.kind === 'HelmRelease') helmReleases.push(toHelmRelease(doc, id.namespace));
    else if (group === 'source' && (SOURCE_KINDS as readonly string[]).includes(id.kind)) {
      sources.push(toSource(doc, id.kind as SourceKind, id.namespace));
    }
  }
  return { ...model, kustomizations: cluster.index.kustomizations, sources, helmReleases, fluxInstances: [] };
}

const PREFIX = /^(\d+)[-_.]/;

function nameNotes(model: RepoModel, graph: DependencyGraph): string[] {
  const notes: string[] = [];
  if (model.kustomizations.length > 0 && model.kustomizations.every((k) => k.dependsOn.length === 0)) {
    notes.push(
      'No Kustomization declares dependsOn: Flux applies them all at once; the order here comes only from what objects require (namespaces, CRDs, sources, storage, databases)',
    );
  }
  for (const edge of graph.edges.filter((e) => e.kind === 'dependsOn')) {
    const from = PREFIX.exec(edge.from.split('/')[1] ?? '')?.[1];
    const to = PREFIX.exec(edge.to.split('/')[1] ?? '')?.[1];
    if (from !== undefined && to !== undefined && Number(from) < Number(to)) {
      notes.push(
        `Name prefixes contradict dependsOn: ${edge.from} sorts before ${edge.to} by name, but dependsOn it; the order follows dependsOn`,
      );
    }
  }
  return notes;
}

function tieNotes(chain: DerivedChain): Undecided[] {
  // NOTE: a registry that chain members pull from is moved in front of them: that is an order, not a tie.
  const hoisted = chain.seed && chain.seed.position < chain.stages.length ? chain.seed.kustomization : undefined;
  const byLayer = new Map<number, string[]>();
  for (const s of chain.stages) byLayer.set(s.layer, [...(byLayer.get(s.layer) ?? []), s.key]);
  return [...byLayer]
    .map(([layer, keys]) => [layer, keys.filter((k) => k !== hoisted)] as const)
    .filter(([layer, keys]) => layer >= 0 && keys.length > 1)
    .map(([, keys]) => ({
      subject: `the order of ${keys.join(', ')} in the chain`,
      reason: 'nothing in the repo orders them; they are listed by name',
      about: 'chain' as const,
    }));
}

function verdict(found: number, undecided: Undecided[], about: Undecided['about']): Verdict {
  if (found > 0) return 'found';
  return undecided.some((u) => u.about === about) ? 'could not decide' : 'none found';
}

/** Questions the cluster leaves open: from detection, the chain, remote bases, duplicates, needs of the chain. */
function undecidedOf(
  cluster: Cluster,
  found: Undecided[],
  chain: DerivedChain,
  open: ReturnType<typeof inferNeeds>['open'],
): Undecided[] {
  const members = new Set(chain.stages.map((s) => s.key));
  return [
    ...found,
    ...chain.undecided.map((u) => ({ ...u, about: 'chain' as const })),
    ...tieNotes(chain),
    ...open
      .filter((n) => members.has(n.owner))
      .map((n) => ({ subject: n.subject, reason: n.reason, about: 'chain' as const })),
    ...cluster.index.unfollowed
      .filter((u) => u.reason === 'remote')
      .map((u) => ({
        subject: `what ${u.owner} applies from ${u.entry}`,
        reason: `a remote base in ${u.file}; Hecate does not fetch it`,
        about: 'graph' as const,
      })),
    ...cluster.index.duplicates.map((d) => ({
      subject: `which definition of ${d.key} applies`,
      reason: `defined ${d.where.length} times (${d.where.map((w) => `${w.file}:${w.line}`).join(', ')}); the first reached is used`,
      about: 'graph' as const,
    })),
  ];
}

/** Finds both deadlocks of one cluster and derives its bootstrap chain. */
function analyzeCluster(repo: RepoModel, cluster: Cluster): AnalysisContext {
  const model = clusterModel(repo, cluster);
  const { index, root } = cluster;
  const services = new ServiceIndex(index);
  const needs = inferNeeds(index, services);
  const graph = buildGraph(model, index, needs.edges);
  const vars = new Variables(model.kustomizations, [...index.rootItems, ...[...index.byOwner.values()].flat()]);
  const facts = collectFacts(model, index, vars);
  const found = detectSelfHosting(model, index, graph, facts, vars, services);
  const chain = deriveChain(graph, model.kustomizations, found.git, found.registries);
  const storage = detectStorage(index);
  const source = root.kustomization?.sourceRef ?? model.sources.find((s) => s.kind !== 'HelmRepository');
  const undecided = undecidedOf(cluster, found.undecided, chain, needs.open);
  const analysis: Analysis = {
    cluster: { name: root.name, root: `./${root.dir}`, foundBy: root.foundBy },
    counts: {
      kustomizations: model.kustomizations.length,
      sources: model.sources.length,
      helmReleases: model.helmReleases.length,
    },
    ...(source ? { repoSource: `${source.kind} ${source.namespace}/${source.name}` } : {}),
    graph: {
      layers: graph.layers,
      cycles: graph.cycles,
      missing: graph.missing,
      unordered: graph.unordered,
      implied: graph.edges.filter((e) => e.kind !== 'dependsOn'),
      dropped: graph.dropped,
      duplicates: graph.duplicates,
    },
    verdicts: {
      git: verdict(found.git.length, undecided, 'git'),
      registry: verdict(found.registries.filter((r) => r.deadlock).length, undecided, 'registry'),
    },
    deadlocks: { git: found.git, registry: found.registries.filter((r) => r.deadlock) },
    registries: found.registries.filter((r) => !r.deadlock),
    external: found.external,
    chain,
    storage,
    unfollowed: index.unfollowed,
    notes: [
      ...nameNotes(model, graph),
      ...index.notInRepo.map((n) => `Kustomization ${n.owner} is not read from this repo: ${n.reason}`),
      ...graph.dropped.map(
        (e) => `Inferred edge ${e.from} → ${e.to} left out: ${e.to} already needs ${e.from} (${e.reason})`,
      ),
    ],
    undecided,
  };
  const registry = analysis.deadlocks.registry[0];
  const common = { chain, git: found.git, kustomizations: model.kustomizations, ...(registry ? { registry } : {}) };
  const repoSource = model.sources.find(
    (s) => source && s.kind === source.kind && s.namespace === source.namespace && s.name === source.name,
  );
  return {
    analysis,
    model,
    draft: (name, nodes) =>
      draftPlan({
        ...common,
        name,
        cluster: root.name,
        helmReleases: model.helmReleases,
        index,
        storage,
        vars,
        ...(repoSource ? { repoSource } : {}),
        ...(root.kustomization ? { rootKustomization: root.kustomization } : {}),
        ...(nodes ? { nodes } : {}),
      }),
    compare: (spec) => comparePlan({ ...common, spec, graph }),
  };
}

/** How well a plan fits a cluster: stages whose Kustomization it has, and a source host it fetches. */
function planFit(ctx: AnalysisContext, spec: PowerPlanSpec): number {
  const keys = new Set(ctx.model.kustomizations.map(ksKey));
  const paths = new Set(ctx.model.kustomizations.map((k) => k.path));
  const stages = spec.bootstrapChain.filter((s) =>
    s.kustomization
      ? keys.has(`${s.kustomization.namespace ?? spec.flux.namespace}/${s.kustomization.name}`)
      : paths.has(s.path),
  ).length;
  const host = spec.flux.source.url ? hostOfUrl(spec.flux.source.url) : undefined;
  return stages + (host && ctx.analysis.deadlocks.git.some((d) => d.source.host === host) ? 1 : 0);
}

/** Reads every cluster of the repo: its Flux objects, both deadlocks, the bootstrap chain. Pure: the input is data. */
export function analyzeRepository(input: RepoInput): RepoAnalysis {
  const model = buildModel(input);
  const layout = findClusters(model);
  const clusters = layout.clusters.map((c) => analyzeCluster(model, c));
  const report: RepoReport = {
    repo: input.root,
    counts: { files: input.files.length, documents: input.documents.length, clusters: clusters.length },
    parseErrors: [...input.parseErrors],
    skipped: [...input.skipped],
    clusters: clusters.map((c) => c.analysis),
    outside: layout.outside,
    notes: layout.notes,
    undecided: layout.undecided,
  };
  return {
    report,
    clusters,
    forPlan: (spec) =>
      clusters.reduce((best, c) => (planFit(c, spec) > planFit(best, spec) ? c : best), clusters[0] as AnalysisContext),
  };
}

/**
 * One cluster's analysis, for callers that check a plan (prepare): `analysis` is the first cluster's, and
 * `compare` checks the plan against the cluster it is about ({@link RepoAnalysis.forPlan}).
 */
export function analyzeRepo(input: RepoInput): AnalysisContext {
  const repo = analyzeRepository(input);
  const first = repo.clusters[0] as AnalysisContext;
  return { ...first, compare: (spec) => repo.forPlan(spec).compare(spec) };
}

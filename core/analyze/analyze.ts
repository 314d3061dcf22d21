import type { PowerPlanSpec } from '../api/powerplan.js';
import { type DerivedChain, deriveChain } from './chain.js';
import { indexDeployments, type UnfollowedEntry } from './deploy.js';
import { comparePlan, type PlanFinding } from './diff.js';
import { type DraftPlan, draftPlan } from './draft.js';
import { collectFacts } from './facts.js';
import { buildGraph, type Cycle, type DependencyGraph, type Edge } from './graph.js';
import type { ParseProblem, RepoInput } from './input.js';
import { buildModel, type ObjectId, type RepoModel } from './model.js';
import { detectSelfHosting, type GitDeadlock, type RegistryFinding, type Undecided } from './selfhost.js';
import { Variables } from './vars.js';

/** The result of `hecate analyze`: plain data, printed as text or JSON. */
export interface Analysis {
  repo: string;
  counts: { files: number; documents: number; kustomizations: number; sources: number; helmReleases: number };
  parseErrors: ParseProblem[];
  /** Paths the reader left out on purpose (Helm charts, symlinks, oversized files). */
  skipped: RepoInput['skipped'];
  /** The source the repo is the snapshot of: `Kind namespace/name`. */
  repoSource?: string;
  graph: {
    layers: string[][];
    cycles: Cycle[];
    missing: DependencyGraph['missing'];
    unordered: string[];
    implied: Edge[];
    duplicates: DependencyGraph['duplicates'];
  };
  deadlocks: { git: GitDeadlock[]; registry: RegistryFinding[] };
  /** In-repo registries that others pull from without a deadlock (they wait for the registry). */
  registries: RegistryFinding[];
  external: { source: string; host: string }[];
  chain: DerivedChain;
  unfollowed: UnfollowedEntry[];
  notes: string[];
  undecided: Undecided[];
  planCheck?: PlanFinding[];
}

/** What the analysis keeps beyond its printable result, to draft or check a plan. */
export interface AnalysisContext {
  analysis: Analysis;
  model: RepoModel;
  draft(name: string): DraftPlan;
  compare(spec: PowerPlanSpec): PlanFinding[];
}

/**
 * The repo source: the one most Kustomizations apply from, `flux-system/flux-system` on a tie.
 * NOTE: a repo can hold several clusters' definitions; only one source's tree is read as this repo.
 */
function repoSourceOf(model: RepoModel): ObjectId | undefined {
  const counts = new Map<string, { ref: ObjectId; n: number }>();
  for (const { sourceRef } of model.kustomizations) {
    if (sourceRef.kind === 'HelmRepository') continue;
    const key = `${sourceRef.kind}/${sourceRef.namespace}/${sourceRef.name}`;
    counts.set(key, { ref: sourceRef, n: (counts.get(key)?.n ?? 0) + 1 });
  }
  const score = (e: { ref: ObjectId; n: number }) => e.n + (e.ref.name === 'flux-system' ? 0.5 : 0);
  return [...counts.values()].sort((a, b) => score(b) - score(a))[0]?.ref;
}

const PREFIX = /^(\d+)[-_.]/;

function nameNotes(model: RepoModel, graph: DependencyGraph): string[] {
  const notes: string[] = [];
  if (model.kustomizations.length > 0 && model.kustomizations.every((k) => k.dependsOn.length === 0)) {
    notes.push(
      'No Kustomization declares dependsOn: Flux applies them all at once; the order here comes only from what objects require (namespaces, CRDs, sources)',
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
  const byLayer = new Map<number, string[]>();
  for (const s of chain.stages) byLayer.set(s.layer, [...(byLayer.get(s.layer) ?? []), s.key]);
  return [...byLayer]
    .filter(([layer, keys]) => layer >= 0 && keys.length > 1)
    .map(([, keys]) => ({
      subject: `the order of ${keys.join(', ')} in the chain`,
      reason: 'nothing in the repo orders them; they are listed by name',
    }));
}

/** Reads the repo's Flux objects, finds both deadlocks, derives the bootstrap chain. Pure: the input is data. */
export function analyzeRepo(input: RepoInput): AnalysisContext {
  const model = buildModel(input);
  const source = repoSourceOf(model);
  const index = indexDeployments(model, source);
  const vars = new Variables(model);
  const graph = buildGraph(model, index);
  const facts = collectFacts(model, index, vars);
  const found = detectSelfHosting(model, index, graph, facts, vars);
  const chain = deriveChain(graph, model.kustomizations, found.git, found.registries);
  const notes = [
    ...nameNotes(model, graph),
    ...index.notInRepo.map((n) => `Kustomization ${n.owner} is not read from this repo: ${n.reason}`),
  ];
  const undecided = [
    ...found.undecided,
    ...chain.undecided,
    ...tieNotes(chain),
    ...index.unfollowed
      .filter((u) => u.reason === 'remote')
      .map((u) => ({
        subject: `what ${u.owner} applies from ${u.entry}`,
        reason: `a remote base in ${u.file}; Hecate does not fetch it`,
      })),
    ...graph.duplicates.map((d) => ({
      subject: `which definition of ${d.key} applies`,
      reason: `defined ${d.where.length} times (${d.where.map((w) => `${w.file}:${w.line}`).join(', ')}); the first is used`,
    })),
  ];
  const analysis: Analysis = {
    repo: input.root,
    counts: {
      files: input.files.length,
      documents: input.documents.length,
      kustomizations: model.kustomizations.length,
      sources: model.sources.length,
      helmReleases: model.helmReleases.length,
    },
    parseErrors: [...input.parseErrors],
    skipped: [...input.skipped],
    ...(source ? { repoSource: `${source.kind} ${source.namespace}/${source.name}` } : {}),
    graph: {
      layers: graph.layers,
      cycles: graph.cycles,
      missing: graph.missing,
      unordered: graph.unordered,
      implied: graph.edges.filter((e) => e.kind !== 'dependsOn'),
      duplicates: graph.duplicates,
    },
    deadlocks: { git: found.git, registry: found.registries.filter((r) => r.deadlock) },
    registries: found.registries.filter((r) => !r.deadlock),
    external: found.external,
    chain,
    unfollowed: index.unfollowed,
    notes,
    undecided,
  };
  const registry = analysis.deadlocks.registry[0];
  const common = { chain, git: found.git, kustomizations: model.kustomizations, ...(registry ? { registry } : {}) };
  return {
    analysis,
    model,
    draft: (name) => draftPlan({ ...common, name, helmReleases: model.helmReleases, index }),
    compare: (spec) => comparePlan({ ...common, spec, graph }),
  };
}

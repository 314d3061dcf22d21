import type { Analysis, RepoReport, Verdict } from '../../core/analyze/analyze.js';
import { todoField } from '../../core/analyze/draft.js';
import type { DraftTodo } from '../../core/analyze/draft-model.js';
import type { RegistryFinding } from '../../core/analyze/findings.js';
import type { Cycle, Edge } from '../../core/analyze/graph.js';

/** Extra lines the command adds: where the draft went, what to fill and review, which plan was checked. */
export interface AnalyzeTextExtras {
  planSource?: string;
  emitted?: { path: string; cluster: string; todos: DraftTodo[]; review: string[] };
}

const short = (key: string) => key.replace(/^flux-system\//, '');

function header(r: RepoReport): string[] {
  const names = r.clusters.map((c) => c.cluster.name).join(', ');
  return [
    `Repo ${r.repo}: ${r.counts.files} YAML files, ${r.counts.documents} documents, ${r.counts.clusters} cluster${r.counts.clusters === 1 ? '' : 's'} (${names})`,
  ];
}

function clusterHeader(a: Analysis): string[] {
  const c = a.counts;
  return [
    '',
    `== Cluster ${a.cluster.name} (root ${a.cluster.root}) ==`,
    `Found by ${a.cluster.foundBy}`,
    `${c.kustomizations} Kustomizations, ${c.sources} sources, ${c.helmReleases} HelmReleases`,
    `Flux source of this cluster: ${a.repoSource ?? '(none: no Kustomization names a source)'}`,
  ];
}

function parseErrors(r: RepoReport): string[] {
  if (r.parseErrors.length === 0) return [];
  return [
    '',
    `Files that failed to parse (${r.parseErrors.length}); their objects are not in the analysis:`,
    ...r.parseErrors.map((p) => `  ${p.file}:${p.line}:${p.column}  ${p.message}`),
  ];
}

function verdictLine(title: string, verdict: Verdict): string {
  return verdict === 'could not decide'
    ? `${title}: could not decide (see "Could not decide" below)`
    : `${title}: none found`;
}

function gitDeadlocks(a: Analysis): string[] {
  if (a.deadlocks.git.length === 0) {
    const external = a.external.map(
      (e) => `  ${e.source} fetches from ${e.host}, which nothing in this cluster serves`,
    );
    return ['', verdictLine('Deadlock 1 (Git source)', a.verdicts.git), ...external];
  }
  return a.deadlocks.git.flatMap((d) => {
    const needs = a.chain.stages.filter((s) => s.key !== d.kustomization).map((s) => short(s.key));
    return [
      '',
      `DEADLOCK 1 (Git source): Flux fetches ${d.source.host} from a workload it deploys itself`,
      ...d.links.map((line, i) => `  ${i === 0 ? '' : '→ '}${line}`),
      `  ${short(d.kustomization)} needs, before it can serve: ${needs.length > 0 ? needs.join(', ') : 'nothing else'}`,
    ];
  });
}

function pullers(r: RegistryFinding): string[] {
  const others = r.pulls.filter((p) => !r.selfPulls.includes(p));
  const owners = [
    ...new Set(others.map((p) => `${p.site.kind} ${p.site.namespace}/${p.site.name} (${short(p.site.owner ?? '?')})`)),
  ];
  return owners.length > 0 ? [`  Also pulling from it (they wait for the registry): ${owners.join(', ')}`] : [];
}

function registryDeadlocks(a: Analysis): string[] {
  const deadlocks = a.deadlocks.registry.flatMap((r) => [
    '',
    `DEADLOCK 2 (registry): ${r.host} serves what it needs to start`,
    ...r.links.map((line, i) => `  ${i === 0 ? '' : '→ '}${line}`),
    ...pullers(r),
  ]);
  const others = a.registries.flatMap((r) => [
    '',
    `Registry ${r.host} (${short(r.kustomization)}): no deadlock; workloads pull from it`,
    ...pullers(r),
  ]);
  if (deadlocks.length === 0) return [...others, '', verdictLine('Deadlock 2 (registry)', a.verdicts.registry)];
  return [...deadlocks, ...others];
}

const edgeText = (e: Edge) => (e.kind === 'dependsOn' ? e.reason : `${e.from} → ${e.to}: ${e.reason}`);

function cycleLines(cycle: Cycle): string[] {
  return [
    `  ${cycle.path.map(short).join(' → ')}`,
    ...cycle.edges.map((e) => `    ${edgeText(e)} (${e.where.file}:${e.where.line})`),
  ];
}

function graphLines(a: Analysis): string[] {
  const g = a.graph;
  const inferred = g.implied.filter((e) => e.inferred);
  const lines = [
    '',
    `Dependency graph (${g.layers.length} layers; ${g.implied.length} edges implied by what objects require, ${inferred.length} of them inferred from run-time needs):`,
  ];
  g.layers.forEach((layer, i) => {
    lines.push(`  ${String(i).padStart(2)}  ${layer.map(short).join(', ')}`);
  });
  if (inferred.length > 0)
    lines.push(
      'Inferred needs (storage, databases, Services, chart CRDs):',
      ...inferred.map((e) => `  ${edgeText(e)}`),
    );
  if (g.cycles.length > 0)
    lines.push(`Cycles (${g.cycles.length}): no order can apply these`, ...g.cycles.flatMap(cycleLines));
  if (g.unordered.length > 0) lines.push(`  Unordered (in or behind a cycle): ${g.unordered.map(short).join(', ')}`);
  if (g.missing.length > 0) {
    lines.push(
      `Missing dependsOn targets (${g.missing.length}):`,
      ...g.missing.map(
        (m) => `  ${m.from} dependsOn ${m.to} (${m.where.file}:${m.where.line}): no such Kustomization in the cluster`,
      ),
    );
  }
  return lines;
}

function chainLines(a: Analysis): string[] {
  const { stages, seed } = a.chain;
  if (stages.length === 0) return ['', 'Bootstrap chain: none needed (no self-hosted Flux source found)'];
  const width = Math.max(...stages.map((s) => s.name.length));
  const lines = ['', 'Derived bootstrap chain (apply in this order while the Flux source is down):'];
  stages.forEach((s, i) => {
    if (seed && seed.position === i) lines.push(`      seed ${seed.host} images, then ${short(seed.kustomization)}`);
    lines.push(`  ${String(i + 1).padStart(2)}. ${s.name.padEnd(width)}  ./${s.path}`);
  });
  lines.push(`  Chain: ${stages.map((s) => s.name).join(' → ')}`);
  if (seed) {
    const after = seed.after.length > 0 ? `after ${seed.after.map(short).join(', ')}` : 'first';
    if (seed.position === stages.length)
      lines.push(`  Then seed ${seed.host}'s images (${short(seed.kustomization)}), ${after}`);
    if (seed.outsideChain.length > 0)
      lines.push(
        `  ${short(seed.kustomization)} also needs (outside the chain): ${seed.outsideChain.map(short).join(', ')}`,
      );
  }
  return lines;
}

function listSection(title: string, items: string[]): string[] {
  return items.length > 0 ? ['', `${title} (${items.length}):`, ...items.map((i) => `  - ${i}`)] : [];
}

function clusterLines(a: Analysis, extras: AnalyzeTextExtras): string[] {
  const lines = [...clusterHeader(a), ...gitDeadlocks(a), ...registryDeadlocks(a), ...graphLines(a), ...chainLines(a)];
  if (a.planCheck) {
    const check = a.planCheck.map((f) => `${f.severity.padEnd(7)} ${f.kind}: ${f.message}`);
    lines.push(
      ...(check.length > 0
        ? listSection(`Plan check of ${extras.planSource ?? '--plan'}`, check)
        : ['', `Plan check of ${extras.planSource ?? '--plan'}: the chain agrees with the repo`]),
    );
  }
  lines.push(...listSection('Notes', a.notes));
  lines.push(
    ...listSection(
      'Could not decide',
      a.undecided.map((u) => `${u.subject}: ${u.reason}`),
    ),
  );
  return lines;
}

function emittedLines(emitted: NonNullable<AnalyzeTextExtras['emitted']>): string[] {
  const where = `Draft PowerPlan written to ${emitted.path} (cluster ${emitted.cluster})`;
  const todos =
    emitted.todos.length > 0
      ? listSection(
          `${where}; it does not validate until you fill its TODOs`,
          emitted.todos.map((t) => `${todoField(t)}: ${t.what}`),
        )
      : ['', `${where}; it validates as it is`];
  return [...todos, ...listSection('Review in the draft', emitted.review)];
}

/** The `hecate analyze` screen: per cluster, both deadlocks with their objects, the graph, the chain, the unknowns. */
export function renderAnalysisText(report: RepoReport, extras: AnalyzeTextExtras = {}): string {
  const lines = [...header(report), ...parseErrors(report)];
  lines.push(...listSection('Notes on the repo', report.notes));
  lines.push(
    ...listSection(
      'Could not decide about the repo',
      report.undecided.map((u) => `${u.subject}: ${u.reason}`),
    ),
  );
  for (const analysis of report.clusters) lines.push(...clusterLines(analysis, extras));
  lines.push(
    ...listSection(
      'Not part of any cluster (no root reaches them; left out of every graph)',
      report.outside.map((o) => `${o.kind} ${o.namespace}/${o.name} (${o.file}:${o.line})`),
    ),
  );
  if (extras.emitted) lines.push(...emittedLines(extras.emitted));
  return `${lines.join('\n')}\n`;
}

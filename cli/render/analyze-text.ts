import type { Analysis } from '../../core/analyze/analyze.js';
import type { Cycle } from '../../core/analyze/graph.js';
import type { RegistryFinding } from '../../core/analyze/selfhost.js';

/** Extra lines the command adds: where the draft went, what to review, which plan was checked. */
export interface AnalyzeTextExtras {
  planSource?: string;
  emitted?: { path: string; review: string[] };
}

const short = (key: string) => key.replace(/^flux-system\//, '');

function header(a: Analysis): string[] {
  const c = a.counts;
  return [
    `Repo ${a.repo}: ${c.files} YAML files, ${c.documents} documents, ${c.kustomizations} Kustomizations, ${c.sources} sources, ${c.helmReleases} HelmReleases`,
    `Flux source of this repo: ${a.repoSource ?? '(none: no Kustomization names a source)'}`,
  ];
}

function parseErrors(a: Analysis): string[] {
  if (a.parseErrors.length === 0) return [];
  return [
    '',
    `Files that failed to parse (${a.parseErrors.length}); their objects are not in the analysis:`,
    ...a.parseErrors.map((p) => `  ${p.file}:${p.line}:${p.column}  ${p.message}`),
  ];
}

function gitDeadlocks(a: Analysis): string[] {
  if (a.deadlocks.git.length === 0) {
    const external = a.external.map((e) => `  ${e.source} fetches from ${e.host}, which nothing in the repo serves`);
    return ['', 'Deadlock 1 (Git source): none found', ...external];
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
  if (deadlocks.length === 0 && others.length === 0) return ['', 'Deadlock 2 (registry): none found'];
  return [...deadlocks, ...others];
}

function cycleLines(cycle: Cycle): string[] {
  return [
    `  ${cycle.path.map(short).join(' → ')}`,
    ...cycle.edges.map(
      (e) =>
        `    ${e.kind === 'dependsOn' ? e.reason : `${e.from} → ${e.to}: ${e.reason}`} (${e.where.file}:${e.where.line})`,
    ),
  ];
}

function graphLines(a: Analysis): string[] {
  const g = a.graph;
  const lines = [
    '',
    `Dependency graph (${g.layers.length} layers; ${g.implied.length} edges implied by what objects require):`,
  ];
  g.layers.forEach((layer, i) => {
    lines.push(`  ${String(i).padStart(2)}  ${layer.map(short).join(', ')}`);
  });
  if (g.cycles.length > 0)
    lines.push(`Cycles (${g.cycles.length}): no order can apply these`, ...g.cycles.flatMap(cycleLines));
  if (g.unordered.length > 0) lines.push(`  Unordered (in or behind a cycle): ${g.unordered.map(short).join(', ')}`);
  if (g.missing.length > 0) {
    lines.push(
      `Missing dependsOn targets (${g.missing.length}):`,
      ...g.missing.map(
        (m) => `  ${m.from} dependsOn ${m.to} (${m.where.file}:${m.where.line}): no such Kustomization in the repo`,
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

/** The `hecate analyze` screen: both deadlocks with their chains of objects, the graph, the chain, the unknowns. */
export function renderAnalysisText(a: Analysis, extras: AnalyzeTextExtras = {}): string {
  const lines = [
    ...header(a),
    ...parseErrors(a),
    ...gitDeadlocks(a),
    ...registryDeadlocks(a),
    ...graphLines(a),
    ...chainLines(a),
  ];
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
  if (extras.emitted)
    lines.push(...listSection(`Draft PowerPlan written to ${extras.emitted.path}; review`, extras.emitted.review));
  return `${lines.join('\n')}\n`;
}

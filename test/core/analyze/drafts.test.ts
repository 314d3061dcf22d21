/**
 * Item 8: a drafted plan never holds an invented value. Every cluster of every fixture: the draft either validates
 * and the plan check (`analyze --plan`) finds no error in it, or it is refused and the refusal names exactly the
 * fields its TODOs list.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { AnalysisContext } from '../../../core/analyze/analyze.js';
import { draftPlanYaml, todoField } from '../../../core/analyze/draft.js';
import { powerPlan } from '../../../core/api/powerplan.js';
import { parseOrThrow, ValidationError } from '../../../core/api/validate.js';
import { fromYamlAll } from '../../../core/api/yaml.js';
import type { DraftNodes } from '../../../core/ports/analyze.js';
import { analyzeLayout, FIXTURES } from './helpers.js';

const ALL = readdirSync(FIXTURES).sort();

/** Validates the draft's YAML as `analyze --plan` reads it: the refusal's fields, or the plan check's errors. */
function check(ctx: AnalysisContext, nodes?: DraftNodes) {
  const draft = ctx.draft('draft', nodes);
  const yaml = draftPlanYaml(draft, 'repo', ctx.analysis.cluster.name);
  try {
    const plan = parseOrThrow(powerPlan, fromYamlAll(yaml)[0], 'draft');
    return { draft, refused: [], errors: ctx.compare(plan.spec).filter((f) => f.severity === 'error') };
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return { draft, refused: [...new Set(error.issues.map((i) => i.path))].sort(), errors: [] };
  }
}

const NODES: DraftNodes = {
  from: 'a test',
  nodes: [
    { name: 'cp-1', role: 'control-plane', arch: 'amd64' },
    { name: 'edge-2', role: 'worker', arch: 'amd64' },
  ],
};

/** Nodes that cover every node the fixtures pin workloads to. */
const LIVE: DraftNodes = {
  from: 'a test',
  nodes: [
    { name: 'cp-1', role: 'control-plane', arch: 'amd64' },
    { name: 'edge-2', role: 'worker', arch: 'amd64' },
    { name: 'titan-05', role: 'worker', arch: 'arm64' },
  ],
};

/** The clusters whose draft validates once the live nodes are known (the others lack what only a person knows). */
const VALID_WITH_NODES = [
  'atlas/atlas',
  'draft-topolvm/edge',
  'flux-operator/kubernetes/flux/cluster',
  'storage-db/lab',
];

describe('every drafted plan validates and passes the plan check, or is refused with its TODOs', () => {
  it.each(ALL)('given the fixture %s, without and with the live nodes', async (fixture) => {
    for (const ctx of (await analyzeLayout(fixture)).clusters) {
      for (const nodes of [undefined, LIVE]) {
        const { draft, refused, errors } = check(ctx, nodes);
        expect(errors).toEqual([]);
        expect(refused).toEqual(draft.todos.map(todoField).sort());
        const yaml = draftPlanYaml(draft, 'repo', ctx.analysis.cluster.name);
        for (const todo of draft.todos) expect(yaml).toContain(`# TODO: ${todo.what}`);
        expect(yaml).not.toMatch(/review-me|v0\.0\.0|node-1/);
      }
    }
  });

  it('lists which clusters validate once the nodes are known', async () => {
    const valid: string[] = [];
    for (const fixture of ALL) {
      for (const ctx of (await analyzeLayout(fixture)).clusters) {
        if (check(ctx, LIVE).draft.todos.length === 0) valid.push(`${fixture}/${ctx.analysis.cluster.name}`);
      }
    }
    expect(valid).toEqual(VALID_WITH_NODES);
  });

  it('given only the nodes missing, the live nodes make the draft valid and the plan check finds no error', async () => {
    const [ctx] = (await analyzeLayout('draft-topolvm')).clusters;
    if (!ctx) throw new Error('no cluster');
    expect(check(ctx).refused).toEqual(['spec.nodes']);
    const { draft, refused, errors } = check(ctx, NODES);
    expect([refused, errors, draft.todos]).toEqual([[], [], []]);
    expect(draft.plan.spec).toMatchObject({
      harbor: { node: 'edge-2', namespace: 'harbor', helmRelease: 'harbor', version: 'v2.13.0', arch: 'amd64' },
      nodes: [
        { name: 'cp-1', role: 'control-plane', arch: 'amd64' },
        { name: 'edge-2', role: 'worker', arch: 'amd64' },
      ],
      storage: { longhorn: false },
    });
  });

  it('given storage that is not Longhorn, the draft waits for that storage, never for Longhorn', async () => {
    const storage = (await analyzeLayout('storage-db')).clusters[0];
    const draft = storage?.draft('lab', NODES);
    expect(draft?.plan.spec.storage).toEqual({ longhorn: false });
    expect(draft?.review).toContainEqual(
      expect.stringMatching(/^storage: the cluster runs Rook-Ceph \(HelmRelease rook-ceph\/rook-ceph /),
    );
    const chain = draft?.plan.spec.bootstrapChain as { name: string; waitFor?: { kind: string; name: string }[] }[];
    expect(chain.find((s) => s.name === 'rook-ceph-cluster')?.waitFor).toEqual([
      { kind: 'HelmRelease', namespace: 'rook-ceph', name: 'rook-ceph-cluster' },
    ]);
  });

  it('given the live cluster lacks the node the registry is pinned to, the Harbor node is a TODO, not kept', async () => {
    const [ctx] = (await analyzeLayout('draft-topolvm')).clusters;
    const nodes: DraftNodes = { from: 'a test', nodes: [{ name: 'cp-1', role: 'control-plane', arch: 'arm64' }] };
    const { draft, refused } = check(ctx as AnalysisContext, nodes);
    expect(refused).toEqual(['spec.harbor.node']);
    expect(draft.todos[0]?.what).toBe(
      'HelmRelease harbor/harbor pins the registry to node edge-2, which the cluster does not have: name the node that holds its images',
    );
  });

  it('given no self-hosted source, the chain is a TODO and the plan does not validate', async () => {
    const beta = (await analyzeLayout('multi-cluster')).clusters[1] as AnalysisContext;
    const { draft, refused } = check(beta, NODES);
    expect(refused).toEqual(['spec.bootstrapChain', 'spec.storage.longhorn']);
    expect(draft.todos.map((t) => t.what)).toEqual([
      'no self-hosted Flux source was found in cluster beta: list the stages (name, path, kustomization) that bring the Flux source back, in order',
      'true when cluster beta runs Longhorn (shutdown then waits for its volumes to detach), else false: the repo shows no Longhorn, Rook-Ceph, TopoLVM or local-path',
    ]);
  });
});

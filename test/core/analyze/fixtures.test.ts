// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Flux ${VAR} substitutions, not templates
import { describe, expect, it } from 'vitest';
import { draftPlanYaml, todoField } from '../../../core/analyze/draft.js';
import { powerPlan } from '../../../core/api/powerplan.js';
import { parseOrThrow } from '../../../core/api/validate.js';
import { fromYamlAll } from '../../../core/api/yaml.js';
import { ATLAS_CHAIN } from '../../helpers/atlas.js';
import { analyzeFixture, analyzeLayout, chainNames } from './helpers.js';

describe('analyze: the Atlas-like repo', () => {
  it('given Gitea over SSH served from the repo, when analyzed, then the derived chain equals the Atlas chain', async () => {
    const ctx = await analyzeFixture('atlas');
    expect(chainNames(ctx)).toEqual(ATLAS_CHAIN);
    expect((await analyzeLayout('atlas')).report.parseErrors).toEqual([]);
  });

  it('reports deadlock 1 with the full chain of objects: source, serving objects, Kustomization, source', async () => {
    const { analysis } = await analyzeFixture('atlas');
    const [git] = analysis.deadlocks.git;
    expect(analysis.deadlocks.git).toHaveLength(1);
    expect(git?.source).toMatchObject({ kind: 'GitRepository', name: 'flux-system', host: 'scm.bstein.dev' });
    expect(git?.kustomization).toBe('flux-system/gitea');
    expect(git?.servedBy.map((f) => `${f.site.kind}/${f.site.name}`).sort()).toEqual([
      'IngressRoute/gitea',
      'Service/gitea-ssh',
    ]);
    expect(git?.links[0]).toContain('fetches ssh://git@scm.bstein.dev/bstein/atlas.git');
    expect(git?.links.at(-1)).toContain('cannot fetch until scm.bstein.dev answers');
  });

  it('reports deadlock 2: Harbor pulls its own images; Grafana pulls from it without a deadlock', async () => {
    const { analysis } = await analyzeFixture('atlas');
    const [registry] = analysis.deadlocks.registry;
    expect(registry).toMatchObject({
      host: 'registry.bstein.dev',
      kustomization: 'flux-system/harbor',
      deadlock: true,
    });
    expect(new Set(registry?.selfPulls.map((p) => p.site.name))).toEqual(new Set(['harbor']));
    expect(registry?.pulls.map((p) => p.site.name)).toContain('grafana');
    expect(analysis.chain.seed).toMatchObject({
      host: 'registry.bstein.dev',
      position: ATLAS_CHAIN.length,
      outsideChain: [],
    });
    expect(analysis.chain.seed?.after).toEqual(
      expect.arrayContaining(['flux-system/longhorn', 'flux-system/traefik', 'flux-system/postgres']),
    );
  });

  it('drafts a PowerPlan with the chain and the Harbor seed stage, and TODOs (not guesses) for arch and nodes', async () => {
    const ctx = await analyzeFixture('atlas');
    const draft = ctx.draft('atlas');
    expect(draft.todos.map(todoField)).toEqual(['spec.harbor.arch', 'spec.nodes']);
    const yaml = draftPlanYaml(draft, 'atlas', 'atlas');
    expect(yaml).toContain('    arch: # TODO: amd64 or arm64');
    expect(() => parseOrThrow(powerPlan, fromYamlAll(yaml)[0], 'draft')).toThrow(
      /spec\.harbor\.arch: .*\n.*spec\.nodes: /,
    );
  });

  it('given the live nodes, the draft validates: the Harbor node gives the arch; the shipped plan agrees', async () => {
    const ctx = await analyzeFixture('atlas');
    const nodes = {
      from: 'a test',
      nodes: [
        { name: 'titan-01', role: 'control-plane' as const, arch: 'amd64' as const },
        { name: 'titan-05', role: 'worker' as const, arch: 'arm64' as const },
      ],
    };
    const draft = ctx.draft('atlas', nodes);
    expect(draft.todos).toEqual([]);
    const plan = parseOrThrow(powerPlan, fromYamlAll(draftPlanYaml(draft, 'atlas', 'atlas'))[0], 'draft');
    expect(plan.spec.bootstrapChain.map((s) => s.name)).toEqual(ATLAS_CHAIN);
    expect(plan.spec.bootstrapChain.find((s) => s.name === 'gitea')?.path).toBe('services/gitea');
    expect(plan.spec.harbor).toMatchObject({
      node: 'titan-05',
      namespace: 'harbor',
      helmRelease: 'harbor',
      version: 'v2.14.1',
      arch: 'arm64',
    });
    expect(plan.spec.flux.source.url).toBe('ssh://git@scm.bstein.dev/bstein/atlas.git');
    expect(plan.spec.storage).toMatchObject({ longhorn: true, namespace: 'longhorn-system' });
    expect(ctx.compare(plan.spec).filter((f) => f.severity === 'error')).toEqual([]);
  });
});

describe('analyze: the small fixture repos', () => {
  it('given numeric name prefixes that contradict dependsOn, the chain follows dependsOn and the contradiction is noted', async () => {
    const ctx = await analyzeFixture('prefixes');
    expect(chainNames(ctx)).toEqual(['03-infra', '02-database', '01-gitea']);
    expect(ctx.analysis.notes.filter((n) => n.startsWith('Name prefixes contradict'))).toHaveLength(2);
  });

  it('given no dependsOn at all, the order comes from what objects require (namespace, chart source)', async () => {
    const ctx = await analyzeFixture('no-depends-on');
    expect(chainNames(ctx)).toEqual(['infra', 'gitea']);
    const implied = ctx.analysis.graph.implied.map((e) => `${e.from} → ${e.to}: ${e.kind}`);
    expect(implied.sort()).toEqual([
      'flux-system/blog → flux-system/infra: namespace',
      'flux-system/gitea → flux-system/infra: namespace',
    ]);
    expect(ctx.analysis.notes[0]).toMatch(/No Kustomization declares dependsOn/);
    expect(ctx.analysis.deadlocks.git[0]?.servedBy[0]?.evidence).toBe('values');
  });

  it('given an external Flux source, there is no Git cycle and the remote base is reported, not fetched', async () => {
    const { analysis } = await analyzeFixture('external-source');
    expect(analysis.deadlocks.git).toEqual([]);
    expect(analysis.external).toEqual([
      { source: expect.stringContaining('GitRepository flux-system/flux-system'), host: 'github.com' },
    ]);
    expect(analysis.chain.stages).toEqual([]);
    expect(analysis.unfollowed).toEqual([
      expect.objectContaining({ reason: 'remote', entry: 'https://github.com/example/bases//monitoring?ref=v1.2.0' }),
    ]);
    expect(analysis.undecided.some((u) => u.reason.includes('remote base'))).toBe(true);
  });

  it('given a HelmRepository oci:// URL served by the registry it installs, reports the registry deadlock', async () => {
    const { analysis } = await analyzeFixture('registry-oci');
    const [registry] = analysis.deadlocks.registry;
    expect(registry).toMatchObject({ host: 'zot.edge.example', kustomization: 'flux-system/registry', deadlock: true });
    expect(registry?.selfPulls).toEqual([
      expect.objectContaining({ what: 'chart', reference: 'oci://zot.edge.example/charts' }),
    ]);
    expect(registry?.pulls.map((p) => p.site.name)).toEqual(expect.arrayContaining(['zot', 'shop']));
  });

  it('given a host known only through ${VAR} from a ConfigMap, resolves it and says where it came from', async () => {
    const { analysis } = await analyzeFixture('var-configmap');
    const [git] = analysis.deadlocks.git;
    expect(git?.source.host).toBe('git.corp.example');
    expect(git?.servedBy[0]?.via[0]).toMatch(
      /\$\{GIT_DOMAIN\} = "git.corp.example" from ConfigMap flux-system\/cluster-vars/,
    );
  });

  it('given a host only in a SOPS Secret, reports it as unknown instead of guessing', async () => {
    const { analysis } = await analyzeFixture('var-sops');
    expect(analysis.deadlocks.git).toEqual([]);
    expect(analysis.external).toEqual([]);
    const [undecided] = analysis.undecided;
    expect(undecided?.subject).toMatch(/whether git.corp.example .* is served inside the cluster/);
    expect(undecided?.reason).toMatch(/GIT_DOMAIN.*encrypted in Secret flux-system\/cluster-secrets.*SOPS/);
  });

  it('given a dependsOn cycle, reports it with the objects and edges involved, and a missing target', async () => {
    const { analysis } = await analyzeFixture('depends-on-cycle');
    expect(analysis.graph.cycles).toHaveLength(1);
    expect(analysis.graph.cycles[0]?.path).toEqual([
      'flux-system/alpha',
      'flux-system/gamma',
      'flux-system/beta',
      'flux-system/alpha',
    ]);
    expect(analysis.graph.cycles[0]?.edges.map((e) => e.where.file)).toEqual(Array(3).fill('clusters/loop/stack.yaml'));
    expect(analysis.graph.unordered.sort()).toEqual([
      'flux-system/alpha',
      'flux-system/beta',
      'flux-system/delta',
      'flux-system/gamma',
    ]);
    expect(analysis.graph.missing).toEqual([
      expect.objectContaining({ from: 'flux-system/delta', to: 'flux-system/ghost' }),
    ]);
  });

  it('given a broken YAML file, reports it with file and line and still analyzes the rest', async () => {
    const { analysis } = await analyzeFixture('broken-yaml');
    const repo = await analyzeLayout('broken-yaml');
    expect(repo.report.parseErrors).toEqual([
      { file: 'apps/broken.yaml', line: 6, column: 8, message: expect.stringMatching(/Nested mappings/) },
    ]);
    expect(analysis.counts.kustomizations).toBe(2);
    expect(analysis.graph.layers[0]).toContain('flux-system/apps');
  });
});

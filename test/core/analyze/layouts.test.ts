// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Flux ${VAR} substitutions, not templates
/**
 * Issue 16: the layouts people really use. One fixture repo per pattern (test/fixtures/analyze/<name>), plus a
 * combined home-ops-style repo and its negative twins. Each row states the whole expected result of one cluster:
 * its Kustomizations, the dependsOn layering, both deadlock verdicts with the objects on the path, the chain and
 * the inferred edges.
 */
import { describe, expect, it } from 'vitest';
import type { Analysis, AnalysisContext, RepoAnalysis } from '../../../core/analyze/analyze.js';
import { analyzeLayout, twinOf } from './helpers.js';

interface Expected {
  kustomizations: string[];
  layers: string[][];
  /** Verdict, then the source host, the Kustomization serving it and the objects that serve it. */
  git: ['found', string, string, string[]] | ['none found' | 'could not decide'];
  /** Verdict, then the registry host, its Kustomization and the objects that pull from it on its own side. */
  registry: ['found', string, string, string[]] | ['none found' | 'could not decide'];
  chain: string[];
  /** `from > to: kind (field)` of every inferred edge. */
  inferred?: string[];
}

const objects = (list: { site: { kind: string; namespace: string; name: string } }[]) => [
  ...new Set(list.map((f) => `${f.site.kind} ${f.site.namespace}/${f.site.name}`)),
];

function summary(ctx: AnalysisContext): Expected {
  const a: Analysis = ctx.analysis;
  const [git] = a.deadlocks.git;
  const [registry] = a.deadlocks.registry;
  return {
    kustomizations: ctx.model.kustomizations.map((k) => `${k.namespace}/${k.name}`).sort(),
    layers: a.graph.layers,
    git: git ? ['found', git.source.host, git.kustomization, objects(git.servedBy)] : [a.verdicts.git as 'none found'],
    registry: registry
      ? ['found', registry.host, registry.kustomization, objects(registry.selfPulls)]
      : [a.verdicts.registry as 'none found'],
    chain: a.chain.stages.map((s) => s.key),
    inferred: a.graph.implied.filter((e) => e.inferred).map((e) => `${e.from} > ${e.to}: ${e.kind} (${e.field})`),
  };
}

function cluster(repo: RepoAnalysis, name: string): AnalysisContext {
  const found = repo.clusters.find((c) => c.analysis.cluster.name === name);
  if (!found) throw new Error(`no cluster ${name}: ${repo.clusters.map((c) => c.analysis.cluster.name).join(', ')}`);
  return found;
}

const FS = 'flux-system';
const HOME_OPS_ROOT = 'kubernetes/flux/cluster';

const CASES: { fixture: string; cluster: string; expected: Expected }[] = [
  {
    fixture: 'ns-inherited', // item 1
    cluster: 'lab',
    expected: {
      kustomizations: [
        'database/cloudnative-pg',
        'database/postgres-cluster',
        `${FS}/apps`,
        `${FS}/flux-system`,
        'forge/gitea',
      ],
      layers: [
        ['database/cloudnative-pg', `${FS}/apps`, `${FS}/flux-system`],
        ['database/postgres-cluster'],
        ['forge/gitea'],
      ],
      git: ['found', 'git.lab.example', 'forge/gitea', ['HelmRelease forge/gitea']],
      registry: ['none found'],
      chain: ['database/cloudnative-pg', 'database/postgres-cluster', 'forge/gitea'],
      inferred: [],
    },
  },
  {
    fixture: 'flux-operator', // item 2
    cluster: HOME_OPS_ROOT,
    expected: {
      kustomizations: ['dev/gitea', `${FS}/cluster-apps`, `${FS}/flux-system`, 'storage/longhorn'],
      layers: [[`${FS}/cluster-apps`, `${FS}/flux-system`, 'storage/longhorn'], ['dev/gitea']],
      git: ['found', 'git.home.example', 'dev/gitea', ['Service dev/gitea-ssh']],
      registry: ['none found'],
      chain: ['storage/longhorn', 'dev/gitea'],
      inferred: [],
    },
  },
  {
    fixture: 'service-dns', // item 3
    cluster: 'svc',
    expected: {
      kustomizations: [`${FS}/flux-system`, `${FS}/gitea`, `${FS}/registry`, `${FS}/web`],
      layers: [[`${FS}/flux-system`, `${FS}/gitea`, `${FS}/registry`], [`${FS}/web`]],
      git: ['found', 'gitea-ssh.forge.svc.cluster.local', `${FS}/gitea`, ['HelmRelease forge/gitea']],
      registry: ['found', 'zot.registry.svc', `${FS}/registry`, ['Deployment registry/zot']],
      chain: [`${FS}/gitea`],
      inferred: [],
    },
  },
  {
    fixture: 'vars-template', // item 4
    cluster: 'home',
    expected: {
      kustomizations: [`${FS}/flux-system`, `${FS}/gitea`, `${FS}/harbor`, `${FS}/tools`],
      layers: [[`${FS}/flux-system`, `${FS}/gitea`, `${FS}/harbor`, `${FS}/tools`]],
      git: ['found', 'git.${SECRET_DOMAIN}', `${FS}/gitea`, ['Ingress gitea/gitea']],
      registry: ['found', 'harbor.${SECRET_DOMAIN}', `${FS}/harbor`, ['HelmRelease harbor/harbor']],
      chain: [`${FS}/harbor`, `${FS}/gitea`],
      inferred: [],
    },
  },
  {
    fixture: 'multi-cluster', // item 5
    cluster: 'alpha',
    expected: {
      kustomizations: [`${FS}/flux-system`, `${FS}/gitea`, `${FS}/infra`],
      layers: [[`${FS}/flux-system`, `${FS}/infra`], [`${FS}/gitea`]],
      git: ['found', 'git.alpha.example', `${FS}/gitea`, ['Ingress gitea/gitea']],
      registry: ['none found'],
      chain: [`${FS}/infra`, `${FS}/gitea`],
      inferred: [],
    },
  },
  {
    fixture: 'multi-cluster',
    cluster: 'beta',
    expected: {
      kustomizations: [`${FS}/flux-system`, `${FS}/infra`, `${FS}/web`],
      layers: [[`${FS}/flux-system`, `${FS}/infra`], [`${FS}/web`]],
      git: ['none found'],
      registry: ['none found'],
      chain: [],
      inferred: [],
    },
  },
  {
    fixture: 'orphans', // item 6
    cluster: 'main',
    expected: {
      kustomizations: [`${FS}/flux-system`, `${FS}/gitea`, `${FS}/monitoring`],
      layers: [[`${FS}/flux-system`, `${FS}/gitea`, `${FS}/monitoring`]],
      git: ['found', 'git.main.example', `${FS}/gitea`, ['Ingress gitea/gitea']],
      registry: ['none found'],
      chain: [`${FS}/gitea`],
      inferred: [],
    },
  },
  {
    fixture: 'storage-db', // item 7
    cluster: 'lab',
    expected: {
      kustomizations: ['external-secrets', 'flux-system', 'gitea', 'postgres', 'rook-ceph', 'rook-ceph-cluster'].map(
        (n) => `${FS}/${n}`,
      ),
      layers: [
        [`${FS}/external-secrets`, `${FS}/flux-system`, `${FS}/rook-ceph`],
        [`${FS}/rook-ceph-cluster`],
        [`${FS}/postgres`],
        [`${FS}/gitea`],
      ],
      git: ['found', 'code.lab.example', `${FS}/gitea`, ['HelmRelease forge/gitea']],
      registry: ['none found'],
      chain: ['external-secrets', 'rook-ceph', 'rook-ceph-cluster', 'postgres', 'gitea'].map((n) => `${FS}/${n}`),
      inferred: [
        `${FS}/postgres > ${FS}/rook-ceph-cluster: storage (spec.volumeClaimTemplates[0].spec.storageClassName)`,
        `${FS}/gitea > ${FS}/rook-ceph-cluster: storage (spec.values.persistence.storageClass)`,
        `${FS}/gitea > ${FS}/postgres: database (spec.values.gitea.config.database.HOST)`,
        `${FS}/gitea > ${FS}/external-secrets: crd (apiVersion)`,
      ],
    },
  },
  {
    fixture: 'draft-topolvm', // item 8
    cluster: 'edge',
    expected: {
      kustomizations: [`${FS}/flux-system`, `${FS}/gitea`, `${FS}/harbor`, `${FS}/topolvm`],
      layers: [
        [`${FS}/flux-system`, `${FS}/topolvm`],
        [`${FS}/gitea`, `${FS}/harbor`],
      ],
      git: ['found', 'git.edge.example', `${FS}/gitea`, ['Ingress gitea/gitea']],
      registry: ['found', 'harbor.edge.example', `${FS}/harbor`, ['HelmRelease harbor/harbor']],
      chain: [`${FS}/topolvm`, `${FS}/harbor`, `${FS}/gitea`],
      inferred: [],
    },
  },
  {
    fixture: 'home-ops', // all of them
    cluster: HOME_OPS_ROOT,
    expected: {
      kustomizations: [
        'database/cloudnative-pg',
        'database/cloudnative-pg-cluster',
        `${FS}/cluster-apps`,
        `${FS}/flux-instance`,
        `${FS}/flux-operator`,
        `${FS}/flux-system`,
        'forge/forgejo',
        'registry/harbor',
        'storage/longhorn',
      ],
      layers: [
        [
          'database/cloudnative-pg',
          `${FS}/cluster-apps`,
          `${FS}/flux-operator`,
          `${FS}/flux-system`,
          'storage/longhorn',
        ],
        ['database/cloudnative-pg-cluster', `${FS}/flux-instance`],
        ['forge/forgejo', 'registry/harbor'],
      ],
      git: ['found', 'forgejo-ssh.forge.svc.cluster.local', 'forge/forgejo', ['HelmRelease forge/forgejo']],
      registry: ['found', 'harbor.${SECRET_DOMAIN}', 'registry/harbor', ['HelmRelease registry/harbor']],
      chain: ['database/cloudnative-pg', 'storage/longhorn', 'database/cloudnative-pg-cluster', 'forge/forgejo'],
      inferred: [
        'database/cloudnative-pg-cluster > storage/longhorn: storage (spec.storage.storageClass)',
        'forge/forgejo > storage/longhorn: storage (spec.values.persistence (no storageClass))',
      ],
    },
  },
  {
    fixture: 'home-ops',
    cluster: 'lab',
    expected: {
      kustomizations: [`${FS}/flux-system`, `${FS}/whoami`],
      layers: [[`${FS}/flux-system`, `${FS}/whoami`]],
      git: ['none found'],
      registry: ['none found'],
      chain: [],
      inferred: [],
    },
  },
];

describe('analyze on the layouts people use', () => {
  it.each(CASES)('given $fixture, cluster $cluster: the Kustomizations, layers, verdicts and chain', async (c) => {
    const repo = await analyzeLayout(c.fixture);
    const ctx = cluster(repo, c.cluster);
    expect(summary(ctx)).toEqual(c.expected);
    expect(ctx.analysis.graph.missing).toEqual([]);
    expect(ctx.analysis.graph.duplicates).toEqual([]);
  });
});

describe('item 1: namespaces from the parent kustomization.yaml', () => {
  it('keys each ks.yaml by the namespace its kustomization.yaml sets, so cross-namespace dependsOn resolve', async () => {
    const ctx = cluster(await analyzeLayout('ns-inherited'), 'lab');
    const dependsOn = ctx.analysis.graph.layers.flat().length;
    expect(dependsOn).toBe(5);
    const gitea = ctx.model.kustomizations.find((k) => k.name === 'gitea');
    expect(gitea).toMatchObject({
      namespace: 'forge',
      dependsOn: [{ namespace: 'database', name: 'postgres-cluster' }],
    });
    const pg = ctx.model.kustomizations.find((k) => k.name === 'postgres-cluster');
    expect(pg?.dependsOn).toEqual([{ namespace: 'database', name: 'cloudnative-pg' }]);
  });
});

describe('item 2: flux-operator', () => {
  it('given a FluxInstance, the root is its sync.path and the source is what it generates (no file holds it)', async () => {
    const repo = await analyzeLayout('flux-operator');
    const [only] = repo.clusters;
    expect(repo.clusters).toHaveLength(1);
    expect(only?.analysis.cluster).toEqual({
      name: HOME_OPS_ROOT,
      root: `./${HOME_OPS_ROOT}`,
      foundBy: 'FluxInstance flux-system/flux (bootstrap/flux-instance.yaml:3): spec.sync.path',
    });
    expect(only?.analysis.deadlocks.git[0]?.source).toMatchObject({
      kind: 'GitRepository',
      namespace: FS,
      name: FS,
      url: 'ssh://git@git.home.example:2222/ops/home.git',
      branch: 'main',
      file: 'bootstrap/flux-instance.yaml',
    });
  });

  it('given the values of a flux-instance HelmRelease in a configMapGenerator file, reads sync from there', async () => {
    const ctx = cluster(await analyzeLayout('home-ops'), HOME_OPS_ROOT);
    expect(ctx.analysis.cluster.foundBy).toMatch(
      /^HelmRelease flux-system\/flux-instance of the flux-instance chart .*kubernetes\/apps\/flux-system\/flux-instance\/app\/helm\/values.yaml \(configMapGenerator flux-instance-values/,
    );
    expect(ctx.analysis.deadlocks.git[0]?.source.url).toBe(
      'ssh://git@forgejo-ssh.forge.svc.cluster.local:22/ops/home-ops.git',
    );
  });
});

describe('item 3: in-cluster Service names', () => {
  it('links a chart-generated Service to its HelmRelease, and a Service file to itself, naming the evidence', async () => {
    const ctx = cluster(await analyzeLayout('service-dns'), 'svc');
    const [git] = ctx.analysis.deadlocks.git;
    expect(git?.servedBy[0]?.field).toBe(
      'metadata.name (charts name their Services <release>-<suffix>) [release-name: Service forge/gitea-ssh]',
    );
    const [registry] = ctx.analysis.deadlocks.registry;
    expect(registry?.servedBy.map((f) => f.field)).toEqual(['metadata.name [the Service]']);
    expect(registry?.pulls.map((p) => `${p.site.name} ${p.host}`).sort()).toEqual([
      'shop zot.registry',
      'zot zot.registry.svc.cluster.local',
    ]);
  });

  it('given the Git server removed, the in-cluster source host is "could not decide", never outside the cluster', async () => {
    const twin = await twinOf('service-dns', {
      'clusters/svc/stack.yaml': (t) => t.replace('path: ./forge', 'path: ./web'),
    });
    const a = cluster(twin, 'svc').analysis;
    expect(a.verdicts.git).toBe('could not decide');
    expect(a.external).toEqual([]);
    expect(a.undecided).toContainEqual(
      expect.objectContaining({
        about: 'git',
        reason:
          'gitea-ssh.forge.svc.cluster.local is an in-cluster Service name, but no Service, operator, route backend or HelmRelease in the repo makes it',
      }),
    );
  });
});

describe('item 4: hosts behind variables', () => {
  it('matches the same template on both sides and says why; an unknown registry is "could not decide"', async () => {
    const a = cluster(await analyzeLayout('vars-template'), 'home').analysis;
    expect(a.deadlocks.git[0]?.links).toContainEqual(
      expect.stringMatching(
        /^\(git\.\$\{SECRET_DOMAIN\} is matched as written: .*\$\{SECRET_DOMAIN\} its value is encrypted in Secret flux-system\/cluster-secrets/,
      ),
    );
    expect(a.undecided).toContainEqual({
      subject: expect.stringContaining('whether registry ${PRIVATE_REGISTRY} (pulled by CronJob tools/backup'),
      reason: expect.stringContaining('no object serves the template ${PRIVATE_REGISTRY}'),
      about: 'registry',
    });
  });
});

describe('item 5: several clusters', () => {
  it('reports each cluster on its own; the same names in two clusters are not defined twice', async () => {
    const repo = await analyzeLayout('multi-cluster');
    expect(repo.clusters.map((c) => [c.analysis.cluster.name, c.analysis.cluster.root])).toEqual([
      ['alpha', './clusters/alpha'],
      ['beta', './clusters/beta'],
    ]);
    expect(cluster(repo, 'beta').analysis.external).toEqual([
      { source: expect.stringContaining('clusters/beta/flux-system/gotk-sync.yaml'), host: 'git.alpha.example' },
    ]);
    expect(repo.report.outside).toEqual([]);
  });
});

describe('item 6: files that belong to no cluster', () => {
  it('lists what no root reaches, and keeps it out of the graph (the decoy gitea is not a duplicate)', async () => {
    const repo = await analyzeLayout('orphans');
    expect(repo.report.outside.map((o) => `${o.kind} ${o.namespace}/${o.name} ${o.file}`)).toEqual([
      'HelmRelease gitea/gitea-old apps/gitea/old-helmrelease.yaml',
      'HelmRelease blog/blog archive/2023/blog/app/helmrelease.yaml',
      'Kustomization flux-system/blog archive/2023/blog/ks.yaml',
      'GitRepository flux-system/flux-system tests/policy/fixtures/bad-kustomization.yaml',
      'Kustomization flux-system/gitea tests/policy/fixtures/bad-kustomization.yaml',
    ]);
    expect(cluster(repo, 'main').analysis.external).toEqual([]);
  });

  it('in the home-ops repo, the decoy test fixture is outside and both clusters ignore it', async () => {
    const repo = await analyzeLayout('home-ops');
    expect(repo.report.outside.map((o) => `${o.kind} ${o.namespace}/${o.name}`)).toEqual([
      'GitRepository flux-system/flux-system',
      'Kustomization forge/forgejo',
    ]);
  });
});

describe('item 7: storage and databases', () => {
  it('given a StorageClass no one provides for a chain member, says so under "could not decide"', async () => {
    const a = cluster(await analyzeLayout('ns-inherited'), 'lab').analysis;
    expect(a.undecided).toEqual([
      {
        subject:
          'which Kustomization provides the default StorageClass of Cluster database/forge-db (apps/database/postgres/app/cluster.yaml:1)',
        reason: 'spec.storage (no storageClass) needs it; nothing in the repo provides it',
        about: 'chain',
      },
    ]);
  });

  it('names the provider of each inferred edge', async () => {
    const a = cluster(await analyzeLayout('storage-db'), 'lab').analysis;
    const reasons = a.graph.implied.filter((e) => e.inferred).map((e) => e.reason);
    expect(reasons).toContain(
      'HelmRelease forge/gitea uses StorageClass ceph-block (inferred from spec.values.persistence.storageClass), provided by HelmRelease rook-ceph/rook-ceph-cluster (infra/rook-ceph-cluster/helmrelease.yaml:1) spec.values.cephBlockPools[0].storageClass.name',
    );
    expect(reasons).toContain(
      'HelmRelease forge/gitea connects to Service db/postgres (inferred from spec.values.gitea.config.database.HOST), served by Service db/postgres metadata.name',
    );
  });
});

describe('negative twins of the home-ops repo', () => {
  it('given the same repo syncing from GitHub, there is no Git deadlock and no chain; the registry one stays', async () => {
    const twin = await twinOf('home-ops', {
      'kubernetes/apps/flux-system/flux-instance/app/helm/values.yaml': (t) =>
        t.replace(/url: .*/, 'url: https://github.com/example/home-ops.git'),
    });
    const a = cluster(twin, HOME_OPS_ROOT).analysis;
    expect(a.verdicts).toEqual({ git: 'none found', registry: 'found' });
    expect(a.external).toEqual([
      { source: expect.stringContaining('GitRepository flux-system/flux-system'), host: 'github.com' },
    ]);
    expect(a.chain.stages).toEqual([]);
  });

  it('given a registry that its own dependencies do not pull from, it is a registry without a deadlock', async () => {
    const twin = await twinOf('home-ops', {
      'kubernetes/apps/registry/harbor/app/helmrelease.yaml': (t) =>
        t.replaceAll('harbor.${SECRET_DOMAIN}/goharbor', 'docker.io/goharbor'),
      'kubernetes/apps/forge/forgejo/app/helmrelease.yaml': (t) =>
        t.replace('persistence:', 'image:\n      repository: harbor.${SECRET_DOMAIN}/mirror/forgejo\n    persistence:'),
    });
    const a = cluster(twin, HOME_OPS_ROOT).analysis;
    expect(a.verdicts).toEqual({ git: 'found', registry: 'none found' });
    expect(a.registries.map((r) => [r.host, r.kustomization, r.pulls.map((p) => p.site.name)])).toEqual([
      ['harbor.${SECRET_DOMAIN}', 'registry/harbor', ['forgejo']],
    ]);
    expect(a.chain.seed).toBeUndefined();
  });
});

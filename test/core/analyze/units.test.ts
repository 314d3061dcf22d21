// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Flux ${VAR} substitutions, not templates
import { describe, expect, it } from 'vitest';
import { analyzeRepo, analyzeRepository } from '../../../core/analyze/analyze.js';
import {
  hostOfUrl,
  hostsInTraefikRule,
  registryOfImage,
  templateCouldBe,
  templateHostOf,
  templateRegistryOf,
} from '../../../core/analyze/hosts.js';
import { buildModel } from '../../../core/analyze/model.js';
import { includedNamespace } from '../../../core/analyze/namespaces.js';
import { joinPath, normalizePath } from '../../../core/analyze/paths.js';
import { serviceOfHost } from '../../../core/analyze/services.js';
import type { RepoDocument } from '../../../core/ports/index.js';
import { chainNames, gitRepo, ks, repoOf } from './helpers.js';

describe('hosts', () => {
  it.each([
    ['ssh://git@scm.bstein.dev/bstein/atlas.git', 'scm.bstein.dev'],
    ['ssh://git@scm.bstein.dev:2222/x.git', 'scm.bstein.dev'],
    ['git@github.com:org/repo.git', 'github.com'],
    ['https://Git.Example.org/x', 'git.example.org'],
    ['oci://registry.bstein.dev/charts', 'registry.bstein.dev'],
    ['minio.local:9000', 'minio.local'],
    ['ssh://git@${GIT_DOMAIN}/x', undefined],
  ])('given the URL %s, the host is %s', (url, host) => {
    expect(hostOfUrl(url)).toBe(host);
  });

  it.each([
    ['registry.bstein.dev/goharbor/harbor-core:v2.14.1', 'registry.bstein.dev'],
    ['nginx:1.27', 'docker.io'],
    ['bitnami/redis', 'docker.io'],
    ['localhost:5000/app', 'localhost'],
    ['zot.edge.example:5000/apps/shop', 'zot.edge.example'],
  ])('given the image %s, the registry is %s', (image, registry) => {
    expect(registryOfImage(image)).toBe(registry);
  });

  it('reads Host and HostSNI from a Traefik rule, skipping the catch-all', () => {
    expect(hostsInTraefikRule('Host(`a.example`) || HostSNI(`*`) && Host(`b.example`, `c.example`)')).toEqual([
      'a.example',
      'b.example',
      'c.example',
    ]);
  });
});

describe('paths', () => {
  it.each([
    ['./clusters/atlas/', 'clusters/atlas'],
    ['./', ''],
    ['apps/../infra/./core', 'infra/core'],
    ['../outside', '../outside'],
  ])('normalises %s to "%s"', (input, output) => {
    expect(normalizePath(input)).toBe(output);
  });

  it('joins a kustomization entry to its directory', () => {
    expect(joinPath('apps/web', '../base')).toBe('apps/base');
  });
});

const GITEA = (host: string) => `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: gitea, namespace: gitea }
spec: { rules: [{ host: "${host}" }] }
`;

describe('analyzeRepo on in-memory repos', () => {
  it('given postBuild.substitute with a default, resolves the inline value over the default', () => {
    const ctx = analyzeRepo(
      repoOf({
        'flux/sync.yaml': gitRepo('ssh://git@git.a.example/x.git'),
        'flux/ks.yaml': ks('gitea', './gitea', [], '  postBuild: { substitute: { DOMAIN: git.a.example } }'),
        'gitea/ingress.yaml': GITEA('${DOMAIN:=git.b.example}'),
      }),
    );
    expect(ctx.analysis.deadlocks.git[0]?.servedBy[0]?.via).toEqual([
      '${DOMAIN} = "git.a.example" from postBuild.substitute of Kustomization flux-system/gitea',
    ]);
  });

  it('given an undefined variable with no default, reports it as undecided, never as a match', () => {
    const ctx = analyzeRepo(
      repoOf({
        'flux/sync.yaml': gitRepo('ssh://git@git.a.example/x.git'),
        'flux/ks.yaml': ks('gitea', './gitea'),
        'gitea/ingress.yaml': GITEA('${DOMAIN}'),
      }),
    );
    expect(ctx.analysis.deadlocks.git).toEqual([]);
    expect(ctx.analysis.undecided[0]?.reason).toMatch(/\$\{DOMAIN\} not defined by Kustomization flux-system\/gitea/);
  });

  it('given a Namespace and a CRD provided by other Kustomizations, implies the edges and orders the chain by them', () => {
    const ctx = analyzeRepo(
      repoOf({
        'flux/sync.yaml': gitRepo('https://git.a.example/x.git'),
        'flux/ks.yaml': [ks('routes', './routes'), ks('ns', './ns'), ks('gitea', './gitea')].join('---\n'),
        'ns/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: { name: gitea }\n',
        'routes/crd.yaml':
          'apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: { name: httproutes.gateway.networking.k8s.io }\nspec: { group: gateway.networking.k8s.io, names: { kind: HTTPRoute } }\n',
        'gitea/route.yaml':
          'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: gitea, namespace: gitea }\nspec: { hostnames: [git.a.example] }\n',
      }),
    );
    expect(chainNames(ctx)).toEqual(['ns', 'routes', 'gitea']);
    expect(ctx.analysis.graph.implied.map((e) => e.kind).sort()).toEqual(['crd', 'namespace']);
  });

  it('given a chain member that pulls from the registry, the registry joins the chain and the seed goes before it', () => {
    const ctx = analyzeRepo(
      repoOf({
        'flux/sync.yaml': gitRepo('ssh://git@git.a.example/x.git'),
        'flux/ks.yaml': [
          ks('storage', './storage'),
          ks('registry', './registry', ['storage']),
          ks('gitea', './gitea', ['storage']),
        ].join('---\n'),
        'storage/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: s, namespace: default }\n',
        'registry/r.yaml': `${GITEA('reg.a.example').replace(/gitea/g, 'reg')}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: reg, namespace: reg }\nspec: { template: { spec: { containers: [{ name: r, image: reg.a.example/zot:2 }] } } }\n`,
        'gitea/app.yaml': `${GITEA('git.a.example')}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: gitea, namespace: gitea }\nspec: { template: { spec: { containers: [{ name: g, image: reg.a.example/gitea:1 }] } } }\n`,
      }),
    );
    expect(chainNames(ctx)).toEqual(['storage', 'registry', 'gitea']);
    expect(ctx.analysis.chain.seed).toMatchObject({ position: 1, after: ['flux-system/storage'] });
  });

  it('given the same Kustomization defined twice, uses the first and says so', () => {
    const ctx = analyzeRepo(
      repoOf({
        'a/ks.yaml': ks('apps', './apps'),
        'b/ks.yaml': ks('apps', './other'),
        'apps/x.yaml': GITEA('x.example'),
      }),
    );
    expect(ctx.analysis.graph.duplicates).toEqual([
      {
        key: 'flux-system/apps',
        where: [
          { file: 'a/ks.yaml', line: 1 },
          { file: 'b/ks.yaml', line: 1 },
        ],
      },
    ]);
    expect(ctx.analysis.undecided.some((u) => u.subject.includes('which definition of flux-system/apps'))).toBe(true);
  });
});

describe('in-cluster Service names (item 3)', () => {
  const namespaces = new Set(['forge', 'registry']);
  it.each([
    ['gitea-ssh.forge.svc.cluster.local', { name: 'gitea-ssh', namespace: 'forge' }],
    ['gitea-ssh.forge.svc', { name: 'gitea-ssh', namespace: 'forge' }],
    ['zot.registry', { name: 'zot', namespace: 'registry' }],
    ['zot.unknown', undefined],
    ['github.com', undefined],
    ['harbor.example.com', undefined],
  ])('given the host %s, the Service is %o', (host, ref) => {
    expect(serviceOfHost(host, namespaces)).toEqual(ref);
  });
});

describe('hosts behind variables (item 4)', () => {
  it.each([
    ['ssh://git@git.${SECRET_DOMAIN}/ops/x.git', hostOfUrl, 'git.${SECRET_DOMAIN}'],
    ['https://git.${SECRET_DOMAIN:=home.arpa}:3000/x', hostOfUrl, 'git.${SECRET_DOMAIN}'],
    ['harbor.${SECRET_DOMAIN}/goharbor/core:v2', registryOfImage, 'harbor.${SECRET_DOMAIN}'],
    ['ssh://git@git.example.com/${REPO}.git', hostOfUrl, undefined],
  ])('given %s, the host template is %s', (text, extract, template) => {
    expect(templateHostOf(text, extract)).toBe(template);
  });

  it('reads the registry of an image whose first segment is a variable', () => {
    expect(templateRegistryOf('${REGISTRY}/tools/backup:1.4.0')).toBe('${REGISTRY}');
    expect(templateRegistryOf('nginx:${TAG}')).toBeUndefined();
  });

  it.each([
    ['harbor.${D}', 'harbor.home.example', true],
    ['harbor.${D}', 'git.home.example', false],
    ['git.${D}', 'github.com', false],
  ])('given the template %s, it could be %s: %s', (template, host, could) => {
    expect(templateCouldBe(template, host)).toBe(could);
  });
});

describe('could not decide, never "none found"', () => {
  it('given a Flux source without a URL, deadlock 1 could not be decided', () => {
    const ctx = analyzeRepo(
      repoOf({
        'flux/sync.yaml':
          'apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: { name: flux-system, namespace: flux-system }\nspec: { ref: { branch: main } }\n',
        'flux/ks.yaml': ks('gitea', './gitea'),
        'gitea/ingress.yaml': GITEA('git.a.example'),
      }),
    );
    expect(ctx.analysis.verdicts.git).toBe('could not decide');
    expect(ctx.analysis.undecided).toContainEqual({
      subject: 'whether GitRepository flux-system/flux-system (flux/sync.yaml:1) is self-hosted',
      reason: 'it has no URL in the repo (spec.url is missing)',
      about: 'git',
    });
  });

  it('given Kustomizations that apply from a source the repo does not hold, deadlock 1 could not be decided', () => {
    const ctx = analyzeRepo(
      repoOf({ 'flux/ks.yaml': ks('gitea', './gitea'), 'gitea/ingress.yaml': GITEA('git.a.example') }),
    );
    expect(ctx.analysis.verdicts.git).toBe('could not decide');
    expect(ctx.analysis.undecided[0]?.reason).toMatch(/^Kustomizations apply from it, but it is not in the repo/);
  });
});

describe('flux-operator roots (item 2)', () => {
  const instance = (sync: string) =>
    `apiVersion: fluxcd.controlplane.io/v1\nkind: FluxInstance\nmetadata: { name: flux, namespace: flux-system }\nspec: { distribution: { version: "2.x" }${sync} }\n`;

  it('given a FluxInstance without sync, or with a sync.path that is a variable, says why it is no root', () => {
    const repo = analyzeRepository(
      repoOf({
        'a/instance.yaml': instance(''),
        'b/instance.yaml': instance(
          ', sync: { kind: GitRepository, url: "https://git.a.example/x.git", path: "${CLUSTER_PATH}" }',
        ),
      }),
    );
    expect(repo.report.undecided.map((u) => u.reason)).toEqual([
      'it has no spec.sync, so it does not say which folder is the root',
      'its sync.path "${CLUSTER_PATH}" has a variable (spec.sync)',
    ]);
    expect(repo.report.notes[0]).toMatch(/^No cluster root found/);
  });

  it('given sync.name, names the generated source and root Kustomization after it', () => {
    const repo = analyzeRepository(
      repoOf({
        'boot/instance.yaml': instance(
          ', sync: { kind: GitRepository, name: fleet, url: "https://git.a.example/x.git", ref: refs/tags/v1, path: clusters/x }',
        ),
        'clusters/x/ks.yaml': ks('gitea', './gitea', [], '').replace('name: flux-system }', 'name: fleet }'),
        'gitea/ingress.yaml': GITEA('git.a.example'),
      }),
    );
    const [ctx] = repo.clusters;
    expect(ctx?.analysis.cluster).toMatchObject({ name: 'x', root: './clusters/x' });
    expect(ctx?.model.kustomizations.map((k) => `${k.namespace}/${k.name}`)).toEqual([
      'flux-system/fleet',
      'flux-system/gitea',
    ]);
    expect(ctx?.analysis.deadlocks.git[0]?.source).toMatchObject({ name: 'fleet', url: 'https://git.a.example/x.git' });
    expect(ctx?.analysis.deadlocks.git[0]?.source.branch).toBeUndefined();
  });
});

describe('the namespace kustomize gives an object (item 1)', () => {
  it('takes the outermost namespace of the kustomization.yaml chain that includes the file', () => {
    const input = repoOf({
      'apps/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: outer\nresources: [./db]\n',
      'apps/db/kustomization.yaml':
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: inner\nresources: [./ks.yaml]\n',
      'apps/db/ks.yaml': ks('db', './db').replace('namespace: flux-system }', 'namespace: written }'),
      'other/ks.yaml': ks('other', './other'),
    });
    const model = buildModel(input);
    const doc = (file: string) => input.documents.find((d) => d.file === file) as RepoDocument;
    expect(includedNamespace(model, doc('apps/db/ks.yaml'))).toBe('outer');
    expect(includedNamespace(model, doc('other/ks.yaml'))).toBe('flux-system');
  });
});

describe('who makes an in-cluster Service (item 3)', () => {
  const ns = 'apiVersion: v1\nkind: Namespace\nmetadata: { name: forge }\n';
  it.each([
    [
      'an HTTPRoute backend',
      'apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: r, namespace: forge }\nspec: { rules: [{ backendRefs: [{ name: code-http, port: 3000 }] }] }\n',
      'HTTPRoute forge/r spec.rules[0].backendRefs[0].name [backend: Service forge/code-http]',
    ],
    [
      'an Ingress backend',
      'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: { name: i, namespace: forge }\nspec: { rules: [{ http: { paths: [{ backend: { service: { name: code-http } } }] } }] }\n',
      'Ingress forge/i spec.rules[0].http.paths[0].backend.service.name [backend: Service forge/code-http]',
    ],
    [
      'a values field of a release in its namespace',
      'apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: { name: scm, namespace: forge }\nspec: { values: { server: { ROOT_URL: "http://code-http.forge.svc:3000/" } } }\n',
      'HelmRelease forge/scm spec.values.server.ROOT_URL [values: Service forge/code-http]',
    ],
    [
      'the release name (Helm names Services <release>-<suffix>)',
      'apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: { name: code, namespace: forge }\nspec: { values: {} }\n',
      'HelmRelease forge/code metadata.name (charts name their Services <release>-<suffix>) [release-name: Service forge/code-http]',
    ],
  ])('given %s, links the Service to it', (_, maker, served) => {
    const ctx = analyzeRepo(
      repoOf({
        'flux/sync.yaml': gitRepo('http://code-http.forge.svc:3000/ops/x.git'),
        'flux/ks.yaml': ks('code', './code'),
        'code/ns.yaml': ns,
        'code/maker.yaml': maker,
      }),
    );
    const [git] = ctx.analysis.deadlocks.git;
    expect(git?.servedBy.map((f) => `${f.site.kind} ${f.site.namespace}/${f.site.name} ${f.field}`)).toEqual([served]);
  });

  it('given a CNPG Cluster, its -rw Service is a database edge to the Kustomization that applies the Cluster', () => {
    const ctx = analyzeRepo(
      repoOf({
        'flux/sync.yaml': gitRepo('https://git.a.example/x.git'),
        'flux/ks.yaml': [ks('db', './db'), ks('gitea', './gitea')].join('---\n'),
        'db/cluster.yaml':
          'apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: { name: pg, namespace: data }\nspec: { storage: { size: 1Gi, storageClass: fast } }\n',
        'gitea/app.yaml': `${GITEA('git.a.example')}---\napiVersion: apps/v1\nkind: Deployment\nmetadata: { name: gitea, namespace: gitea }\nspec: { template: { spec: { containers: [{ name: g, image: gitea:1, env: [{ name: DB_HOST, value: "pg-rw.data.svc:5432" }] }] } } }\n`,
      }),
    );
    expect(ctx.analysis.graph.implied.map((e) => [e.from, e.to, e.kind, e.field])).toEqual([
      ['flux-system/gitea', 'flux-system/db', 'database', 'spec.template.spec.containers[0].env[0].value'],
    ]);
    expect(chainNames(ctx)).toEqual(['db', 'gitea']);
  });
});

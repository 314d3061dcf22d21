// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Flux ${VAR} substitutions, not templates
import { describe, expect, it } from 'vitest';
import { analyzeRepo } from '../../../core/analyze/analyze.js';
import { hostOfUrl, hostsInTraefikRule, registryOfImage } from '../../../core/analyze/hosts.js';
import { joinPath, normalizePath } from '../../../core/analyze/paths.js';
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

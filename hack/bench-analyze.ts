// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Flux ${VAR} substitutions, not templates
/**
 * Benchmark, not a test: generates a home-ops-style Flux repo of N Kustomizations (default 200) in a temp dir and
 * times `hecate analyze` on it, each measurement in a fresh process so that its peak memory is its own:
 *
 *   - baseline: the same generator with 1 Kustomization (Node, the modules, one small repo): the fixed cost
 *   - read:     reading and parsing the N-Kustomization repo only (adapters/repo-reader.ts)
 *   - analyze:  reading it and analyzing every cluster, as `hecate analyze` does
 *
 * The repo: a flux-operator root (a flux-instance HelmRelease, its values in a configMapGenerator file),
 * apps/<namespace>/<app>/ks.yaml with namespaces set by the parent kustomization.yaml, cross-namespace dependsOn,
 * HelmReleases with ${SECRET_DOMAIN} hosts, Forgejo behind its chart's Service, a registry behind a variable,
 * a CNPG database, Longhorn, a second cluster and a decoy test fixture. Targets: analyze < 2 s and < 200 MB.
 *
 *   npx tsx hack/bench-analyze.ts [count]
 *   npx tsx hack/bench-analyze.ts --generate DIR [count]   # only write the repo, for `hecate analyze --repo DIR`
 */
import { fork } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { readRepo } from '../adapters/repo-reader.js';
import { analyzeRepository } from '../core/analyze/analyze.js';

const TARGET_MS = 2000;
const TARGET_MB = 200;
const NAMESPACES = 20;

const pad = (i: number) => String(i).padStart(3, '0');
const nsOf = (i: number) =>
  (i < 4 ? ['storage', 'database', 'database', 'forge'][i] : `team-${i % NAMESPACES}`) as string;
const nameOf = (i: number) =>
  (i < 4 ? ['longhorn', 'cloudnative-pg', 'postgres', 'forgejo'][i] : `app-${pad(i)}`) as string;

function ks(i: number): string {
  const deps =
    i === 0
      ? []
      : i < 4
        ? [[nsOf(i - 1), nameOf(i - 1)]]
        : [[nsOf(Math.floor((i - 1) / 3)), nameOf(Math.floor((i - 1) / 3))]];
  return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: { name: ${nameOf(i)} }
spec:
  interval: 1h
  path: ./kubernetes/apps/${nsOf(i)}/${nameOf(i)}/app
  targetNamespace: ${nsOf(i)}
  sourceRef: { kind: GitRepository, name: flux-system, namespace: flux-system }
  postBuild: { substituteFrom: [{ kind: Secret, name: cluster-secrets }] }
  dependsOn: [${deps.map(([ns, name]) => `{ name: ${name}, namespace: ${ns} }`).join(', ')}]
`;
}

function release(i: number, chart: string, values: string): string {
  return `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: { name: ${nameOf(i)} }
spec:
  interval: 1h
  chart: { spec: { chart: ${chart}, sourceRef: { kind: HelmRepository, name: charts, namespace: flux-system } } }
  values: ${values}
`;
}

function app(i: number): string {
  if (i === 0) return release(i, 'longhorn', '{ persistence: { defaultClass: true } }');
  if (i === 1) return release(i, 'cloudnative-pg', '{}');
  if (i === 2) {
    return 'apiVersion: postgresql.cnpg.io/v1\nkind: Cluster\nmetadata: { name: postgres }\nspec: { instances: 2, storage: { size: 20Gi, storageClass: longhorn } }\n';
  }
  if (i === 3) {
    return release(
      i,
      'forgejo',
      '{ persistence: { enabled: true }, gitea: { config: { database: { HOST: postgres-rw.database.svc.cluster.local:5432 } } } }',
    );
  }
  const registry = i === 4;
  const image = registry || i % 10 === 0 ? 'registry.${SECRET_DOMAIN}/apps/app' : 'ghcr.io/example/app';
  const host = registry ? 'registry.${SECRET_DOMAIN}' : `app-${i}.\${SECRET_DOMAIN}`;
  return `${release(i, 'app', `{ image: { repository: "${image}", tag: "1.${i}.0" }, persistence: { enabled: true }, ingress: { hosts: [{ host: "${host}" }] } }`)}---
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${nameOf(i)}-worker }
spec:
  template:
    spec:
      containers: [{ name: worker, image: "${image}:${i}", env: [{ name: DB_HOST, value: postgres-rw.database.svc.cluster.local }] }]
`;
}

async function put(dir: string, path: string, text: string): Promise<void> {
  await mkdir(join(dir, dirname(path)), { recursive: true });
  await writeFile(join(dir, path), text);
}

async function generate(dir: string, count: number): Promise<void> {
  const instance = 'apps/flux-system/flux-instance/app';
  await put(
    dir,
    'kubernetes/flux/cluster/ks.yaml',
    'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: { name: cluster-apps, namespace: flux-system }\nspec: { interval: 1h, path: ./kubernetes/apps, sourceRef: { kind: GitRepository, name: flux-system } }\n',
  );
  await put(
    dir,
    'kubernetes/flux/cluster/repos.yaml',
    'apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: { name: charts, namespace: flux-system }\nspec: { url: "https://charts.example.org" }\n',
  );
  await put(
    dir,
    `kubernetes/${instance}/../../kustomization.yaml`,
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: flux-system\nresources: [./flux-instance/ks.yaml]\n',
  );
  await put(
    dir,
    'kubernetes/apps/flux-system/flux-instance/ks.yaml',
    'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: { name: flux-instance }\nspec: { interval: 1h, path: ./kubernetes/apps/flux-system/flux-instance/app, sourceRef: { kind: GitRepository, name: flux-system } }\n',
  );
  await put(
    dir,
    `kubernetes/${instance}/kustomization.yaml`,
    'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [./helmrelease.yaml]\nconfigMapGenerator: [{ name: flux-instance-values, files: [values.yaml=./values.yaml] }]\n',
  );
  await put(
    dir,
    `kubernetes/${instance}/helmrelease.yaml`,
    'apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: { name: flux-instance }\nspec: { chart: { spec: { chart: flux-instance, sourceRef: { kind: HelmRepository, name: charts } } }, valuesFrom: [{ kind: ConfigMap, name: flux-instance-values }] }\n',
  );
  await put(
    dir,
    `kubernetes/${instance}/values.yaml`,
    'instance: { sync: { kind: GitRepository, url: "ssh://git@forgejo-ssh.forge.svc.cluster.local/ops/home.git", ref: refs/heads/main, path: kubernetes/flux/cluster } }\n',
  );
  const byNamespace = new Map<string, number[]>();
  for (let i = 0; i < count; i++) byNamespace.set(nsOf(i), [...(byNamespace.get(nsOf(i)) ?? []), i]);
  for (const [ns, apps] of byNamespace) {
    const resources = ['./namespace.yaml', ...apps.map((i) => `./${nameOf(i)}/ks.yaml`)];
    await put(
      dir,
      `kubernetes/apps/${ns}/kustomization.yaml`,
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ${ns}\nresources: [${resources.join(', ')}]\n`,
    );
    await put(
      dir,
      `kubernetes/apps/${ns}/namespace.yaml`,
      `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
    );
    for (const i of apps) {
      await put(dir, `kubernetes/apps/${ns}/${nameOf(i)}/ks.yaml`, ks(i));
      await put(
        dir,
        `kubernetes/apps/${ns}/${nameOf(i)}/app/kustomization.yaml`,
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [./app.yaml]\n',
      );
      await put(dir, `kubernetes/apps/${ns}/${nameOf(i)}/app/app.yaml`, app(i));
    }
  }
  await put(
    dir,
    'clusters/lab/flux-system/gotk-sync.yaml',
    'apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata: { name: flux-system, namespace: flux-system }\nspec: { url: "https://github.com/example/lab.git" }\n---\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: { name: flux-system, namespace: flux-system }\nspec: { path: ./clusters/lab, sourceRef: { kind: GitRepository, name: flux-system } }\n',
  );
  await put(dir, 'tests/fixtures/decoy.yaml', ks(3));
}

interface Measure {
  ms: number;
  peakMb: number;
  kustomizations: number;
  clusters: number;
  documents: number;
  /** The root cluster's verdicts and chain length: the run found what the repo holds. */
  found?: string;
}

/** One measurement, in this (fresh) process: read, or read and analyze. */
async function measure(dir: string, mode: 'read' | 'analyze'): Promise<Measure> {
  const start = performance.now();
  const input = await readRepo(dir);
  const report = mode === 'analyze' ? analyzeRepository(input).report : undefined;
  const ms = performance.now() - start;
  return {
    ms,
    peakMb: process.resourceUsage().maxRSS / 1024,
    kustomizations: report?.clusters.reduce((n, c) => n + c.counts.kustomizations, 0) ?? 0,
    clusters: report?.clusters.length ?? 0,
    documents: input.documents.length,
    ...(report?.clusters[0]
      ? {
          found: `deadlock 1 ${report.clusters[0].verdicts.git}, deadlock 2 ${report.clusters[0].verdicts.registry}, chain of ${report.clusters[0].chain.stages.length}, ${report.outside.length} outside`,
        }
      : {}),
  };
}

function inChild(dir: string, mode: 'read' | 'analyze'): Promise<Measure> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--measure', dir, mode], { execArgv: process.execArgv });
    child.on('message', (m) => resolve(m as Measure));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`measurement exited ${code}`))));
  });
}

async function main(): Promise<void> {
  if (process.argv[2] === '--measure') {
    process.send?.(await measure(process.argv[3] as string, process.argv[4] as 'read' | 'analyze'));
    return;
  }
  if (process.argv[2] === '--generate') {
    await generate(process.argv[3] as string, Number(process.argv[4] ?? 200));
    return;
  }
  const count = Number(process.argv[2] ?? 200);
  const root = await mkdtemp(join(tmpdir(), 'hecate-bench-analyze-'));
  try {
    await generate(join(root, 'small'), 1);
    await generate(join(root, 'large'), count);
    const rows: [string, Measure][] = [
      ['baseline (1 Kustomization, analyze)', await inChild(join(root, 'small'), 'analyze')],
      [`read only (${count})`, await inChild(join(root, 'large'), 'read')],
      [`analyze (${count})`, await inChild(join(root, 'large'), 'analyze')],
    ];
    for (const [name, m] of rows) {
      const what = m.clusters > 0 ? `, ${m.kustomizations} Kustomizations in ${m.clusters} clusters` : '';
      const found = m.found ? `; ${m.found}` : '';
      console.log(
        `${name.padEnd(36)} ${m.ms.toFixed(0).padStart(6)} ms  peak ${m.peakMb.toFixed(0).padStart(4)} MB  (${m.documents} documents${what}${found})`,
      );
    }
    const full = rows[2]?.[1] as Measure;
    const ok = full.ms < TARGET_MS && full.peakMb < TARGET_MB;
    console.log(`target: analyze < ${TARGET_MS} ms and < ${TARGET_MB} MB peak: ${ok ? 'met' : 'NOT MET'}`);
    console.log(`reproduce: npx tsx hack/bench-analyze.ts ${count}`);
    if (!ok) process.exitCode = 1;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();

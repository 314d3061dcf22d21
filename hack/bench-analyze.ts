/**
 * Benchmark, not a test: generates a Flux repo of N Kustomizations (default 200) in a temp dir, with an in-repo
 * Gitea and Harbor, layered dependsOn, namespaces, HelmReleases and ${VAR}s, then times `hecate analyze` on it.
 *
 *   npx tsx hack/bench-analyze.ts [count]
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { readRepo } from '../adapters/repo-reader.js';
import { analyzeRepo } from '../core/analyze/analyze.js';

const count = Number(process.argv[2] ?? 200);

function kustomization(i: number): string {
  const deps = i === 0 ? [] : [`app-${String(Math.floor((i - 1) / 3)).padStart(3, '0')}`];
  return `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: { name: app-${String(i).padStart(3, '0')}, namespace: flux-system }
spec:
  interval: 10m
  path: ./apps/app-${i}
  sourceRef: { kind: GitRepository, name: flux-system }
  postBuild: { substitute: { DOMAIN: bench.example } }
  dependsOn: [${deps.map((d) => `{ name: ${d} }`).join(', ')}]
`;
}

function app(i: number): string {
  const host =
    i === count - 1 ? 'git.bench.example' : i === count - 2 ? 'registry.bench.example' : `app-${i}.\${DOMAIN}`;
  const image = i % 10 === 0 ? 'registry.bench.example/apps/app' : 'ghcr.io/example/app';
  return `apiVersion: v1
kind: Namespace
metadata: { name: app-${i} }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: app-${i}, namespace: app-${i} }
spec:
  template:
    spec:
      containers: [{ name: app, image: "${image}:${i}" }]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: app-${i}, namespace: app-${i} }
spec: { rules: [{ host: "${host}" }] }
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: { name: app-${i}, namespace: app-${i} }
spec:
  chart: { spec: { chart: app, sourceRef: { kind: HelmRepository, name: charts, namespace: flux-system } } }
  values: { ingress: { hosts: [{ host: "app-${i}.\${DOMAIN}" }] }, image: { repository: registry.bench.example/apps/app${i} } }
`;
}

async function generate(dir: string): Promise<void> {
  await mkdir(join(dir, 'clusters/bench'), { recursive: true });
  await writeFile(
    join(dir, 'clusters/bench/sync.yaml'),
    `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: { name: flux-system, namespace: flux-system }
spec: { url: "ssh://git@git.bench.example/bench/fleet.git", ref: { branch: main } }
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: { name: charts, namespace: flux-system }
spec: { url: "https://charts.example.org" }
`,
  );
  const all = Array.from({ length: count }, (_, i) => i);
  await writeFile(join(dir, 'clusters/bench/apps.yaml'), all.map(kustomization).join('---\n'));
  for (const i of all) {
    await mkdir(join(dir, `apps/app-${i}`), { recursive: true });
    await writeFile(join(dir, `apps/app-${i}/app.yaml`), app(i));
  }
}

const dir = await mkdtemp(join(tmpdir(), 'hecate-bench-analyze-'));
try {
  await generate(dir);
  const start = performance.now();
  const input = await readRepo(dir);
  const read = performance.now();
  const { analysis } = analyzeRepo(input);
  const end = performance.now();
  console.log(
    `${analysis.counts.kustomizations} Kustomizations, ${analysis.counts.documents} documents in ${analysis.counts.files} files`,
  );
  console.log(
    `read ${(read - start).toFixed(0)} ms, analyze ${(end - read).toFixed(0)} ms, total ${(end - start).toFixed(0)} ms`,
  );
  console.log(
    `chain: ${analysis.chain.stages.length} stages; deadlocks: git ${analysis.deadlocks.git.length}, registry ${analysis.deadlocks.registry.length}`,
  );
  console.log(`reproduce: npx tsx hack/bench-analyze.ts ${count}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

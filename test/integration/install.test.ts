/**
 * The operator installs without our cluster in it: `kubectl kustomize manifests/` applied
 * to the bed (strict field validation), the operator run with the rendered Deployment's arguments and environment
 * under the ServiceAccount the install created, and its /metrics refusing an unauthenticated scrape, refusing a token
 * without the hecate-metrics-reader role, and answering one with it (TokenReview + SubjectAccessReview on the real
 * API server). The Prometheus component against the real ServiceMonitor and PrometheusRule CRDs, and the Flux example
 * against the real Flux CRDs.
 *
 * NOTE: the bed runs no container; the operator is the process the Deployment would start, bound to every address
 * as the Deployment binds it (on a free port instead of 8443).
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allCrdPaths,
  type ControlPlane,
  REPO_ROOT,
  requestsBy,
  requireBed,
  startControlPlane,
} from '../../bed/index.js';
import { OperatorProcess } from '../../bed/operator/process.js';
import { fromYamlAll } from '../../core/api/yaml.js';
import { monitoringCrds } from '../helpers/monitoring-crds.js';

const bed = requireBed();
const run = promisify(execFile);
const NS = 'hecate-system';
const SA_USER = `system:serviceaccount:${NS}:hecate-operator`;
const crds = bed.ok ? await monitoringCrds() : { ok: false as const, reason: 'no bed' };
if (bed.ok && !crds.ok) {
  const message = `Prometheus Operator CRDs unavailable: ${crds.reason}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: integration tests may not skip)`);
  console.warn(`SKIP ${message}`);
}

interface Doc {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: Record<string, unknown>;
}

interface Container {
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name?: string; containerPort?: number }[];
}

describe.skipIf(!bed.ok || !crds.ok)('kubectl kustomize manifests/ on the bed, the operator running from it', () => {
  let plane: ControlPlane;
  let rendered: Doc[];
  let operator: OperatorProcess;
  let port: number;
  let work: string;
  const kubectl = (...args: string[]) =>
    run(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfigPath, ...args], { cwd: REPO_ROOT });

  beforeAll(async () => {
    plane = await startControlPlane({ crds: allCrdPaths() });
    if (crds.ok) await plane.installCrds(crds.paths);
    work = await mkdtemp(join(tmpdir(), 'hecate-install-'));
    const { stdout } = await kubectl('kustomize', 'manifests');
    rendered = fromYamlAll(stdout) as Doc[];
    const file = join(work, 'install.yaml');
    await writeFile(file, stdout);
    await kubectl('apply', '--validate=strict', '-f', file);
    await kubectl('apply', '-f', 'examples/atlas-powerplan.yaml');
    // the operator as the Deployment starts it: its args (on a free port) and its plain env, as the ServiceAccount
    const container = deploymentContainer(rendered);
    const args = (container.args ?? []).map((a) => (a.startsWith('--bind-address=') ? '--bind-address=:0' : a));
    const env = Object.fromEntries(
      (container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]),
    );
    const saKubeconfig = await plane.writeKubeConfig(
      await plane.serviceAccountKubeConfig(NS, 'hecate-operator'),
      'hecate-operator.kubeconfig',
    );
    operator = new OperatorProcess({
      kubeconfig: saKubeconfig,
      identity: 'hecate-operator-0',
      args,
      env: { ...env, POD_NAME: 'hecate-operator-0', POD_NAMESPACE: NS },
    });
    await operator.waitForLog((l) => l.message === 'Caches synced, reconciling');
    port = await operator.port();
  });

  afterAll(async () => {
    await operator?.stop();
    await plane?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('installs the operator only: no PowerPlan, no PowerEvent, every namespaced object in hecate-system', () => {
    const kinds = rendered.map((d) => d.kind).sort();
    expect([...new Set(kinds)]).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'CustomResourceDefinition',
      'Deployment',
      'Namespace',
      'NetworkPolicy',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    const namespaced = rendered.filter((d) => !/^(Cluster|CustomResourceDefinition|Namespace)/.test(d.kind ?? ''));
    expect(namespaced.filter((d) => d.metadata?.namespace !== NS).map((d) => `${d.kind}/${d.metadata?.name}`)).toEqual(
      [],
    );
  });

  it('serves /metrics over HTTPS only to a token allowed to get it; the probes stay open', async () => {
    const logLine = operator.logs.find((l) => l.message === 'Serving health and metrics');
    expect(logLine?.address).toBe('0.0.0.0');
    const healthz = await get(port, '/healthz');
    expect(healthz.status).toBe(200);
    expect(healthz.certificate.subjectAltName).toContain('DNS:hecate-operator-metrics.hecate-system.svc');
    expect((await get(port, '/metrics')).status).toBe(401);
    expect((await get(port, '/metrics', 'not-a-token')).status).toBe(401);
    const stranger = await plane.tokenFor('default', 'stranger');
    expect((await get(port, '/metrics', stranger)).status).toBe(403);

    await plane.createNamespace('monitoring');
    const prometheus = await plane.tokenFor('monitoring', 'prometheus');
    await kubectl(
      'create',
      'clusterrolebinding',
      'hecate-metrics-reader',
      '--clusterrole=hecate-metrics-reader',
      '--serviceaccount=monitoring:prometheus',
    );
    const scrape = await eventuallyStatus(port, prometheus, 200);
    expect(scrape.body).toMatch(/^hecate_leader 1$/m);
    expect(scrape.body).toMatch(/^hecate_wayback_ready\{powerplan="atlas"\} 0$/m); // never prepared
    expect(scrape.body).toMatch(/^hecate_wayback_verified\{powerplan="atlas"\} 0$/m);
    const plain = await fetch(`http://127.0.0.1:${port}/metrics`).then(
      (r) => r.status,
      () => 'no HTTP answer',
    );
    expect(plain).not.toBe(200);
  });

  it('asks the API server with its own ServiceAccount, which the install lets create the two reviews and nothing more', async () => {
    const events = requestsBy(await plane.readAudit(), SA_USER);
    const reviews = events.filter((e) => /^(tokenreviews|subjectaccessreviews)$/.test(e.objectRef?.resource ?? ''));
    expect(reviews.length).toBeGreaterThan(0);
    expect(reviews.filter((e) => e.responseStatus?.code !== 201).map((e) => e.requestURI)).toEqual([]);
    const { stdout } = await kubectl('auth', 'can-i', '--list', `--as=${SA_USER}`);
    expect(stdout).toMatch(/^tokenreviews\.authentication\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m);
    expect(stdout).toMatch(/^subjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m);
    // and the reader role is for scrapers, not for the operator
    expect(stdout).not.toMatch(/^\s+\[\/metrics\]/m);
  });

  it('the Prometheus component: a ServiceMonitor and a PrometheusRule the real CRDs accept, on the metrics port', async () => {
    const overlay = join(work, 'with-prometheus');
    await mkdir(overlay);
    const manifests = relative(overlay, join(REPO_ROOT, 'manifests'));
    await writeFile(
      join(overlay, 'kustomization.yaml'),
      `resources: [${manifests}]\ncomponents: [${manifests}/components/prometheus]\n`,
    );
    const { stdout } = await kubectl('kustomize', overlay);
    const docs = fromYamlAll(stdout) as Doc[];
    const monitor = docs.find((d) => d.kind === 'ServiceMonitor');
    const service = docs.find((d) => d.kind === 'Service');
    expect(docs.some((d) => d.kind === 'PrometheusRule')).toBe(true);
    const endpoint = ((monitor?.spec?.endpoints ?? []) as { port?: string; scheme?: string }[])[0];
    const servicePort = ((service?.spec?.ports ?? []) as { name?: string }[])[0];
    expect(endpoint).toMatchObject({ port: servicePort?.name, scheme: 'https' });
    const file = join(work, 'with-prometheus.yaml');
    await writeFile(file, stdout);
    const applied = await kubectl('apply', '--validate=strict', '--dry-run=server', '-f', file);
    expect(applied.stdout).toMatch(
      /servicemonitor\.monitoring\.coreos\.com\/hecate-operator created \(server dry run\)/,
    );
    expect(applied.stdout).toMatch(/prometheusrule\.monitoring\.coreos\.com\/hecate created \(server dry run\)/);
  });

  it('the Flux example is refused until its URL is set, then the real Flux CRDs accept it', async () => {
    const example = await readFile(join(REPO_ROOT, 'examples/flux/hecate.yaml'), 'utf8');
    await plane.createNamespace('flux-system');
    const refused = await kubectl(
      'apply',
      '--validate=strict',
      '--dry-run=server',
      '-f',
      'examples/flux/hecate.yaml',
    ).then(
      () => undefined,
      (error: { stderr?: string }) => error.stderr ?? 'refused',
    );
    expect(refused).toMatch(/spec\.url/);
    const edited = join(work, 'hecate-flux.yaml');
    await writeFile(edited, example.replace(/url: .*/, 'url: https://git.lab.test/ops/hecate.git'));
    const { stdout } = await kubectl('apply', '--validate=strict', '--dry-run=server', '-f', edited);
    expect(stdout).toContain('gitrepository.source.toolkit.fluxcd.io/hecate created (server dry run)');
    expect(stdout).toContain('kustomization.kustomize.toolkit.fluxcd.io/hecate created (server dry run)');
    expect(stdout).toContain('kustomization.kustomize.toolkit.fluxcd.io/hecate-powerplan created (server dry run)');
    const docs = fromYamlAll(example) as Doc[];
    expect(docs.find((d) => d.metadata?.name === 'hecate' && d.kind === 'Kustomization')?.spec?.path).toBe(
      './manifests',
    );
  });
});

function deploymentContainer(docs: Doc[]): Container {
  const deployment = docs.find((d) => d.kind === 'Deployment') as
    | { spec?: { template?: { spec?: { containers?: Container[] } } } }
    | undefined;
  const container = deployment?.spec?.template?.spec?.containers?.[0];
  if (!container) throw new Error('no Deployment container in manifests/');
  return container;
}

/** GET over HTTPS without verifying (the certificate is self-signed), with the peer certificate. */
function get(port: number, path: string, token?: string) {
  return new Promise<{ status: number; body: string; certificate: X509Certificate }>((resolve, reject) => {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const req = request(
      { host: '127.0.0.1', port, path, headers, rejectUnauthorized: false, agent: false },
      (response) => {
        const certificate = new X509Certificate((response.socket as TLSSocket).getPeerCertificate().raw);
        let body = '';
        response.on('data', (chunk) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, certificate }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A new RoleBinding takes a moment to reach the authorizer's cache; a denial is cached 30 s by the operator. */
async function eventuallyStatus(port: number, token: string, status: number, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await get(port, '/metrics', token);
    if (answer.status === status || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

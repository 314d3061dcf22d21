import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hecate, withHome } from '../helpers/cli.js';

const PLAN = 'examples/atlas-powerplan.yaml';

const ready = (status: 'True' | 'False') => ({ conditions: [{ type: 'Ready', status }] });
const RESPONSES: Record<string, unknown> = {
  '/api/v1/nodes': {
    kind: 'NodeList',
    items: [
      { metadata: { name: 'titan-01' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
      {
        metadata: { name: 'titan-04' },
        spec: { unschedulable: true },
        status: { conditions: [{ type: 'Ready', status: 'False' }] },
      },
    ],
  },
  '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations': {
    items: [
      {
        metadata: { name: 'apps', namespace: 'flux-system' },
        spec: { dependsOn: [{ name: 'infra' }] },
        status: ready('True'),
      },
      { metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: {}, status: ready('True') },
      { metadata: { name: 'infra', namespace: 'flux-system' }, spec: {}, status: ready('True') },
      { metadata: { name: 'paused', namespace: 'flux-system' }, spec: { suspend: true } },
    ],
  },
  '/apis/helm.toolkit.fluxcd.io/v2/helmreleases': {
    items: [{ metadata: { name: 'harbor', namespace: 'harbor' }, spec: {}, status: ready('True') }],
  },
  '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system': {
    metadata: { name: 'flux-system', namespace: 'flux-system' },
    status: { ...ready('False'), artifact: { revision: 'main@sha1:abc' } },
  },
};

/** A recording stand-in for the API server: answers the reads a dry-run makes and logs every request. */
function startRecordingApi(requests: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    requests.push(`${req.method} ${path}`);
    const body = RESPONSES[path];
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { kind: 'Status', code: 404, reason: 'NotFound' }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('a dry-run against a reachable cluster', () => {
  const requests: string[] = [];
  let server: Server;
  let kubeconfigText: string;

  beforeAll(async () => {
    server = await startRecordingApi(requests);
    const { port } = server.address() as AddressInfo;
    kubeconfigText = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: bed, context: {cluster: c, user: u}}]
current-context: bed
`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each(['prepare', 'shutdown', 'startup', 'harbor-seed'])(
    'given %s, then it only reads from the cluster and writes no state file',
    async (mode) => {
      await withHome(async (home) => {
        requests.length = 0;
        const kubeconfig = join(home, 'kubeconfig');
        await writeFile(kubeconfig, kubeconfigText);
        const stateFile = join(home, 'outage.state');
        const result = await hecate(
          [mode, '--plan', PLAN, '--kubeconfig', kubeconfig, '--state-file', stateFile],
          home,
        );
        expect(result.code).toBe(0);
        expect(requests.length).toBeGreaterThan(0);
        expect(requests.filter((r) => !r.startsWith('GET '))).toEqual([]);
        expect(existsSync(stateFile)).toBe(false);
      });
    },
  );

  it('given live Flux objects, shutdown lists them in suspend order and leaves the suspended one alone', async () => {
    await withHome(async (home) => {
      const kubeconfig = join(home, 'kubeconfig');
      await writeFile(kubeconfig, kubeconfigText);
      const result = await hecate(['shutdown', '--plan', PLAN, '--kubeconfig', kubeconfig, '-o', 'json'], home);
      const steps = JSON.parse(result.stdout).steps as { id: string; targets: string[]; blockers: string[] }[];
      const flux = steps.filter((s) => s.id.startsWith('flux-suspend/'));
      expect(flux.map((s) => s.targets)).toEqual([
        ['Kustomization/flux-system/flux-system'],
        ['Kustomization/flux-system/apps', 'Kustomization/flux-system/infra'],
        ['HelmRelease/harbor/harbor'],
      ]);
      expect(flux[0]?.blockers).toEqual(['already suspended, left alone: Kustomization/flux-system/paused']);
    });
  });

  it('given the Flux source is not Ready, startup runs the chain unconditionally', async () => {
    await withHome(async (home) => {
      const kubeconfig = join(home, 'kubeconfig');
      await writeFile(kubeconfig, kubeconfigText);
      const result = await hecate(['startup', '--plan', PLAN, '--kubeconfig', kubeconfig], home);
      expect(result.stdout).toContain('It is not Ready: the Git server is down');
      expect(result.stdout).not.toContain('only if the Flux source is not Ready');
    });
  });

  it('given status, it shows nodes and the Flux source and exits 1 for a degraded cluster', async () => {
    await withHome(async (home) => {
      const kubeconfig = join(home, 'kubeconfig');
      await writeFile(kubeconfig, kubeconfigText);
      const result = await hecate(['status', '--plan', PLAN, '--kubeconfig', kubeconfig], home);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/titan-04\s+worker\s+amd64\s+NotReady\s+cordoned/);
      expect(result.stdout).toContain('GitRepository flux-system/flux-system NOT Ready at main@sha1:abc');
      expect(result.stdout).toContain('5 objects, 1 suspended (0 by Hecate)');
    });
  });
});

describe('status without a cluster', () => {
  it('given an unreachable API, it shows the plan and state file and exits 4', async () => {
    await withHome(async (home) => {
      const kubeconfig = join(home, 'kubeconfig');
      await writeFile(
        kubeconfig,
        'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
      );
      const result = await hecate(['status', '--plan', PLAN, '--kubeconfig', kubeconfig], home);
      expect(result.code).toBe(4);
      expect(result.stdout).toContain('Plan:       atlas');
      expect(result.stdout).toContain('UNREACHABLE');
    });
  });
});

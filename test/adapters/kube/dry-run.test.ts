import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApplier } from '../../../adapters/kube/apply.js';
import { DryRunLog, describeTarget, dryRunKubeConfig } from '../../../adapters/kube/dry-run.js';
import { KubeFlux } from '../../../adapters/kube/flux.js';
import { KubeNodes } from '../../../adapters/kube/nodes.js';
import { KubePods } from '../../../adapters/kube/pods.js';

const FORBIDDEN = {
  kind: 'Status',
  apiVersion: 'v1',
  status: 'Failure',
  reason: 'Forbidden',
  code: 403,
  message:
    'pods "web-1" is forbidden: User "limited" cannot create resource "pods/eviction" in API group "" in the namespace "apps"',
};

/**
 * An API stand-in that records every request line and answers: 403 to evictions of web-1, 429 to evictions of
 * api-1, 201/200 to other writes, and the discovery and objects the calls below read.
 */
function startApi(requests: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const path = (req.url ?? '').split('?')[0] ?? '';
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path.endsWith('/pods/web-1/eviction')) return send(403, FORBIDDEN);
    if (path.endsWith('/pods/api-1/eviction'))
      return send(429, { kind: 'Status', code: 429, reason: 'TooManyRequests' });
    if (path === '/api/v1') {
      return send(200, { resources: [{ name: 'configmaps', namespaced: true, kind: 'ConfigMap', verbs: ['patch'] }] });
    }
    if (req.method === 'GET' && path === '/api/v1/nodes/titan-04') return send(200, { metadata: { name: 'titan-04' } });
    if (req.method === 'GET') return send(404, { kind: 'Status', code: 404, reason: 'NotFound' });
    return send(req.method === 'POST' ? 201 : 200, { kind: 'Status', code: 200 });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('the server dry-run transport', () => {
  const requests: string[] = [];
  let server: Server;
  let kc: KubeConfig;

  beforeAll(async () => {
    server = await startApi(requests);
    const { port } = server.address() as AddressInfo;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('given callers that do not ask for a dry run, then every write still goes out with dryRun=All; reads do not', async () => {
    requests.length = 0;
    const log = new DryRunLog();
    const guarded = dryRunKubeConfig(kc, log);
    const nodes = new KubeNodes(guarded);
    await nodes.get('titan-04');
    await nodes.cordon('titan-04', 'hecate');
    await nodes.uncordon('titan-04');
    const flux = new KubeFlux(guarded);
    await flux.setSuspended({ kind: 'Kustomization', namespace: 'flux-system', name: 'apps' }, true);
    const pods = new KubePods(guarded);
    await pods.delete({ namespace: 'apps', name: 'web-2', uid: 'u2' }, 30);
    await new KubeApplier(guarded).apply(
      [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'apps' } }],
      { dryRun: false },
    );

    const writes = requests.filter((r) => !r.startsWith('GET '));
    expect(writes.length).toBe(5);
    expect(writes.filter((r) => !/[?&]dryRun=All(&|$)/.test(r))).toEqual([]);
    expect(requests.filter((r) => r.startsWith('GET ') && r.includes('dryRun'))).toEqual([]);
    expect(log.take().map((r) => `${r.outcome} ${r.verb} ${r.target}`)).toEqual([
      'allowed patch nodes titan-04',
      'allowed patch nodes titan-04',
      'allowed patch kustomizations flux-system/apps',
      'allowed delete pods apps/web-2',
      'allowed patch configmaps apps/c',
    ]);
    expect(log.take()).toEqual([]);
  });

  it('given a 403 and a 429, then the log holds the server message and the caller still sees the status', async () => {
    const log = new DryRunLog();
    const pods = new KubePods(dryRunKubeConfig(kc, log));
    const error = await pods.evict({ namespace: 'apps', name: 'web-1', uid: 'u1' }, 30).catch((e: unknown) => e);
    expect((error as { code?: number }).code).toBe(403);
    expect(await pods.evict({ namespace: 'apps', name: 'api-1', uid: 'u3' }, 30)).toBe('too-many-requests');
    const [refused, held, ...rest] = log.take();
    expect(refused).toEqual({
      verb: 'create',
      target: 'pods/eviction apps/web-1',
      status: 403,
      outcome: 'refused',
      message: `403 Forbidden: ${FORBIDDEN.message}`,
    });
    expect(held).toMatchObject({ target: 'pods/eviction apps/api-1', status: 429, outcome: 'held' });
    expect(held?.message).toMatch(/^429 TooManyRequests: /);
    expect(rest).toEqual([]);
  });

  it.each([
    ['/api/v1/namespaces/apps/pods/web-1/eviction', 'create', 'pods/eviction apps/web-1'],
    ['/api/v1/nodes/titan-04', 'patch', 'nodes titan-04'],
    ['/api/v1/namespaces/hecate-system/pods', 'create', 'pods in hecate-system'],
    ['/api/v1/namespaces', 'create', 'namespaces'],
    ['/apis/helm.toolkit.fluxcd.io/v2/namespaces/harbor/helmreleases/harbor', 'patch', 'helmreleases harbor/harbor'],
    ['/apis/apiextensions.k8s.io/v1/customresourcedefinitions/a.b', 'patch', 'customresourcedefinitions a.b'],
  ])('describes %s (%s) as %s', (path, verb, expected) => {
    expect(describeTarget(path, verb)).toBe(expected);
  });
});

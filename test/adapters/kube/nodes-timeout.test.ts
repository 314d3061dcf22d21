/**
 * A k3s server whose etcd lost quorum accepts connections and never answers. The power-off steps read nodes while
 * the control plane goes down: a node read must give up with a clear error instead of holding the last power-offs.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiReadTimeoutError, KubeNodes } from '../../../adapters/kube/nodes.js';

function kubeConfigFor(server: Server): KubeConfig {
  const { port } = server.address() as AddressInfo;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('KubeNodes.get against an API server that hangs', () => {
  let hanging: Server;
  let answering: Server;
  beforeAll(async () => {
    hanging = createServer(() => {}); // accepts, reads the request, never answers
    answering = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ metadata: { name: req.url?.split('/').pop() }, status: { conditions: [] } }));
    });
    await Promise.all([hanging, answering].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', r))));
  });
  afterAll(async () => {
    hanging.closeAllConnections();
    await Promise.all([hanging, answering].map((s) => new Promise((r) => s.close(r))));
  });

  it('gives up after the read timeout, naming the node and the wait', async () => {
    const nodes = new KubeNodes(kubeConfigFor(hanging), { readTimeoutMs: 300 });
    const started = performance.now();
    const error = await nodes.get('titan-01').catch((e: unknown) => e);
    const waited = performance.now() - started;
    expect(error).toBeInstanceOf(ApiReadTimeoutError);
    expect((error as Error).message).toBe('reading node titan-01: the API server did not answer within 300 ms');
    expect(waited).toBeGreaterThanOrEqual(290);
  });

  it('reads normally from an API server that answers', async () => {
    const nodes = new KubeNodes(kubeConfigFor(answering), { readTimeoutMs: 300 });
    expect(await nodes.get('titan-01')).toMatchObject({ name: 'titan-01', ready: false });
  });
});

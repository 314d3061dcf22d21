/**
 * /metrics behind authentication and authorization: the decision and its caches with a review
 * port that answers as the API server does, and the real HTTPS server with the in-memory certificate. The bed test
 * (test/integration/install.test.ts) runs the same against a real API server.
 */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { HealthServer, isLoopbackHost } from '../../operator/runtime/http.js';
import {
  bearerToken,
  MetricsAuthorizer,
  type ReviewedUser,
  type ReviewPort,
} from '../../operator/runtime/metrics-auth.js';
import { selfSignedCertificate } from '../../operator/runtime/self-signed.js';

const PROMETHEUS = 'system:serviceaccount:monitoring:prometheus';
const STRANGER = 'system:serviceaccount:default:stranger';

/** Tokens → users, and the users allowed to get /metrics; counts the reviews asked; can be made to fail. */
class FakeApiServer implements ReviewPort {
  tokenReviews = 0;
  accessReviews = 0;
  down = false;
  readonly tokens = new Map<string, string>([
    ['prometheus-token', PROMETHEUS],
    ['stranger-token', STRANGER],
  ]);
  readonly allowed = new Set([PROMETHEUS]);

  async authenticate(token: string) {
    this.tokenReviews++;
    if (this.down) throw new Error('connect ECONNREFUSED');
    const username = this.tokens.get(token);
    return username ? { user: { username, groups: ['system:authenticated'] } } : { error: 'invalid bearer token' };
  }

  async authorize(user: ReviewedUser, attributes: { path: string; verb: string }) {
    this.accessReviews++;
    if (this.down) throw new Error('connect ECONNREFUSED');
    const allowed = this.allowed.has(user.username) && attributes.path === '/metrics' && attributes.verb === 'get';
    return { allowed, reason: allowed ? 'RBAC: allowed by ClusterRoleBinding' : '' };
  }
}

describe('who may read /metrics', () => {
  it.each([
    { header: undefined, status: 401 },
    { header: 'Basic cHJvbTpwcm9t', status: 401 },
    { header: 'Bearer not-a-token', status: 401 },
    { header: 'Bearer stranger-token', status: 403 },
    { header: 'bearer prometheus-token', status: 200 },
  ])('Authorization: $header → $status', async ({ header, status }) => {
    const decision = await new MetricsAuthorizer(new FakeApiServer()).check(header);
    expect(decision.allowed ? 200 : decision.status).toBe(status);
  });

  it('names the user it refused, never the token', async () => {
    const decision = await new MetricsAuthorizer(new FakeApiServer()).check('Bearer stranger-token');
    expect(decision).toMatchObject({ allowed: false, status: 403, user: STRANGER });
    expect(JSON.stringify(decision)).not.toContain('stranger-token');
  });

  it('caches an allowed token 1 min (its review) and 5 min (its permission), a denied user 30 s', async () => {
    const api = new FakeApiServer();
    let now = 0;
    const auth = new MetricsAuthorizer(api, { now: () => now });
    await auth.check('Bearer prometheus-token');
    await auth.check('Bearer stranger-token');
    expect([api.tokenReviews, api.accessReviews]).toEqual([2, 2]);
    now = 29_000;
    await auth.check('Bearer prometheus-token');
    await auth.check('Bearer stranger-token');
    expect([api.tokenReviews, api.accessReviews]).toEqual([2, 2]);
    now = 31_000; // the denial expired: the stranger is asked about again (it may have been granted meanwhile)
    api.allowed.add(STRANGER);
    expect(await auth.check('Bearer stranger-token')).toMatchObject({ allowed: true });
    expect([api.tokenReviews, api.accessReviews]).toEqual([2, 3]);
    now = 61_000; // the token reviews expired, the permission of prometheus not yet
    await auth.check('Bearer prometheus-token');
    expect([api.tokenReviews, api.accessReviews]).toEqual([3, 3]);
  });

  it('answers 503 while the API server cannot be asked, and does not remember that', async () => {
    const api = new FakeApiServer();
    const auth = new MetricsAuthorizer(api);
    api.down = true;
    expect(await auth.check('Bearer prometheus-token')).toMatchObject({ allowed: false, status: 503 });
    api.down = false;
    expect(await auth.check('Bearer prometheus-token')).toMatchObject({ allowed: true, user: PROMETHEUS });
  });

  it('keeps at most maxEntries tokens', async () => {
    const api = new FakeApiServer();
    const auth = new MetricsAuthorizer(api, { maxEntries: 2 });
    for (const t of ['a', 'b', 'c', 'a']) await auth.check(`Bearer ${t}`);
    expect(api.tokenReviews).toBe(4); // "a" was evicted by "c"
  });

  it.each([
    ['Bearer abc', 'abc'],
    ['BEARER  abc ', 'abc'],
    ['Bearer', undefined],
    ['Bearer a b', undefined],
    ['Token abc', undefined],
  ])('bearerToken(%j) = %j', (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });
});

describe('the secure metrics server', () => {
  let server: HealthServer | undefined;
  afterEach(() => server?.stop());

  const cert = selfSignedCertificate({
    commonName: 'hecate-operator-metrics',
    altNames: ['hecate-operator-metrics.hecate-system.svc', 'localhost'],
    now: new Date(),
  });

  async function get(port: number, path: string, token?: string) {
    return new Promise<{ status: number; body: string; peer: X509Certificate }>((resolve, reject) => {
      const headers = token ? { Authorization: `Bearer ${token}` } : {};
      const options = { host: '127.0.0.1', port, path, headers, ca: cert.cert, servername: 'localhost', agent: false };
      const req = request(options, (res) => {
        const peer = new X509Certificate((res.socket as TLSSocket).getPeerCertificate().raw);
        let body = '';
        res.on('data', (chunk) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, peer }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('serves HTTPS: probes open, /metrics only with a token allowed to get it', async () => {
    server = new HealthServer(
      { healthy: () => true, ready: () => true, metrics: async () => ({ contentType: 'text/plain', body: 'm 1\n' }) },
      { tls: cert, metricsAccess: new MetricsAuthorizer(new FakeApiServer()) },
    );
    const { port } = await server.start('127.0.0.1', 0);
    const healthz = await get(port, '/healthz');
    expect(healthz.status).toBe(200);
    expect(healthz.peer.subjectAltName).toContain('DNS:hecate-operator-metrics.hecate-system.svc');
    expect((await get(port, '/readyz')).status).toBe(200);
    expect((await get(port, '/metrics')).status).toBe(401);
    expect((await get(port, '/metrics', 'stranger-token')).status).toBe(403);
    expect(await get(port, '/metrics', 'prometheus-token')).toMatchObject({ status: 200, body: 'm 1\n' });
  });

  it('refuses a plain-HTTP client on the TLS port', async () => {
    server = new HealthServer(
      { healthy: () => true, ready: () => true, metrics: async () => ({ contentType: 'text/plain', body: '' }) },
      { tls: cert, metricsAccess: new MetricsAuthorizer(new FakeApiServer()) },
    );
    const { port } = await server.start('127.0.0.1', 0);
    const answer = await fetch(`http://127.0.0.1:${port}/metrics`).then(
      (r) => r.status,
      () => 'no HTTP answer',
    );
    expect(answer).not.toBe(200);
  });

  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.42.0.7', false],
    ['', false],
  ])('isLoopbackHost(%j) = %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

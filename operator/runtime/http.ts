/**
 * /metrics, /healthz and /readyz on one port. Port 0 picks a free one; `start` returns the bound address.
 *
 * Two ways to serve, chosen by the caller (operator/main.ts):
 * - secure: HTTPS with a serving certificate, /metrics only for a bearer token the API server authenticates and
 *   authorizes (./metrics-auth.ts); /healthz and /readyz stay open for the kubelet's probes (no data in them).
 * - plain: HTTP, everything open; for a loopback address only, where the network namespace is the boundary (a
 *   kube-rbac-proxy sidecar, or a person on the same host).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, isIPv4, isIPv6 } from 'node:net';
import type { Logger } from '../../core/ports/index.js';
import type { MetricsAccess } from './metrics-auth.js';
import type { ServingCertificate } from './self-signed.js';

export interface HealthSources {
  /** The process works (its event loop answers). */
  healthy(): boolean;
  /** Ready to serve: a follower is ready when it is waiting for the lease; a leader once its caches synced. */
  ready(): boolean;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface ServingOptions {
  /** Serve HTTPS with this certificate. */
  tls?: ServingCertificate;
  /** Who may read /metrics; without it anyone who reaches the port may. */
  metricsAccess?: MetricsAccess;
  /** Refused scrapes are logged at debug level (the user, never the token). */
  logger?: Logger;
}

/** 127.0.0.0/8, ::1 and localhost: only this host (this pod's network namespace) reaches them. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

export class HealthServer {
  private server: Server | undefined;

  constructor(
    private readonly sources: HealthSources,
    private readonly options: ServingOptions = {},
  ) {}

  get secure(): boolean {
    return this.options.tls !== undefined;
  }

  async start(host: string, port: number): Promise<AddressInfo> {
    const handler = (request: IncomingMessage, response: ServerResponse) => void this.handle(request, response);
    const tls = this.options.tls;
    const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'text/plain; charset=utf-8', headers = {}) => {
      response.writeHead(code, { 'Content-Type': type, ...headers });
      response.end(body);
    };
    if (path === '/healthz') {
      const healthy = this.sources.healthy();
      return send(healthy ? 200 : 500, healthy ? 'ok' : 'unhealthy');
    }
    if (path === '/readyz') return send(this.sources.ready() ? 200 : 503, this.sources.ready() ? 'ok' : 'not ready');
    if (path !== '/metrics') return send(404, 'not found');
    const access = this.options.metricsAccess;
    if (access) {
      const decision = await access.check(request.headers.authorization).catch((error: Error) => ({
        allowed: false as const,
        status: 503 as const,
        reason: error.message,
        user: undefined,
      }));
      if (!decision.allowed) {
        this.options.logger?.debug('Refused a metrics scrape', {
          status: decision.status,
          reason: decision.reason,
          user: decision.user,
        });
        const body = { 401: 'Unauthorized', 403: 'Forbidden', 503: 'Service Unavailable' }[decision.status];
        return send(decision.status, body, undefined, decision.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {});
      }
    }
    try {
      const { contentType, body } = await this.sources.metrics();
      send(200, body, contentType);
    } catch (error) {
      send(500, (error as Error).message);
    }
  }
}

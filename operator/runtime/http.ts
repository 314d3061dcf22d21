/** /metrics, /healthz and /readyz on one port. Port 0 picks a free one; `start` returns the bound address. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthSources {
  /** The process works (its event loop answers). */
  healthy(): boolean;
  /** Ready to serve: a follower is ready when it is waiting for the lease; a leader once its caches synced. */
  ready(): boolean;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export class HealthServer {
  private server: Server | undefined;

  constructor(private readonly sources: HealthSources) {}

  async start(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      const send = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
        response.writeHead(code, { 'Content-Type': type });
        response.end(body);
      };
      if (path === '/healthz')
        return send(this.sources.healthy() ? 200 : 500, this.sources.healthy() ? 'ok' : 'unhealthy');
      if (path === '/readyz') return send(this.sources.ready() ? 200 : 503, this.sources.ready() ? 'ok' : 'not ready');
      if (path === '/metrics') {
        this.sources.metrics().then(
          ({ contentType, body }) => send(200, body, contentType),
          (error: Error) => send(500, error.message),
        );
        return;
      }
      send(404, 'not found');
    });
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
}

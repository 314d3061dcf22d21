/** Free TCP ports on 127.0.0.1 for the bed's components. */
import { createServer, type Server } from 'node:net';

/**
 * `count` distinct ports that were free a moment ago. NOTE: another process may take one before the component
 * binds it; callers retry the start when a component reports "address already in use".
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      ports.push(await listenOnLoopback(server));
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('No TCP address for a loopback listener'));
      else resolve(address.port);
    });
  });
}

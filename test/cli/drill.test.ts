/**
 * `hecate drill capture`'s bad input and unreachable cluster: a clear error naming what was wrong, the exit code
 * kubectl users expect (2 bad input, 4 no answer), and no file left behind.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hecate, withHome } from '../helpers/cli.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('hecate drill capture', () => {
  it('given a kubeconfig that does not exist, then exit 2 naming it, and no file', async () => {
    await withHome(async (home) => {
      const out = join(home, 'capture.yaml');
      const run = await hecate(['drill', 'capture', '--kubeconfig', join(home, 'nope'), '-o', out], home);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/cannot use the kubeconfig: .*nope/);
      expect(existsSync(out)).toBe(false);
    });
  });

  it('given an API server that does not answer, then exit 4 naming the server, and no file', async () => {
    await withHome(async (home) => {
      const server = `https://127.0.0.1:${await closedPort()}`;
      const kubeconfig = join(home, 'kubeconfig');
      await writeFile(
        kubeconfig,
        [
          'apiVersion: v1',
          'kind: Config',
          `clusters: [{name: c, cluster: {server: "${server}", insecure-skip-tls-verify: true}}]`,
          'users: [{name: u, user: {token: t}}]',
          'contexts: [{name: x, context: {cluster: c, user: u}}]',
          'current-context: x',
        ].join('\n'),
      );
      const out = join(home, 'capture.yaml');
      const run = await hecate(['drill', 'capture', '--kubeconfig', kubeconfig, '-o', out], home);
      expect(run.code).toBe(4);
      expect(run.stderr).toContain(`cannot read the cluster at ${server}`);
      expect(existsSync(out)).toBe(false);
    });
  });
});

import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { folderChecksums, hecate, withHome } from '../helpers/cli.js';

const PLAN = 'examples/atlas-powerplan.yaml';

/** A loopback port that nothing listens on: bound once, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('an unreachable or missing cluster', () => {
  let server: string;
  beforeAll(async () => {
    server = `https://127.0.0.1:${await closedPort()}`;
  });

  const kubeconfig = (home: string) => {
    const text = [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: gone, cluster: { server: "${server}", insecure-skip-tls-verify: true } }]`,
      'users: [{ name: admin, user: { token: secret-token } }]',
      'contexts: [{ name: atlas, context: { cluster: gone, user: admin } }]',
      'current-context: atlas',
    ].join('\n');
    return writeFile(join(home, 'kubeconfig'), text).then(() => join(home, 'kubeconfig'));
  };

  const cases: Array<{ name: string; argv: string[]; kubeconfig: boolean; code: number; first: RegExp | string }> = [
    {
      name: 'shutdown --execute against a closed port',
      argv: ['shutdown', '--execute'],
      kubeconfig: true,
      code: 4,
      first:
        /^hecate: cannot reach the API server of atlas \(https:\/\/127\.0\.0\.1:\d+\): .*ECONNREFUSED.*\. Nothing was recorded or changed\.$/,
    },
    {
      name: 'shutdown --emergency --execute against a closed port',
      argv: ['shutdown', '--emergency', '--execute'],
      kubeconfig: true,
      code: 4,
      first: /^hecate: cannot reach the API server of atlas .*Nothing was recorded or changed\.$/,
    },
    {
      name: 'prepare --execute against a closed port',
      argv: ['prepare', '--execute'],
      kubeconfig: true,
      code: 4,
      first: /^hecate: cannot reach the API server of atlas .*Nothing was recorded or changed\.$/,
    },
    {
      name: 'a shutdown dry-run against a closed port',
      argv: ['shutdown'],
      kubeconfig: true,
      code: 4,
      first:
        /^hecate: cannot reach the API server of atlas \(https:\/\/127\.0\.0\.1:\d+\): .*ECONNREFUSED.*\. Pass --offline to plan without a cluster\.$/,
    },
    {
      name: 'a prepare dry-run against a closed port',
      argv: ['prepare'],
      kubeconfig: true,
      code: 4,
      first: /^hecate: cannot reach the API server of atlas .*Pass --offline to plan without a cluster\.$/,
    },
    {
      name: 'shutdown with no kubeconfig anywhere',
      argv: ['shutdown'],
      kubeconfig: false,
      code: 2,
      first:
        /^hecate: no kubeconfig: \$KUBECONFIG is not set, ~\/\.kube\/config does not exist and this is not a pod with a service account: pass --kubeconfig FILE, or --offline to plan without a cluster$/,
    },
    {
      name: 'shutdown --execute with no kubeconfig anywhere',
      argv: ['shutdown', '--execute'],
      kubeconfig: false,
      code: 2,
      first: /^hecate: no kubeconfig: /,
    },
  ];

  it.each(cases)('$name: exit $code, the server named, nothing written', async (c) => {
    await withHome(async (home) => {
      const state = join(home, 'state');
      await mkdir(state);
      const args = [...c.argv, '--plan', PLAN, '--state-file', join(state, 'outage.state')];
      if (c.kubeconfig) args.push('--kubeconfig', await kubeconfig(home));
      const withConfig = await folderChecksums(home);
      const result = await hecate(args, home);
      expect(result.code).toBe(c.code);
      expect(result.stderr.split('\n')[0]).toMatch(c.first);
      expect(result.stderr).not.toContain('secret-token');
      expect(result.stdout).toBe('');
      expect(await folderChecksums(home)).toEqual(withConfig);
      expect(await readdir(state)).toEqual([]);
    });
  });

  it('a startup dry-run still prints the cold-boot plan and names the server that did not answer', async () => {
    await withHome(async (home) => {
      const state = join(home, 'state');
      await mkdir(state);
      const config = await kubeconfig(home);
      const before = await folderChecksums(home);
      const result = await hecate(
        ['startup', '--plan', PLAN, '--kubeconfig', config, '--state-file', join(state, 'outage.state')],
        home,
      );
      expect(result.code).toBe(0);
      expect(result.stderr.split('\n')[0]).toMatch(
        /^The API server of atlas \(https:\/\/127\.0\.0\.1:\d+\) did not answer \(.*ECONNREFUSED.*\): the plan below is the cold-boot one\.$/,
      );
      expect(result.stdout).toMatch(/only if the Flux source is not Ready/);
      expect(await folderChecksums(home)).toEqual(before);
    });
  });
});

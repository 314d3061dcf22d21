/**
 * A CLI that starts at once: `--help` and an offline dry-run never load @kubernetes/client-node, since
 * each command imports what it uses when it runs (cli/program.ts); the same dry-run with a cluster still loads it.
 * Real child processes, as in hygiene-epipe.test.ts, with a resolve hook that records every module URL the process
 * loads. Behaviour, not time: `npm run bench -- cli` measures the time.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../bed/ports.js';

/** `node` arguments of the CLI run as the other CLI tests run it (through tsx), with `hook` imported after tsx. */
const cli = (hook: string) => ['--import', 'tsx', '--import', pathToFileURL(hook).href, 'cli/main.ts'];
const PLAN = 'examples/atlas-powerplan.yaml';
const CLIENT_NODE = '/node_modules/@kubernetes/client-node/';

/** A module for `node --import` that appends each module the process resolves to `out`: `<importer> <url>` a line. */
function recorder(out: string): string {
  const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(out)}, (context.parentURL ?? '-') + ' ' + result.url + '\\n');
  return result;
}`;
  return `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});\n`;
}

interface Run {
  code: number | null;
  stderr: string;
  /** Every module URL the process resolved. */
  urls: string[];
  /** The modules outside @kubernetes/client-node that imported it. */
  clientNodeImporters: string[];
}

describe('which modules a command loads', () => {
  let dir: string;
  let kubeconfig: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-lazy-load-'));
    kubeconfig = join(dir, 'kubeconfig');
    const [closed] = await freePorts(1); // free a moment ago: nothing listens on it
    const server = `https://127.0.0.1:${closed}`;
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{ name: gone, cluster: { server: "${server}", insecure-skip-tls-verify: true } }]`,
        'users: [{ name: admin, user: { token: secret-token } }]',
        'contexts: [{ name: atlas, context: { cluster: gone, user: admin } }]',
        'current-context: atlas',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs `hecate args` with the recorder and a throwaway HOME; `name` keeps each run's files apart. */
  async function run(name: string, args: string[]): Promise<Run> {
    const out = join(dir, `${name}.urls`);
    const hook = join(dir, `${name}.mjs`);
    await writeFile(out, '');
    await writeFile(hook, recorder(out));
    const home = await mkdtemp(join(dir, `${name}-home-`));
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [...cli(hook), ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { ...process.env, HOME: home },
      });
      let text = '';
      child.stderr.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      child.once('error', reject);
      child.once('close', (exit) => resolve({ code: exit, stderr: text }));
    });
    const edges = (await readFile(out, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ') as [string, string]);
    const importers = edges.filter(([from, url]) => url.includes(CLIENT_NODE) && !from.includes(CLIENT_NODE));
    return {
      code,
      stderr,
      urls: edges.map(([, url]) => url),
      clientNodeImporters: [...new Set(importers.map(([from]) => from))],
    };
  }

  it.each([
    { case: '--help', args: ['--help'], code: 0, ran: '/cli/program.ts' },
    { case: 'shutdown --help', args: ['shutdown', '--help'], code: 0, ran: '/cli/program.ts' },
    {
      case: 'shutdown --offline --plan <atlas>',
      args: ['shutdown', '--offline', '--plan', PLAN],
      code: 0,
      ran: '/cli/commands/plan-modes.ts',
    },
  ])('given `hecate $case`, then @kubernetes/client-node is never loaded', async (c) => {
    const loaded = await run(c.case.replace(/\W+/g, '-'), c.args);
    expect(loaded.stderr).toBe('');
    expect(loaded.code).toBe(c.code);
    // the recorder saw the CLI itself: an empty list would pass for the wrong reason
    expect(loaded.urls.some((url) => url.endsWith(c.ran))).toBe(true);
    expect(loaded.clientNodeImporters).toEqual([]);
    expect(loaded.urls.filter((url) => url.includes(CLIENT_NODE))).toHaveLength(0);
  });

  it('given a shutdown dry-run with a kubeconfig for a closed port, then it loads @kubernetes/client-node (exit 4)', async () => {
    const loaded = await run('online', ['shutdown', '--plan', PLAN, '--kubeconfig', kubeconfig]);
    expect(loaded.stderr).toMatch(/^hecate: cannot reach the API server of atlas /);
    expect(loaded.code).toBe(4);
    expect(loaded.clientNodeImporters.length).toBeGreaterThan(0);
  });
});

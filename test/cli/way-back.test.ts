/**
 * Never a shutdown without a way back: against an API stand-in that answers the reads and the SelfSubjectReview,
 * a graceful `shutdown --execute` with a gap refuses before it records or sends anything, and the dry-run lists the
 * same gaps at the top. `--ignore-way-back` and the emergency path go ahead on the bed (shutdown-e2e.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { folderChecksums, hecate, withHome } from '../helpers/cli.js';

const ATLAS = 'examples/atlas-powerplan.yaml';
const FLUX_COMMIT = '1111111111111111111111111111111111111111';
/** What the stand-in's GitRepository reports as the revision Flux last applied. */
let fluxCommit = FLUX_COMMIT;

/** Answers a SelfSubjectReview and the reads a shutdown plan makes; records every request. */
function startApi(requests: string[]): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    requests.push(`${req.method} ${path}`);
    let body: unknown;
    if (req.method === 'POST' && path === '/apis/authentication.k8s.io/v1/selfsubjectreviews') {
      body = { kind: 'SelfSubjectReview', status: { userInfo: { username: 'operator@atlas' } } };
    } else if (req.method === 'GET' && path === '/api/v1/nodes') body = { kind: 'NodeList', items: [] };
    else if (req.method === 'GET' && path.endsWith('/gitrepositories/flux-system')) {
      body = {
        status: { conditions: [{ type: 'Ready', status: 'True' }], artifact: { revision: `main@sha1:${fluxCommit}` } },
      };
    } else if (req.method === 'GET' && /\/(kustomizations|helmreleases)$/.test(path)) body = { items: [] };
    const code = body ? 200 : req.method === 'GET' ? 404 : 403;
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body ?? { kind: 'Status', code, reason: code === 403 ? 'Forbidden' : 'NotFound' }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('the way back', () => {
  const requests: string[] = [];
  let server: Server;
  beforeAll(async () => {
    server = await startApi(requests);
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A home with a kubeconfig, the Atlas plan without Harbor (so the bundle is not needed) and a state folder. */
  async function setUp(home: string) {
    const { port } = server.address() as AddressInfo;
    const kubeconfig = join(home, 'kubeconfig');
    await writeFile(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: atlas, context: {cluster: c, user: u}}]\ncurrent-context: atlas\n`,
    );
    const plan = parse(await readFile(ATLAS, 'utf8'));
    delete plan.spec.harbor;
    plan.spec.powerOff.method = 'helper-pod'; // ssh to the Atlas nodes is its own check (test/core/plan/way-back.test.ts)
    await writeFile(join(home, 'plan.yaml'), stringify(plan));
    await mkdir(join(home, 'state'));
    const args = (...extra: string[]) => [
      ...extra,
      '--plan',
      join(home, 'plan.yaml'),
      '--kubeconfig',
      kubeconfig,
      '--state-file',
      join(home, 'state', 'outage.state'),
    ];
    return { args, env: { HECATE_KUBECTL: '/bin/true' } };
  }

  /** A git snapshot at ~/hecate-repo: at Flux's revision or not. */
  function snapshot(home: string): string {
    const dir = join(home, 'hecate-repo');
    const git = (...a: string[]) =>
      execFileSync('git', ['-C', dir, ...a], {
        encoding: 'utf8',
        env: {
          ...process.env,
          GIT_AUTHOR_NAME: 't',
          GIT_AUTHOR_EMAIL: 't@t',
          GIT_COMMITTER_NAME: 't',
          GIT_COMMITTER_EMAIL: 't@t',
        },
      });
    execFileSync('git', ['init', '-q', '-b', 'main', dir]);
    git('commit', '-q', '--allow-empty', '-m', 'snapshot');
    return git('rev-parse', 'HEAD').trim();
  }

  it('refuses a graceful shutdown with no repo snapshot: exit 3, each gap with its fix, nothing written or sent', async () => {
    await withHome(async (home) => {
      const { args, env } = await setUp(home);
      const before = await folderChecksums(home);
      requests.length = 0;
      const result = await hecate(args('shutdown', '--execute'), home, env);
      expect(result.code, result.stderr).toBe(3);
      expect(result.stderr.split('\n').slice(0, 3)).toEqual([
        'hecate: refusing to shut down: startup could not bring the cluster back after the power cut (1 gap). Nothing was changed.',
        '  - no repo snapshot at ~/hecate-repo: the bootstrap chain has nothing to apply from',
        '    fix: hecate prepare --execute',
      ]);
      expect(result.stderr).toContain('pass --ignore-way-back to shut down anyway');
      expect(await folderChecksums(home)).toEqual(before);
      expect(requests.filter((r) => !r.startsWith('GET ') && !r.includes('selfsubjectreviews'))).toEqual([]);
    });
  });

  it('refuses a snapshot that is not at the revision Flux last applied, naming both', async () => {
    await withHome(async (home) => {
      const { args, env } = await setUp(home);
      const commit = snapshot(home);
      const result = await hecate(args('shutdown', '--execute'), home, env);
      expect(result.code).toBe(3);
      expect(result.stderr.split('\n')[1]).toBe(
        `  - the repo snapshot ~/hecate-repo is at main@sha1:${commit}, not at main@sha1:${FLUX_COMMIT}, the revision Flux last applied`,
      );
    });
  });

  it('names a missing kubectl (the chain renders with it)', async () => {
    await withHome(async (home) => {
      const { args } = await setUp(home);
      const result = await hecate(args('shutdown', '--execute'), home, { HECATE_KUBECTL: '/nonexistent/kubectl' });
      expect(result.code).toBe(3);
      expect(result.stderr).toContain(
        '  - /nonexistent/kubectl is not on PATH: the bootstrap chain renders its kustomizations with it\n    fix: install kubectl on this host, or set HECATE_KUBECTL to one',
      );
    });
  });

  it('the dry-run lists the same gaps at the top and writes nothing', async () => {
    await withHome(async (home) => {
      const { args, env } = await setUp(home);
      const before = await folderChecksums(home);
      const result = await hecate(args('shutdown'), home, env);
      expect(result.code).toBe(0);
      expect(result.stdout.split('\n').slice(0, 3)).toEqual([
        'Way back: 1 gap (shutdown --execute refuses until they are closed, or --ignore-way-back):',
        '  - no repo snapshot at ~/hecate-repo: the bootstrap chain has nothing to apply from',
        '    fix: hecate prepare --execute',
      ]);
      expect(await folderChecksums(home)).toEqual(before);
    });
  });

  it('with the snapshot at the revision Flux last applied and kubectl present, the dry-run finds no gap', async () => {
    await withHome(async (home) => {
      const { args, env } = await setUp(home);
      fluxCommit = snapshot(home);
      try {
        const result = await hecate(args('shutdown'), home, env);
        expect(result.code).toBe(0);
        expect(result.stdout.split('\n')[0]).toBe(
          'Way back: no gaps found: startup has what it needs after the power is cut',
        );
      } finally {
        fluxCommit = FLUX_COMMIT;
      }
    });
  });
});

/**
 * `--dry-run=client|server` through the CLI, against a recording API stand-in: usage errors, what the server dry run
 * sends (every write with dryRun=All, DaemonSet pods never evicted), how it reports a refusal, and that no state file
 * appears. The real API server's answers (RBAC, admission, audit log) are in test/integration/server-dry-run.test.ts.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { StepProbe } from '../../cli/render/server-dry-run-text.js';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import { hecate, withHome } from '../helpers/cli.js';

const PLAN = 'examples/atlas-powerplan.yaml';
const NODES = ['titan-01', 'titan-02', 'titan-03', 'titan-04', 'titan-05', 'titan-06', 'titan-07'];
const FORBIDDEN_MESSAGE =
  'pods "web-1" is forbidden: User "limited" cannot create resource "pods/eviction" in API group "" in the namespace "apps"';

const node = (name: string) => ({
  metadata: { name },
  status: { conditions: [{ type: 'Ready', status: 'True' }] },
});
const pod = (name: string, owner: string) => ({
  metadata: {
    name,
    namespace: 'apps',
    uid: `uid-${name}`,
    ownerReferences: [{ kind: owner, name: `${name}-owner`, controller: true }],
  },
  spec: { nodeName: 'titan-04' },
  status: { phase: 'Running' },
});
const ready = { conditions: [{ type: 'Ready', status: 'True' }] };
const READS: Record<string, unknown> = {
  '/api/v1/nodes': { kind: 'NodeList', items: NODES.map(node) },
  '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations': {
    items: [
      { metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: {}, status: ready },
      { metadata: { name: 'apps', namespace: 'flux-system' }, spec: {}, status: ready },
    ],
  },
  '/apis/helm.toolkit.fluxcd.io/v2/helmreleases': { items: [] },
  '/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/flux-system': {
    metadata: { name: 'flux-system', namespace: 'flux-system' },
    status: { ...ready, artifact: { revision: 'main@sha1:abc' } },
  },
  '/api/v1/namespaces/hecate-system': { metadata: { name: 'hecate-system' } },
  '/api/v1/namespaces/hecate-system/serviceaccounts/default': { metadata: { name: 'default' } },
};

/** Answers the reads above (pods on titan-04: one ReplicaSet pod, one DaemonSet pod) and accepts every write. */
function startApi(state: { requests: string[]; forbidEvictions: boolean }): Promise<Server> {
  const server = createServer((req, res) => {
    state.requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? '', 'http://x');
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') {
      if (url.pathname.endsWith('/eviction') && state.forbidEvictions) {
        return send(403, {
          kind: 'Status',
          status: 'Failure',
          reason: 'Forbidden',
          code: 403,
          message: FORBIDDEN_MESSAGE,
        });
      }
      return send(req.method === 'POST' ? 201 : 200, { kind: 'Status', code: 200 });
    }
    if (url.pathname === '/api/v1/pods') {
      const onNode = url.searchParams.get('fieldSelector') === 'spec.nodeName=titan-04';
      return send(200, { items: onNode ? [pod('web-1', 'ReplicaSet'), pod('agent-1', 'DaemonSet')] : [] });
    }
    const nodeName = /^\/api\/v1\/nodes\/([^/]+)$/.exec(url.pathname)?.[1];
    if (nodeName) return send(200, node(nodeName));
    const body = READS[url.pathname];
    return send(body ? 200 : 404, body ?? { kind: 'Status', code: 404, reason: 'NotFound' });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** The Atlas plan with helper-pod power-off (SSH would leave this machine) and the state file under `home`. */
async function writeSetup(home: string, port: number): Promise<{ args: string[]; stateFile: string }> {
  const plan = fromYaml(await readFile(PLAN, 'utf8')) as { spec: Record<string, unknown> };
  plan.spec.powerOff = { method: 'helper-pod', command: ['systemctl', 'poweroff'] };
  const planFile = join(home, 'plan.yaml');
  await writeFile(planFile, toYaml(plan));
  const kubeconfig = join(home, 'kubeconfig');
  await writeFile(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: bed, context: {cluster: c, user: u}}]
current-context: bed
`,
  );
  const stateFile = join(home, 'outage.state');
  return { args: ['--plan', planFile, '--kubeconfig', kubeconfig, '--state-file', stateFile], stateFile };
}

describe('hecate <mode> --dry-run', () => {
  const state = { requests: [] as string[], forbidEvictions: false };
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = await startApi(state);
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    state.requests.length = 0;
    state.forbidEvictions = false;
  });

  it.each([
    [['--dry-run=server', '--execute'], /--dry-run=server and --execute exclude each other/],
    [['--dry-run', 'client', '--execute'], /--dry-run=client and --execute exclude each other/],
    [['--dry-run=bogus'], /expected client or server/],
    [['--dry-run=server', '--offline'], /--dry-run=server asks the API server: drop --offline/],
  ])('given shutdown %j, then it is a usage error (exit 2) and nothing is sent', async (flags, message) => {
    await withHome(async (home) => {
      const { args, stateFile } = await writeSetup(home, port);
      const result = await hecate(['shutdown', ...args, ...flags], home);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(state.requests).toEqual([]);
      expect(existsSync(stateFile)).toBe(false);
    });
  });

  it('given harbor-seed, then --dry-run is not offered (usage error)', async () => {
    await withHome(async (home) => {
      const result = await hecate(['harbor-seed', '--plan', PLAN, '--offline', '--dry-run=server'], home);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/unknown option '--dry-run=server'/);
    });
  });

  it.each(['prepare', 'shutdown', 'startup'])('given %s --help, then it documents --dry-run', async (mode) => {
    await withHome(async (home) => {
      const result = await hecate([mode, '--help'], home);
      expect(result.stdout).toMatch(/--dry-run <mode>\s+client \(the default without --execute\)/);
      expect(result.stdout.replace(/\s+/g, ' ')).toContain('exit 1 when one is refused');
    });
  });

  it('given --dry-run=client, then the output is the default dry-run, byte for byte', async () => {
    await withHome(async (home) => {
      const plain = await hecate(['shutdown', '--plan', PLAN, '--offline'], home);
      const client = await hecate(['shutdown', '--plan', PLAN, '--offline', '--dry-run=client'], home);
      expect(client).toEqual(plain);
    });
  });

  it('given shutdown --dry-run=server, then every write carries dryRun=All, DaemonSet pods are left alone, no state file', async () => {
    await withHome(async (home) => {
      const { args, stateFile } = await writeSetup(home, port);
      const result = await hecate(['shutdown', ...args, '--dry-run=server'], home);
      expect(result.code, result.stderr + result.stdout.slice(-3000)).toBe(0);
      const writes = state.requests.filter((r) => !r.startsWith('GET '));
      expect(writes.length).toBeGreaterThan(0);
      expect(writes.filter((r) => !/[?&]dryRun=All(&|$)/.test(r))).toEqual([]);
      expect(writes.filter((r) => r.includes('agent-1'))).toEqual([]);
      expect(existsSync(stateFile)).toBe(false);

      const out = result.stdout;
      expect(out).toContain('SERVER DRY-RUN: every change below was sent with dryRun=All');
      expect(out).toContain('allowed  patch kustomizations flux-system/flux-system');
      expect(out).toContain('allowed  patch nodes titan-04');
      expect(out).toContain('allowed  create pods/eviction apps/web-1');
      expect(out).toContain('allowed  create pods in hecate-system');
      expect(out).toMatch(
        /\[outage\] Record the outage in the state file\n\s+→ not probed: writes only the state file/,
      );
      expect(out).toMatch(/\[storage\] .*\n\s+→ not probed: only reads/);
      expect(out).toContain('--execute would be allowed by the server.');
    });
  });

  it('given evictions are forbidden, then the server dry-run names the refused request with the 403 text and exits 1; the client dry-run still exits 0', async () => {
    state.forbidEvictions = true;
    await withHome(async (home) => {
      const { args, stateFile } = await writeSetup(home, port);
      const server = await hecate(['shutdown', ...args, '--dry-run=server'], home);
      expect(server.code).toBe(1);
      expect(server.stdout).toMatch(/\[drain\] Cordon and drain titan-04\n\s+→ REFUSED\n/);
      expect(server.stdout).toContain(`refused  create pods/eviction apps/web-1: 403 Forbidden: ${FORBIDDEN_MESSAGE}`);
      expect(server.stdout).toContain('--execute would fail');
      expect(server.stderr).toMatch(/request\(s\) refused.*--execute would stop at drain\/titan-04/);
      expect(existsSync(stateFile)).toBe(false);

      const client = await hecate(['shutdown', ...args], home);
      expect(client.code).toBe(0);
      expect(client.stdout).toContain('DRY-RUN: nothing will be changed');
    });
  });

  it('given -o json, then one document holds the plan and the server dry-run, step by step', async () => {
    state.forbidEvictions = true;
    await withHome(async (home) => {
      const { args } = await writeSetup(home, port);
      const result = await hecate(['shutdown', ...args, '--dry-run=server', '-o', 'json'], home);
      expect(result.code).toBe(1);
      const doc = JSON.parse(result.stdout) as {
        plan: { steps: { id: string }[] };
        serverDryRun: { steps: StepProbe[]; summary: Record<string, number> };
      };
      expect(doc.serverDryRun.steps.map((s) => s.id)).toEqual(doc.plan.steps.map((s) => s.id));
      const drain = doc.serverDryRun.steps.find((s) => s.id === 'drain/titan-04');
      expect(drain?.verdict).toBe('refused');
      expect(drain?.requests).toContainEqual({
        verb: 'create',
        target: 'pods/eviction apps/web-1',
        status: 403,
        outcome: 'refused',
        message: `403 Forbidden: ${FORBIDDEN_MESSAGE}`,
      });
      expect(doc.serverDryRun.steps.find((s) => s.id === 'drain/titan-05')?.verdict).toBe('allowed');
      expect(doc.serverDryRun.summary.refused).toBe(1);
    });
  });
});

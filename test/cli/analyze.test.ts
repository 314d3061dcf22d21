import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toDraftNode } from '../../adapters/kube/analyze-nodes.js';
import { freePorts } from '../../bed/ports.js';
import { type AnalyzeOptions, runAnalyze } from '../../cli/commands/analyze.js';
import type { CliDeps } from '../../cli/deps.js';
import { ExitCode, ExitError } from '../../cli/exit.js';
import { runCli } from '../../cli/main.js';
import { powerPlan } from '../../core/api/powerplan.js';
import { parseOrThrow } from '../../core/api/validate.js';
import { fromYamlAll, toYaml } from '../../core/api/yaml.js';

const FIXTURES = 'test/fixtures/analyze';
const ATLAS = `${FIXTURES}/atlas`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function depsOf(home: string, out: { stdout: string; stderr: string }): CliDeps {
  return {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    env: { HOME: home },
    cwd: process.cwd(),
    now: () => new Date('2026-11-25T02:00:00Z'),
  };
}

/** Runs `hecate analyze` in-process and maps a thrown ExitError to its code, as main.ts does. */
async function analyze(options: Partial<AnalyzeOptions>, home: string): Promise<Run> {
  const out = { stdout: '', stderr: '' };
  const deps = depsOf(home, out);
  try {
    await runAnalyze({ output: 'text', ...options }, deps);
    return { code: ExitCode.Ok, ...out };
  } catch (error) {
    if (!(error instanceof ExitError)) throw error;
    return { code: error.code, ...out, stderr: `${out.stderr}${error.message}` };
  }
}

let home = '';
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'hecate-analyze-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('hecate analyze', () => {
  it('given the Atlas-like fixture, prints both deadlocks with their chains of objects and the derived chain', async () => {
    const run = await analyze({ repo: ATLAS }, home);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      'DEADLOCK 1 (Git source): Flux fetches scm.bstein.dev from a workload it deploys itself',
    );
    expect(run.stdout).toContain('→ which Kustomization flux-system/gitea applies (path ./services/gitea');
    expect(run.stdout).toContain('DEADLOCK 2 (registry): registry.bstein.dev serves what it needs to start');
    expect(run.stdout).toContain(
      'Chain: core → helm → longhorn → metallb → traefik → vault-csi → vault-injector → vault → postgres → gitea',
    );
    expect(run.stdout).toMatch(/Then seed registry\.bstein\.dev's images \(harbor\), after core, helm, longhorn/);
    expect(run.stdout).toContain('Could not decide');
  });

  it('-o json prints one report per cluster', async () => {
    const run = await analyze({ repo: ATLAS, output: 'json' }, home);
    const report = JSON.parse(run.stdout);
    expect(report.clusters).toHaveLength(1);
    expect(report.clusters[0].cluster).toMatchObject({ name: 'atlas', root: './clusters/atlas' });
    expect(report.clusters[0].chain.stages.map((s: { name: string }) => s.name)).toHaveLength(10);
    expect(report.clusters[0].deadlocks.git[0].kustomization).toBe('flux-system/gitea');
    expect(report.clusters[0].verdicts).toEqual({ git: 'found', registry: 'found' });
  });

  it('--emit-plan writes a draft whose unknowns are TODOs: it is refused until they are filled', async () => {
    const file = join(home, 'draft.yaml');
    const run = await analyze({ repo: ATLAS, emitPlan: file }, home);
    expect(run.code).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text.startsWith('# Draft PowerPlan')).toBe(true);
    expect(text).toContain('  nodes: # TODO: every node with its name, role (control-plane or worker) and arch');
    expect(() => parseOrThrow(powerPlan, fromYamlAll(text)[0], file)).toThrow(/spec\.harbor\.arch:.*\n.*spec\.nodes:/);
    expect(run.stdout).toContain(
      `Draft PowerPlan written to ${file} (cluster atlas); it does not validate until you fill its TODOs (2):`,
    );
  });

  it('--plan with the shipped Atlas plan reports that the chain agrees', async () => {
    const run = await analyze({ repo: ATLAS, plan: 'examples/atlas-powerplan.yaml' }, home);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Plan check of examples/atlas-powerplan.yaml: the chain agrees with the repo');
  });

  it('--plan with a chain in the wrong order reports it and exits 1', async () => {
    const plan = fromYamlAll(await readFile('examples/atlas-powerplan.yaml', 'utf8'))[0] as {
      spec: { bootstrapChain: { name: string }[] };
    };
    const chain = plan.spec.bootstrapChain;
    plan.spec.bootstrapChain = [
      ...chain.filter((s) => s.name !== 'postgres'),
      ...chain.filter((s) => s.name === 'postgres'),
    ];
    const file = join(home, 'plan.yaml');
    await writeFile(file, toYaml(plan));
    const run = await analyze({ repo: ATLAS, plan: file }, home);
    expect(run.code).toBe(ExitCode.Failed);
    expect(run.stdout).toMatch(/error +wrong-order: stage gitea \(#9\) runs before postgres \(#10\), but needs it/);
  });

  it.each([
    ['a repo that does not exist', { repo: 'test/fixtures/analyze/nope' }, /--repo: cannot read .*ENOENT/],
    ['a repo that is a file', { repo: 'package.json' }, /is not a directory/],
    ['the default ~/hecate-repo when it is absent', {}, /--repo: cannot read .*hecate-repo: ENOENT/],
    ['a --plan that does not exist', { repo: ATLAS, plan: 'nope.yaml' }, /cannot read --plan/],
    [
      'an --emit-plan in a missing directory',
      { repo: ATLAS, emitPlan: '/nonexistent/dir/plan.yaml' },
      /cannot write --emit-plan/,
    ],
  ])('given %s, exits 2 with a message naming it', async (_, options, message) => {
    const run = await analyze(options, home);
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr).toMatch(message);
  });

  it('given a repo with a broken YAML file, reports file and line and exits 0', async () => {
    const run = await analyze({ repo: 'test/fixtures/analyze/broken-yaml' }, home);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('apps/broken.yaml:6:8  Nested mappings are not allowed in compact mappings');
  });
});

/** `hecate ...` through the command table, in-process: option parsing included. */
async function hecate(args: string[], home: string): Promise<Run> {
  const out = { stdout: '', stderr: '' };
  const code = await runCli(args, depsOf(home, out));
  return { code, ...out };
}

describe('hecate analyze on several clusters', () => {
  it('--help documents --cluster, the exit codes and what "could not decide" means', async () => {
    const run = await hecate(['analyze', '--help'], home);
    expect(run.stdout).toMatch(/--cluster <name> +only this cluster: its folder's name/);
    expect(run.stdout).toContain('Could not decide: questions the repo does not answer');
    expect(run.stdout).toContain(
      'A deadlock verdict "could not decide" (never "none\nfound") means one of them could hide',
    );
    expect(run.stdout).toMatch(/Exit codes:\n {2}0 .*\n.*\n {2}1 .*\n.*\n {2}2 .*--cluster names no cluster/);
    expect(run.stdout).toContain("  4  --kubeconfig's cluster did not answer");
  });

  it('prints each cluster and what belongs to none; --cluster picks one', async () => {
    const all = await hecate(['analyze', '--repo', `${FIXTURES}/home-ops`], home);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('2 clusters (kubernetes/flux/cluster, lab)');
    expect(all.stdout).toContain('== Cluster lab (root ./clusters/lab) ==');
    expect(all.stdout).toContain('Not part of any cluster (no root reaches them; left out of every graph) (2):');
    expect(all.stdout).toContain('  - Kustomization forge/forgejo (tests/fixtures/flux/forgejo-ks.yaml:13)');
    const one = await hecate(['analyze', '--repo', `${FIXTURES}/home-ops`, '--cluster', 'lab', '-o', 'json'], home);
    expect(JSON.parse(one.stdout).clusters.map((c: { cluster: { name: string } }) => c.cluster.name)).toEqual(['lab']);
    const byPath = await hecate(
      ['analyze', '--repo', `${FIXTURES}/home-ops`, '--cluster', './kubernetes/flux/cluster/', '-o', 'json'],
      home,
    );
    expect(JSON.parse(byPath.stdout).clusters[0].cluster.name).toBe('kubernetes/flux/cluster');
  });

  it('prints "could not decide" as the verdict when an unknown could hide the deadlock', async () => {
    const run = await hecate(['analyze', '--repo', `${FIXTURES}/var-sops`], home);
    expect(run.stdout).toContain('Deadlock 1 (Git source): could not decide (see "Could not decide" below)');
  });

  it.each([
    [
      'an unknown --cluster',
      ['--repo', `${FIXTURES}/multi-cluster`, '--cluster', 'gamma'],
      `hecate: --cluster gamma: no such cluster in ${FIXTURES}/multi-cluster (expected one of: alpha, beta)`,
    ],
    [
      '--emit-plan on several clusters without --cluster',
      ['--repo', `${FIXTURES}/multi-cluster`, '--emit-plan', 'PLAN'],
      'hecate: --emit-plan: the repo holds 2 clusters (alpha, beta); pass --cluster NAME to draft one',
    ],
    [
      '--kubeconfig without --emit-plan',
      ['--repo', ATLAS, '--kubeconfig', '/nonexistent/kubeconfig'],
      'hecate: --kubeconfig: only used with --emit-plan (it reads the nodes for the draft)',
    ],
    [
      'an unusable --kubeconfig',
      ['--repo', ATLAS, '--emit-plan', 'PLAN', '--kubeconfig', '/nonexistent/kubeconfig'],
      "hecate: cannot use the kubeconfig: ENOENT: no such file or directory, open '/nonexistent/kubeconfig'",
    ],
  ])('given %s, exits 2 with one line naming the flag and what was expected', async (_, args, line) => {
    const plan = join(home, 'plan.yaml');
    const run = await hecate(['analyze', ...args.map((a) => (a === 'PLAN' ? plan : a))], home);
    expect(run.code).toBe(ExitCode.Usage);
    expect(run.stderr.split('\n')[0]).toBe(line);
  });
});

/** A stand-in API server that answers the node list, and a kubeconfig for it. */
async function nodeServer(dir: string, nodes: object[]): Promise<{ server: Server; kubeconfig: string }> {
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/api/v1/nodes')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'NodeList', metadata: {}, items: nodes }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: edge, cluster: { server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true } }]`,
      'users: [{ name: admin, user: { token: test-token } }]',
      'contexts: [{ name: edge, context: { cluster: edge, user: admin } }]',
      'current-context: edge',
    ].join('\n'),
  );
  return { server, kubeconfig };
}

const node = (name: string, arch: string, labels: Record<string, string> = {}) => ({
  metadata: { name, labels: { 'kubernetes.io/arch': arch, ...labels } },
  status: { nodeInfo: { architecture: arch } },
});

describe('hecate analyze --emit-plan with the live nodes (item 8)', () => {
  it('reads roles from the node-role labels and arch from the arch label', () => {
    expect(toDraftNode(node('a', 'arm64', { 'node-role.kubernetes.io/control-plane': 'true' }) as never)).toEqual({
      name: 'a',
      role: 'control-plane',
      arch: 'arm64',
    });
    expect(toDraftNode(node('b', 's390x', { 'node-role.kubernetes.io/master': '' }) as never)).toEqual({
      name: 'b',
      role: 'control-plane',
    });
    expect(toDraftNode(node('c', 'amd64') as never)).toEqual({ name: 'c', role: 'worker', arch: 'amd64' });
  });

  it('given --kubeconfig, the draft validates and `analyze --plan` on it agrees with the repo', async () => {
    const { server, kubeconfig } = await nodeServer(home, [
      node('cp-1', 'amd64', { 'node-role.kubernetes.io/control-plane': 'true' }),
      node('edge-2', 'amd64'),
    ]);
    try {
      const file = join(home, 'edge.yaml');
      const repo = `${FIXTURES}/draft-topolvm`;
      const emitted = await hecate(['analyze', '--repo', repo, '--emit-plan', file, '--kubeconfig', kubeconfig], home);
      expect(emitted.code).toBe(0);
      expect(emitted.stdout).toContain(`Draft PowerPlan written to ${file} (cluster edge); it validates as it is`);
      const text = await readFile(file, 'utf8');
      expect(text).not.toContain('TODO');
      expect(parseOrThrow(powerPlan, fromYamlAll(text)[0], file).spec.nodes.map((n) => `${n.name} ${n.role}`)).toEqual([
        'cp-1 control-plane',
        'edge-2 worker',
      ]);
      const checked = await hecate(['analyze', '--repo', repo, '--plan', file], home);
      expect([checked.code, checked.stderr]).toEqual([0, '']);
      expect(checked.stdout).toContain(`Plan check of ${file}:`);
      expect(checked.stdout).not.toMatch(/^ +- error/m);
    } finally {
      server.close();
    }
  });

  it('given a --kubeconfig whose server does not answer, exits 4 naming it', async () => {
    const [closed] = await freePorts(1);
    const kubeconfig = join(home, 'gone');
    await writeFile(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{ name: gone, cluster: { server: "http://127.0.0.1:${closed}", insecure-skip-tls-verify: true } }]\nusers: [{ name: a, user: { token: t } }]\ncontexts: [{ name: gone, context: { cluster: gone, user: a } }]\ncurrent-context: gone\n`,
    );
    const run = await hecate(
      ['analyze', '--repo', ATLAS, '--emit-plan', join(home, 'p.yaml'), '--kubeconfig', kubeconfig],
      home,
    );
    expect(run.code).toBe(ExitCode.Unreachable);
    expect(run.stderr).toMatch(/^hecate: cannot read the nodes for --emit-plan: .*ECONNREFUSED/);
  });

  it.each(readdirSync(FIXTURES).sort())(
    'given the fixture %s, every drafted plan is refused by `analyze --plan` with exactly its TODO fields',
    async (fixture) => {
      const repo = `${FIXTURES}/${fixture}`;
      const report = JSON.parse((await hecate(['analyze', '--repo', repo, '-o', 'json'], home)).stdout);
      for (const { cluster } of report.clusters as { cluster: { name: string } }[]) {
        const file = join(home, `${fixture}-${cluster.name.replaceAll('/', '_')}.yaml`);
        const emitted = await hecate(['analyze', '--repo', repo, '--cluster', cluster.name, '--emit-plan', file], home);
        expect(emitted.code).toBe(0);
        const todos = [...(await readFile(file, 'utf8')).matchAll(/^# {3}- (spec\.[^:]+): /gm)].map((m) => m[1]);
        expect(todos.length).toBeGreaterThan(0);
        const checked = await hecate(['analyze', '--repo', repo, '--plan', file], home);
        expect(checked.code).toBe(ExitCode.Usage);
        const named = [...checked.stderr.matchAll(/^ {2}- (spec\.[^:]+): /gm)].map((m) => m[1]);
        expect([...new Set(named)].sort()).toEqual([...todos].sort());
      }
    },
  );
});

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AnalyzeOptions, runAnalyze } from '../../cli/commands/analyze.js';
import type { CliDeps } from '../../cli/deps.js';
import { ExitCode, ExitError } from '../../cli/exit.js';
import { powerPlan } from '../../core/api/powerplan.js';
import { parseOrThrow } from '../../core/api/validate.js';
import { fromYamlAll, toYaml } from '../../core/yaml.js';

const ATLAS = 'test/fixtures/analyze/atlas';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `hecate analyze` in-process and maps a thrown ExitError to its code, as main.ts does. */
async function analyze(options: Partial<AnalyzeOptions>, home: string): Promise<Run> {
  const out = { stdout: '', stderr: '' };
  const deps: CliDeps = {
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

  it('-o json prints the analysis object', async () => {
    const run = await analyze({ repo: ATLAS, output: 'json' }, home);
    const analysis = JSON.parse(run.stdout);
    expect(analysis.chain.stages.map((s: { name: string }) => s.name)).toHaveLength(10);
    expect(analysis.deadlocks.git[0].kustomization).toBe('flux-system/gitea');
  });

  it('--emit-plan writes a draft PowerPlan that validates with the PowerPlan schema', async () => {
    const file = join(home, 'draft.yaml');
    const run = await analyze({ repo: ATLAS, emitPlan: file }, home);
    expect(run.code).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text.startsWith('# Draft PowerPlan')).toBe(true);
    const plan = parseOrThrow(powerPlan, fromYamlAll(text)[0], file);
    expect(plan.spec.bootstrapChain.at(-1)?.name).toBe('gitea');
    expect(plan.spec.harbor?.node).toBe('titan-05');
    expect(run.stdout).toContain(`Draft PowerPlan written to ${file}`);
  });

  it('--plan with the shipped Atlas plan reports that the chain agrees', async () => {
    const run = await analyze({ repo: ATLAS, plan: 'manifests/atlas-powerplan.yaml' }, home);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Plan check of manifests/atlas-powerplan.yaml: the chain agrees with the repo');
  });

  it('--plan with a chain in the wrong order reports it and exits 1', async () => {
    const plan = fromYamlAll(await readFile('manifests/atlas-powerplan.yaml', 'utf8'))[0] as {
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

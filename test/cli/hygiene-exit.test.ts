import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whichCommand } from '../../adapters/system.js';
import type { CliResult } from '../../bed/e2e.js';
import { fromYamlAll, toYaml } from '../../core/api/yaml.js';
import { folderChecksums, hecate } from '../helpers/cli.js';

const PLAN = 'examples/atlas-powerplan.yaml';
const ATLAS = 'test/fixtures/analyze/atlas';
const STACK = /\n\s+at /;

let home = '';
let state = '';
let empty = '';

const firstLine = (run: CliResult) => run.stderr.split('\n')[0];

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'hecate-hygiene-home-'));
  state = await mkdtemp(join(tmpdir(), 'hecate-hygiene-state-'));
  empty = await mkdtemp(join(tmpdir(), 'hecate-hygiene-path-'));
  await mkdir(join(state, 'a-folder'));
  await writeFile(join(state, 'a-file'), 'not a folder\n');
  await writeFile(join(state, 'legacy.state'), 'OUTAGE_ACTIVE=1\nSUSPENDED_KS="flux-system/apps"\n');
  await writeFile(join(state, 'garbage.state'), '{"apiVersion": "power.hecate.dev/v1al');
});
afterAll(async () => {
  for (const dir of [home, state, empty]) await rm(dir, { recursive: true, force: true });
});

describe('hecate with a state file it cannot use', () => {
  it.each<{ case: string; args: (dir: string) => string[]; code: number; line: (dir: string) => string }>([
    {
      case: '--state-file that is a folder',
      args: (d) => ['shutdown', '--plan', PLAN, '--offline', '--state-file', join(d, 'a-folder')],
      code: 2,
      line: (d) => `hecate: cannot read the state file ${join(d, 'a-folder')}: is a directory (EISDIR)`,
    },
    {
      case: '--state-file under a file',
      args: (d) => ['startup', '--plan', PLAN, '--offline', '--state-file', join(d, 'a-file', 'x.state')],
      code: 2,
      line: (d) =>
        `hecate: cannot read the state file ${join(d, 'a-file', 'x.state')}: a part of the path is not a directory (ENOTDIR)`,
    },
    {
      case: 'a state file of the old script',
      args: (d) => ['startup', '--plan', PLAN, '--offline', '--state-file', join(d, 'legacy.state')],
      code: 2,
      line: (d) =>
        `hecate: State file ${join(d, 'legacy.state')} was written by the old cluster_power_recovery.sh (shell KEY=value lines: OUTAGE_ACTIVE, SUSPENDED_KS), not by Hecate.`,
    },
    {
      case: 'a state file that is not JSON',
      args: (d) => ['shutdown', '--plan', PLAN, '--offline', '--state-file', join(d, 'garbage.state')],
      code: 2,
      line: (d) => `hecate: State file ${join(d, 'garbage.state')} is not valid JSON (`,
    },
    {
      case: 'status with --state-file that is a folder',
      args: (d) => ['status', '--plan', PLAN, '--offline', '--state-file', d],
      code: 2,
      line: (d) => `hecate: cannot read the state file ${d}: is a directory (EISDIR)`,
    },
  ])('given $case, then exit $code with one line naming it, and the folder unchanged', async (c) => {
    const before = await folderChecksums(state);
    const run = await hecate(c.args(state), home);
    expect(run.code).toBe(c.code);
    if (c.case.includes('not JSON')) expect(firstLine(run)).toContain(c.line(state));
    else expect(firstLine(run)).toBe(c.line(state));
    expect(run.stderr).not.toMatch(STACK);
    expect(run.stdout).toBe('');
    expect(await folderChecksums(state)).toEqual(before);
  });
});

describe('hecate with other bad local input', () => {
  it.each<{ case: string; args: string[]; code: number; line: string }>([
    {
      case: '--plan that is a folder',
      args: ['shutdown', '--plan', 'test', '--offline'],
      code: 2,
      line: 'hecate: cannot read --plan test: EISDIR',
    },
    {
      case: 'analyze --plan that is a folder',
      args: ['analyze', '--repo', ATLAS, '--plan', 'test'],
      code: 2,
      line: `hecate: cannot read --plan ${join(process.cwd(), 'test')}: EISDIR`,
    },
    {
      case: 'bundle build --plan that is a folder',
      args: ['bundle', 'build', '--plan', 'test'],
      code: 2,
      line: `hecate: cannot read --plan ${join(process.cwd(), 'test')}: EISDIR`,
    },
    {
      case: '--kubeconfig that does not exist',
      args: ['shutdown', '--plan', PLAN, '--kubeconfig', '/nonexistent/kubeconfig'],
      code: 2,
      line: "hecate: cannot use the kubeconfig: ENOENT: no such file or directory, open '/nonexistent/kubeconfig'",
    },
    {
      case: 'status --kubeconfig that does not exist',
      args: ['status', '--plan', PLAN, '--kubeconfig', '/nonexistent/kubeconfig'],
      code: 2,
      line: "hecate: cannot use the kubeconfig: ENOENT: no such file or directory, open '/nonexistent/kubeconfig'",
    },
    {
      case: 'analyze --repo that does not exist',
      args: ['analyze', '--repo', '/nonexistent/repo'],
      code: 2,
      line: 'hecate: --repo: cannot read /nonexistent/repo: ENOENT',
    },
  ])('given $case, then exit $code with one line naming it', async (c) => {
    const run = await hecate(c.args, home);
    expect(run.code).toBe(c.code);
    expect(firstLine(run)).toBe(c.line);
    expect(run.stderr).not.toMatch(STACK);
  });
});

describe('hecate analyze --emit-plan and --plan', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-hygiene-analyze-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('given an existing --emit-plan file without --force, then exit 2 naming the file and the flag, file unchanged', async () => {
    const file = join(dir, 'existing.yaml');
    await writeFile(file, 'my own plan\n');
    const run = await hecate(['analyze', '--repo', ATLAS, '--emit-plan', file], home);
    expect(run.code).toBe(2);
    expect(firstLine(run)).toBe(`hecate: --emit-plan ${file} already exists: pass --force to overwrite it`);
    expect(run.stderr).not.toMatch(STACK);
    expect(await readFile(file, 'utf8')).toBe('my own plan\n');
  });

  it('given an existing --emit-plan file with --force, then it is overwritten with the draft (exit 0)', async () => {
    const file = join(dir, 'forced.yaml');
    await writeFile(file, 'my own plan\n');
    const run = await hecate(['analyze', '--repo', ATLAS, '--emit-plan', file, '--force'], home);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(await readFile(file, 'utf8')).toMatch(/^# Draft PowerPlan/);
  });

  it('given a new --emit-plan file without --force, then it is written (exit 0)', async () => {
    const file = join(dir, 'new.yaml');
    const run = await hecate(['analyze', '--repo', ATLAS, '--emit-plan', file], home);
    expect(run.code).toBe(0);
    expect(await readFile(file, 'utf8')).toMatch(/^# Draft PowerPlan/);
  });

  it.each([
    { case: 'without --force', force: [] },
    { case: 'with --force', force: ['--force'] },
  ])('given an --emit-plan that is a folder $case, then exit 2 saying so', async ({ force }) => {
    const before = await folderChecksums(dir);
    const run = await hecate(['analyze', '--repo', ATLAS, '--emit-plan', dir, ...force], home);
    expect(run.code).toBe(2);
    expect(firstLine(run)).toBe(`hecate: cannot write --emit-plan ${dir}: is a directory (EISDIR)`);
    expect(run.stderr).not.toMatch(STACK);
    expect(await folderChecksums(dir)).toEqual(before);
  });

  it('given a --plan whose chain disagrees with the repo (an error), then the analysis is printed and exit 1', async () => {
    const plan = fromYamlAll(await readFile(PLAN, 'utf8'))[0] as { spec: { bootstrapChain: { name: string }[] } };
    const chain = plan.spec.bootstrapChain;
    plan.spec.bootstrapChain = [
      ...chain.filter((s) => s.name !== 'postgres'),
      ...chain.filter((s) => s.name === 'postgres'),
    ];
    const file = join(dir, 'wrong-order.yaml');
    await writeFile(file, toYaml(plan));
    for (const output of ['text', 'json']) {
      const run = await hecate(['analyze', '--repo', ATLAS, '--plan', file, '-o', output], home);
      expect(run.code).toBe(1);
      expect(firstLine(run)).toBe(
        `hecate: the plan check of ${file} found an error: stage gitea (#9) runs before postgres (#10), but needs it (flux-system/gitea dependsOn flux-system/postgres)`,
      );
      expect(run.stderr).not.toMatch(STACK);
      expect(run.stdout).toContain('wrong-order');
    }
  });

  it('given a --plan that agrees with the repo, then exit 0', async () => {
    const run = await hecate(['analyze', '--repo', ATLAS, '--plan', PLAN], home);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
  });
});

describe('hecate bundle build --execute without the programs it needs', () => {
  let bin = '';
  let out = '';
  beforeAll(async () => {
    bin = await mkdtemp(join(tmpdir(), 'hecate-hygiene-bin-'));
    out = await mkdtemp(join(tmpdir(), 'hecate-hygiene-bundle-'));
    for (const tool of ['tar', 'zstd']) {
      const found = await whichCommand(tool);
      if (found) await symlink(found, join(bin, tool));
    }
  });
  afterAll(async () => {
    for (const d of [bin, out]) await rm(d, { recursive: true, force: true });
  });

  it.each<{ case: string; path: () => string; line: string }>([
    {
      case: 'no skopeo on PATH',
      path: () => bin,
      line: 'hecate: skopeo is not installed (not on PATH): apt-get install skopeo',
    },
    {
      case: 'none of skopeo, tar and zstd on PATH',
      path: () => empty,
      line: 'hecate: skopeo, tar and zstd are not installed (not on PATH): apt-get install skopeo tar zstd',
    },
  ])('given $case, then it says so once, exit 1, and writes nothing', async (c) => {
    const bundle = join(out, 'sub', 'harbor.tar.zst');
    const before = await folderChecksums(out);
    const run = await hecate(['bundle', 'build', '--plan', PLAN, '--bundle', bundle, '--execute'], home, {
      PATH: c.path(),
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`${c.line}\n`);
    expect(run.stdout).toBe('');
    expect(await folderChecksums(out)).toEqual(before);
  });
});

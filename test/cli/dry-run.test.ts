import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ATLAS_PLAN_PATH } from '../helpers/atlas.js';
import { hecate, withHome } from '../helpers/cli.js';

const PLAN = 'examples/atlas-powerplan.yaml';
const MODES = ['prepare', 'shutdown', 'startup', 'harbor-seed'] as const;
const GOLDEN_DIR = new URL('./golden/', import.meta.url);

/** Compares with the golden file; UPDATE_GOLDEN=1 rewrites it. */
async function expectGolden(name: string, actual: string): Promise<void> {
  const file = new URL(name, GOLDEN_DIR);
  if (process.env.UPDATE_GOLDEN === '1') await writeFile(file, actual);
  const expected = await readFile(file, 'utf8').catch(
    () => '(missing golden: run UPDATE_GOLDEN=1 npx vitest run test/cli)',
  );
  expect(actual).toBe(expected);
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.sort();
}

describe('hecate <mode> dry-run', () => {
  it.each(MODES)('given the Atlas plan and no cluster, %s prints the golden plan and exits 0', async (mode) => {
    await withHome(async (home) => {
      const result = await hecate([mode, '--plan', PLAN, '--offline'], home);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      await expectGolden(`${mode}.txt`, result.stdout);
    });
  });

  it.each(MODES)('given the Atlas plan, %s -o json prints the same plan objects the operator stores', async (mode) => {
    await withHome(async (home) => {
      const result = await hecate([mode, '--plan', PLAN, '--offline', '-o', 'json'], home);
      const plan = JSON.parse(result.stdout);
      expect(plan).toMatchObject({ mode, planName: 'atlas', execute: false });
      expect(plan.steps.length).toBeGreaterThan(2);
    });
  });

  it.each(MODES)('given a dry-run of %s, then nothing is written: no state file, no folder', async (mode) => {
    await withHome(async (home) => {
      const before = await listTree(home);
      const stateFile = join(home, 'state', 'power.state');
      await hecate([mode, '--plan', PLAN, '--offline', '--state-file', stateFile], home);
      expect(existsSync(stateFile)).toBe(false);
      expect(await listTree(home)).toEqual(before);
    });
  });

  it('startup -o yaml quotes what YAML 1.1 would read as a boolean', async () => {
    await withHome(async (home) => {
      const result = await hecate(['startup', '--plan', PLAN, '--offline', '-o', 'yaml'], home);
      expect(result.stdout).toContain('mode: startup');
      expect(result.stdout).toContain('execute: false');
    });
  });

  it('given a recorded outage, startup lists what Hecate cordoned and suspended, in order', async () => {
    await withHome(async (home) => {
      const stateFile = join(home, 'outage.state');
      const outage = {
        inOutage: true,
        startedAt: '2026-11-25T01:00:00Z',
        suspendedByHecate: {
          kustomizations: ['Kustomization/flux-system/flux-system', 'Kustomization/flux-system/apps'],
          helmReleases: ['HelmRelease/harbor/harbor'],
        },
        alreadySuspended: [],
        cordonedByHecate: ['titan-04', 'titan-05'],
        poweredOff: [],
        fluxRevision: 'main@sha1:0123456789abcdef0123456789abcdef01234567',
        ignoredUps: false,
      };
      await writeFile(
        stateFile,
        JSON.stringify({ apiVersion: 'power.hecate.dev/v1alpha1', kind: 'OutageState', outage }),
      );
      const before = await readFile(stateFile, 'utf8');
      const result = await hecate(['startup', '--plan', PLAN, '--offline', '--state-file', stateFile], home);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('targets: titan-04, titan-05');
      expect(result.stdout).toContain(
        'targets: Kustomization/flux-system/flux-system, Kustomization/flux-system/apps, HelmRelease/harbor/harbor',
      );
      expect(result.stdout).toContain(
        'at revision main@sha1:0123456789abcdef0123456789abcdef01234567 (recorded by prepare)',
      );
      expect(await readFile(stateFile, 'utf8')).toBe(before);
    });
  });
});

describe('hecate input errors', () => {
  it('given a PowerPlan with several bad fields, then one message lists every path and it exits 2', async () => {
    await withHome(async (home) => {
      const text = (await readFile(ATLAS_PLAN_PATH, 'utf8'))
        .replace('role: worker, arch: amd64 }', 'role: janitor, arch: amd64 }')
        .replace('timeout: 5m\n    escalation', 'timeout: soon\n    escalation')
        .replace('minStartupCharge: 50', 'minStartupCharge: 150');
      const file = join(home, 'bad-plan.yaml');
      await writeFile(file, text);
      const result = await hecate(['shutdown', '--plan', file, '--offline'], home);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain(`${file.split(home).join('~')} is invalid:`);
      expect(result.stderr).toMatch(/spec\.nodes\[3\]\.role: .*"control-plane".*"worker"/);
      expect(result.stderr).toMatch(/spec\.drain\.timeout: expected a duration/);
      expect(result.stderr).toMatch(/spec\.ups\.minStartupCharge: .*100/);
    });
  });

  it.each([
    [['shutdown', '--plan', 'does/not/exist.yaml', '--offline'], /cannot read --plan does\/not\/exist.yaml: ENOENT/],
    [['shutdown', '--offline'], /no PowerPlan found: pass --plan FILE/],
    [['shutdown', '--plan', PLAN, '-o', 'xml'], /expected one of: text, json, yaml/],
    [['reboot'], /unknown command 'reboot'/],
  ])('given %j, then it exits 2 with %s', async (argv, message) => {
    await withHome(async (home) => {
      const result = await hecate(argv, home);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(message);
    });
  });

  it('given a corrupt state file, then it names the file, exits 2 and leaves it untouched', async () => {
    await withHome(async (home) => {
      const stateFile = join(home, 'corrupt.state');
      await writeFile(stateFile, '{"apiVersion": "power.hecate.dev/v1alpha1", "kind": "OutageSt');
      const result = await hecate(['startup', '--plan', PLAN, '--offline', '--state-file', stateFile], home);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('~/corrupt.state');
      expect(await readFile(stateFile, 'utf8')).toBe('{"apiVersion": "power.hecate.dev/v1alpha1", "kind": "OutageSt');
    });
  });

  it('finds the PowerPlan in the repo snapshot when --plan is not given', async () => {
    await withHome(async (home) => {
      await mkdir(join(home, 'hecate-repo', 'clusters', 'atlas'), { recursive: true });
      await writeFile(
        join(home, 'hecate-repo', 'clusters', 'atlas', 'power.yaml'),
        await readFile(ATLAS_PLAN_PATH, 'utf8'),
      );
      const result = await hecate(['prepare', '--offline'], home);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('plan "atlas" from ~/hecate-repo/clusters/atlas/power.yaml');
    });
  });
});

describe('hecate --execute', () => {
  it('given harbor-seed and no bundle, it stops at the check, naming the path and the build command', async () => {
    await withHome(async (home) => {
      const stateFile = join(home, 'outage.state');
      const kubeconfig = join(home, 'kubeconfig');
      await writeFile(
        kubeconfig,
        'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
      );
      const result = await hecate(
        ['harbor-seed', '--plan', PLAN, '--execute', '--kubeconfig', kubeconfig, '--state-file', stateFile],
        home,
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('~/.local/share/hecate/bundles/harbor-bootstrap-v2.14.1-arm64.tar.zst');
      expect(result.stderr).toContain('hecate bundle build');
      expect(result.stderr).toMatch(/step bundle\/verify .* failed/);
      expect(result.stderr).toMatch(/harbor\/seed\s+not run/);
      expect(result.stderr).toContain('rerun the same command: it resumes at this step');
    });
  });
});

describe('hecate field errors', () => {
  it('given a present value of the wrong type, it says what was expected, not "required"', async () => {
    await withHome(async (home) => {
      const text = (await readFile(ATLAS_PLAN_PATH, 'utf8')).replace('parallelism: 2', 'parallelism: "two"');
      const file = join(home, 'plan.yaml');
      await writeFile(file, text);
      const result = await hecate(['shutdown', '--plan', file, '--offline'], home);
      expect(result.stderr).toMatch(/spec\.drain\.parallelism: Invalid input: expected number, received string/);
    });
  });

  it('given a missing required field, it says required', async () => {
    await withHome(async (home) => {
      const text = (await readFile(ATLAS_PLAN_PATH, 'utf8')).replace('    version: v2.14.1\n', '');
      const file = join(home, 'plan.yaml');
      await writeFile(file, text);
      const result = await hecate(['shutdown', '--plan', file, '--offline'], home);
      expect(result.stderr).toMatch(/spec\.harbor\.version: required: expected string/);
    });
  });
});

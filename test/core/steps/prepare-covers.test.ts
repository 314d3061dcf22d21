/**
 * check-plan-covers-repo: prepare runs the repo analysis on the fresh snapshot and warns when the PowerPlan does not
 * cover what the repo now needs. Fixture repos are read from disk (test/fixtures/analyze) with the real reader.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRepo } from '../../../adapters/repo-reader.js';
import type { PowerPlanSpec } from '../../../core/api/index.js';
import { compilePlan } from '../../../core/plan/index.js';
import type { RepoReader } from '../../../core/ports/prepare.js';
import { runPlan } from '../../../core/run/runner.js';
import { checkPlanCoversRepo } from '../../../core/steps/prepare.js';
import { atlasInput, atlasSpec } from '../../helpers/atlas.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

const ATLAS_REPO = 'test/fixtures/analyze/atlas';

/** Runs the prepare plan's check-plan-covers-repo step on `dir`; returns its reports and the step's record. */
async function runCheck(spec: PowerPlanSpec, dir: string, read: RepoReader = readRepo) {
  const plan = compilePlan('prepare', { ...atlasInput(), spec });
  const steps = plan.steps.filter((s) => s.kind === 'check-plan-covers-repo');
  const reports: string[] = [];
  const progress = await runPlan({
    plan: { ...plan, steps },
    action: 'prepare',
    executors: { 'check-plan-covers-repo': checkPlanCoversRepo(read, spec, dir) },
    store: new MemoryStore(),
    clock: new FakeClock(),
    logger: silentLogger,
    onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
  });
  return { reports, record: progress.steps[0], steps };
}

const without = (spec: PowerPlanSpec, stage: string): PowerPlanSpec => ({
  ...spec,
  bootstrapChain: spec.bootstrapChain.filter((s) => s.name !== stage),
});

describe('check-plan-covers-repo', () => {
  let changed: string;
  beforeAll(async () => {
    // The repo moved on: Gitea now also needs a cache that the plan's chain does not apply.
    changed = await mkdtemp(join(tmpdir(), 'hecate-covers-'));
    await cp(ATLAS_REPO, changed, { recursive: true });
    const services = join(changed, 'clusters/atlas/services.yaml');
    const text = await readFile(services, 'utf8');
    const gitea = '    - name: postgres\n    - name: traefik\n';
    expect(text).toContain(gitea);
    const cache = [
      '---',
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      'metadata: { name: valkey, namespace: flux-system }',
      'spec:',
      '  interval: 10m',
      '  path: ./services/valkey',
      '  prune: true',
      '  sourceRef: { kind: GitRepository, name: flux-system }',
      '  dependsOn: [{ name: longhorn }]',
      '',
    ].join('\n');
    await writeFile(services, `${text.replace(gitea, `${gitea}    - name: valkey\n`)}${cache}`);
  });
  afterAll(async () => {
    await rm(changed, { recursive: true, force: true });
  });

  it('is a step of prepare, right after the snapshot is refreshed and its revision recorded', () => {
    const ids = compilePlan('prepare', atlasInput()).steps.map((s) => s.id);
    expect(ids.indexOf('snapshot/covers')).toBe(ids.indexOf('snapshot/revision') + 1);
  });

  it('given the Atlas plan and the Atlas-like repo, then it reports coverage and no warning', async () => {
    const { reports, record } = await runCheck(atlasSpec(), ATLAS_REPO);
    expect(reports.filter((r) => r.startsWith('WARNING'))).toEqual([]);
    expect(reports.at(-1)).toBe("the plan's 10 chain stages cover the repo (derived chain: 10 stages)");
    expect(record?.state).toBe('done');
  });

  it('given a plan that misses a chain stage, then it warns naming the stage that needs it, and does not fail', async () => {
    const { reports, record } = await runCheck(without(atlasSpec(), 'postgres'), ATLAS_REPO);
    expect(reports.filter((r) => r.startsWith('WARNING'))).toEqual([
      expect.stringMatching(/^WARNING: stage gitea needs flux-system\/postgres, which no stage applies \(/),
    ]);
    expect(reports.at(-1)).toMatch(/^1 warning: the PowerPlan does not cover the repo; compare with: hecate analyze/);
    expect(record?.state).toBe('done');
  });

  it('given a repo where Gitea gained a dependency the plan does not apply, then it warns about exactly that', async () => {
    const { reports } = await runCheck(atlasSpec(), changed);
    expect(reports.filter((r) => r.startsWith('WARNING'))).toEqual([
      'WARNING: stage gitea needs flux-system/valkey, which no stage applies (flux-system/gitea dependsOn flux-system/valkey)',
    ]);
  });

  it('given a snapshot that cannot be read, then it warns with the reason and the step still succeeds', async () => {
    const read: RepoReader = async () => {
      throw new Error('/nowhere is not a directory');
    };
    const { reports, record } = await runCheck(atlasSpec(), '/nowhere', read);
    expect(reports).toEqual([
      'WARNING: could not analyze /nowhere: /nowhere is not a directory',
      '1 warning: the plan was not compared with the repo',
    ]);
    expect(record?.state).toBe('done');
  });
});

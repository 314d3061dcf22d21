/**
 * A rerun resumes its unfinished run from the PowerPlan spec that run recorded in the state file, not from the plan
 * file as edited since, and says what changed; a finished run's record does not hold the next run back.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import { ATLAS_PLAN_PATH, atlasSpec } from '../helpers/atlas.js';
import { hecate, withHome } from '../helpers/cli.js';

/** The Atlas plan file with powerOff.sshUser changed (it shows in every power-off step of the dry-run). */
async function editedPlan(home: string): Promise<string> {
  const plan = fromYaml(await readFile(ATLAS_PLAN_PATH, 'utf8')) as { spec: { powerOff: { sshUser: string } } };
  plan.spec.powerOff.sshUser = 'ops';
  const file = join(home, 'atlas-edited.yaml');
  await writeFile(file, toYaml(plan));
  return file;
}

async function stateWithShutdown(home: string, finished: boolean): Promise<string> {
  const stateFile = join(home, 'outage.state');
  const progress = {
    action: 'shutdown',
    mode: 'shutdown',
    planName: 'atlas',
    startedAt: '2026-12-07T01:00:00.000Z',
    updatedAt: '2026-12-07T01:02:00.000Z',
    ...(finished ? { finishedAt: '2026-12-07T01:05:00.000Z' } : {}),
    steps: [{ id: 'record-outage', state: 'done', startedAt: '2026-12-07T01:00:00.000Z' }],
    planSpec: atlasSpec(),
  };
  const outage = { inOutage: true, startedAt: '2026-12-07T01:00:00.000Z' };
  await writeFile(
    stateFile,
    JSON.stringify({ apiVersion: 'power.hecate.dev/v1alpha1', kind: 'OutageState', outage, progress }),
  );
  return stateFile;
}

describe('a rerun and an edited PowerPlan', () => {
  it('given an unfinished shutdown, then the plan is the one it started with, and stderr says what changed', async () => {
    await withHome(async (home) => {
      const plan = await editedPlan(home);
      const stateFile = await stateWithShutdown(home, false);
      const before = await readFile(stateFile, 'utf8');
      const result = await hecate(['shutdown', '--plan', plan, '--offline', '--state-file', stateFile], home);
      expect(result.code).toBe(0);
      expect(result.stderr).toContain(
        'PowerPlan atlas changed since this shutdown started (spec.powerOff.sshUser: "root" → "ops"): the run keeps the plan it started with until it ends; the change applies to the next run',
      );
      expect(result.stdout).toContain('ssh root@titan-04 systemctl poweroff');
      expect(result.stdout).not.toContain('ssh ops@');
      expect(await readFile(stateFile, 'utf8')).toBe(before);
    });
  });

  it('given the shutdown finished, then the next one uses the plan file as it is, without a word', async () => {
    await withHome(async (home) => {
      const plan = await editedPlan(home);
      const stateFile = await stateWithShutdown(home, true);
      const result = await hecate(['shutdown', '--plan', plan, '--offline', '--state-file', stateFile], home);
      expect(result.code).toBe(0);
      expect(result.stderr).not.toContain('changed since');
      expect(result.stdout).toContain('ssh ops@titan-04 systemctl poweroff');
    });
  });
});

/**
 * `hecate drill run` against what really happens: the Atlas bed is captured, then put through a real executed power
 * event (prepare, shutdown, the power cut, startup with the chain); the capture is replayed into a second bed by the
 * drill, and its report must show the same stages in the same order, the same drain escalations, and a cluster back
 * where it started. A plan whose chain names a path the snapshot lacks makes the drill exit 1 naming the stage.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2e } from '../../bed/e2e.js';
import { REPO_ROOT, requireBed } from '../../bed/index.js';
import { powerCut } from '../../bed/replay.js';
import { runCli } from '../../cli/main.js';
import { type Progress, parseOrThrow, powerPlan } from '../../core/api/index.js';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import type { DrillReport } from '../../core/drill/report.js';

const bed = requireBed();
const SPEED = 10;
/**
 * A drain level long enough that only what a PodDisruptionBudget or a bare pod holds escalates: at the bed's 4 s,
 * a pod still in its (scaled) grace period escalates too, by a few hundred ms either way, run to run.
 */
const LEVEL_S = 10;

/** Stages in the order a run's steps went through them, consecutive steps of one stage once. */
function stageOrder(progress: Progress | undefined): string[] {
  const order: string[] = [];
  for (const step of progress?.steps ?? []) {
    const stage = step.id.split('/')[0] ?? step.id;
    if (order.at(-1) !== stage) order.push(stage);
  }
  return order;
}

/**
 * The escalations that do not depend on which parallel drain evicts first: those holding an apps/api pod (its PDB,
 * minAvailable 2 of 2, never yields) or the bare apps/debug-shell. A maxUnavailable-1 PDB (apps/web, traefik) lets
 * the first eviction through, and which node's drain gets it is a race, in the bed as on a cluster.
 */
const DETERMINED = /apps\/api-|apps\/debug-shell/;
const ESCALATION = /([a-z0-9][-a-z0-9.]*): escalating to ([a-z-]+): (.*)$/gm;
const escalationsIn = (text: string) =>
  [...text.matchAll(ESCALATION)]
    .filter((m) => DETERMINED.test(m[3] ?? ''))
    .map((m) => `${m[1]} → ${m[2]}`)
    .sort();

/** `hecate drill run` in this process; its rehearsed runs are this checkout's CLI in child processes. */
async function drill(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['drill', 'run', ...argv], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: process.env,
    cwd: REPO_ROOT,
    now: () => new Date(),
    self: [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'cli/main.ts')],
  });
  return { code, stdout, stderr };
}

describe.skipIf(!bed.ok)('hecate drill run: a rehearsal of the Atlas bed against its real executed run', () => {
  let dir: string;
  let capturePath: string;
  let drillPlanPath: string;
  const reference: { shutdown: string[]; startup: string[]; escalations: string[] } = {
    shutdown: [],
    startup: [],
    escalations: [],
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-drill-test-'));
    capturePath = join(dir, 'atlas-capture.yaml');
    const e2e = await startE2e({ speed: SPEED, drainTimeout: `${LEVEL_S}s` });
    try {
      const captured = await e2e.hecate(['drill', 'capture', '--kubeconfig', e2e.kubeconfig, '-o', capturePath]);
      expect(captured.code, captured.stderr).toBe(0);
      // The drill divides the plan's drain level by the speed, as the bed divides grace periods: the same level
      const plan = parseOrThrow(powerPlan, fromYaml(await readFile(e2e.planPath, 'utf8')), e2e.planPath);
      plan.spec.drain.timeout = `${LEVEL_S * SPEED}s`;
      drillPlanPath = join(dir, 'atlas-powerplan.yaml');
      await writeFile(drillPlanPath, toYaml(plan));
      const prepared = await e2e.hecate(['prepare', ...e2e.args('--execute')]);
      expect(prepared.code, prepared.stderr).toBe(0);
      const shutdown = await e2e.hecate(['shutdown', ...e2e.args('--execute')]);
      expect(shutdown.code, shutdown.stderr).toBe(0);
      reference.shutdown = stageOrder((await e2e.state())?.progress);
      reference.escalations = escalationsIn(shutdown.stderr);
      await powerCut(e2e, plan.spec);
      const startup = await e2e.hecate(['startup', ...e2e.args('--execute')]);
      expect(startup.code, startup.stderr).toBe(0);
      reference.startup = stageOrder((await e2e.state())?.progress);
    } finally {
      await e2e.stop();
    }
  }, 600_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reports the stages of the real run in the same order, the same escalations, and the cluster back (exit 0)', async () => {
    const run = await drill([capturePath, '--plan', drillPlanPath, '--speed', String(SPEED), '-o', 'json']);
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as DrillReport;
    expect(report.verdict).toBe('back');
    expect(report.blockers).toEqual([]);
    expect(report.differences).toEqual([]);
    const order = (mode: string) => {
      const stages = report.stages.filter((s) => s.mode === mode).map((s) => s.stage);
      return stages.filter((s, i) => stages[i - 1] !== s);
    };
    expect(order('shutdown')).toEqual(reference.shutdown);
    expect(order('startup')).toEqual(reference.startup);
    expect(reference.escalations.length).toBeGreaterThan(0); // apps/api's PDB (minAvailable 2 of 2) and the bare pod
    const determined = report.escalations.filter((e) => DETERMINED.test(e.reason));
    expect(determined.map((e) => `${e.node} → ${e.level}`).sort()).toEqual(reference.escalations);
    // apps/api never yields (minAvailable 2 of 2): each escalation is predicted at the plan's level, 100 s
    const levelMs = LEVEL_S * SPEED * 1000;
    expect(determined.some((e) => e.level === 'disable-eviction')).toBe(true);
    for (const e of report.escalations) {
      expect(e.afterMs ?? 0).toBeGreaterThanOrEqual(levelMs);
      expect(e.afterMs ?? 0).toBeLessThan(levelMs * 1.5);
    }
    expect(report.predicted.shutdownMs).toBeGreaterThan(0);
    expect(report.predicted.startupMs).toBeGreaterThan(0);
    // a progress line per stage of each rehearsed run as it goes, under the drill's own
    expect(run.stderr).toMatch(/hecate shutdown --execute\n( {4}.*\n)+ {2}shutdown: exit 0/);
    expect(run.stderr).toMatch(/\n {4}.*power-off\/titan-04/);
  }, 600_000);

  it('a chain stage whose path the snapshot lacks: exit 1, the stage named', async () => {
    const plan = parseOrThrow(powerPlan, fromYaml(await readFile(drillPlanPath, 'utf8')), drillPlanPath);
    const gitea = plan.spec.bootstrapChain.find((s) => s.name === 'gitea');
    if (!gitea) throw new Error('the Atlas plan has no gitea stage');
    gitea.path = 'services/gitea-moved';
    const broken = join(dir, 'broken-powerplan.yaml');
    await writeFile(broken, toYaml(plan));
    const run = await drill([capturePath, '--plan', broken, '--speed', String(SPEED)]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('DID NOT COME BACK');
    expect(run.stdout).toMatch(/What blocked:\n.*chain\/gitea.*services\/gitea-moved/);
  }, 600_000);

  it('bad input is exit 2 before any bed starts: a plan naming nodes the capture lacks', async () => {
    const plan = parseOrThrow(powerPlan, fromYaml(await readFile(drillPlanPath, 'utf8')), drillPlanPath);
    plan.spec.nodes = [
      ...plan.spec.nodes,
      { ...(plan.spec.nodes.at(-1) as (typeof plan.spec.nodes)[number]), name: 'titan-99' },
    ];
    const other = join(dir, 'other-powerplan.yaml');
    await writeFile(other, toYaml(plan));
    const run = await drill([capturePath, '--plan', other]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('PowerPlan atlas names nodes the capture does not hold: titan-99');
  });
});

/**
 * How long `hecate drill run` takes, and how close its prediction comes to a real executed run.
 *
 *   npx tsx hack/bench-drill.ts [sizes=7,50] [speed=10]
 *
 * For each size (7: the Atlas scenario; more: Atlas with generated workers, bed/scenarios/fleet.ts): a bed is started,
 * captured with `hecate drill capture`, then put through a real executed power event (prepare, shutdown, the power
 * cut, startup with the chain): the baseline, measured in the same run. The bed is stopped and the capture is
 * rehearsed by `hecate drill run` in a child process, as a user runs it. Printed per size: the drill's own time,
 * its predicted shutdown and startup beside the baseline's (both scaled back by the speed), and whether the
 * escalations and the verdict match.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { startE2e } from '../bed/e2e.js';
import { fleetPlanNodes, type PlanNode, REPO_ROOT, withFleet } from '../bed/index.js';
import { powerCut } from '../bed/replay.js';
import { type Progress, parseOrThrow, powerPlan } from '../core/api/index.js';
import { fromYaml, toYaml } from '../core/api/yaml.js';
import type { DrillReport } from '../core/drill/report.js';

const sizes = (process.argv[2] ?? '7,50').split(',').map(Number);
const speed = Number(process.argv[3] ?? 10);
const LEVEL_S = 10;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** From the first step's start to the last one's end. */
function span(progress: Progress | undefined): number {
  const times = (progress?.steps ?? []).flatMap((st) =>
    [st.startedAt, st.finishedAt].filter((t): t is string => t !== undefined).map((t) => Date.parse(t)),
  );
  return times.length === 0 ? 0 : Math.max(...times) - Math.min(...times);
}

const escalations = (text: string) =>
  [...text.matchAll(/([a-z0-9][-a-z0-9.]*): escalating to ([a-z-]+):/g)].map((m) => `${m[1]} → ${m[2]}`).sort();

interface Row {
  size: number;
  bedUpMs: number;
  baseline: { shutdownMs: number; startupMs: number; escalations: string[] };
  drillMs: number;
  report: DrillReport;
  code: number;
}

async function measure(size: number, dir: string): Promise<Row> {
  const t0 = Date.now();
  const e2e = await startE2e({
    speed,
    drainTimeout: `${LEVEL_S}s`,
    ...(size > 7 ? { scenario: (atlas) => withFleet(atlas, size) } : {}),
  });
  const capturePath = join(dir, `capture-${size}.yaml`);
  const planPath = join(dir, `powerplan-${size}.yaml`);
  let baseline: Row['baseline'];
  const bedUpMs = Date.now() - t0;
  try {
    const plan = parseOrThrow(powerPlan, fromYaml(await readFile(e2e.planPath, 'utf8')), e2e.planPath);
    plan.spec.nodes = fleetPlanNodes(plan.spec.nodes as PlanNode[], e2e.scenario) as typeof plan.spec.nodes;
    await writeFile(e2e.planPath, toYaml(plan));
    const captured = await e2e.hecate(['drill', 'capture', '--kubeconfig', e2e.kubeconfig, '-o', capturePath]);
    if (captured.code !== 0) throw new Error(`capture failed: ${captured.stderr}`);
    await writeFile(
      planPath,
      toYaml({ ...plan, spec: { ...plan.spec, drain: { ...plan.spec.drain, timeout: `${LEVEL_S * speed}s` } } }),
    );
    const must = async (argv: string[]) => {
      const run = await e2e.hecate(argv);
      if (run.code !== 0) throw new Error(`hecate ${argv[0]} exited ${run.code}: ${run.stderr.slice(-2000)}`);
      return run;
    };
    await must(['prepare', ...e2e.args('--execute')]);
    const shutdown = await must(['shutdown', ...e2e.args('--execute')]);
    const shutdownMs = span((await e2e.state())?.progress) * speed;
    await powerCut(e2e, plan.spec);
    await must(['startup', ...e2e.args('--execute')]);
    baseline = {
      shutdownMs,
      startupMs: span((await e2e.state())?.progress) * speed,
      escalations: escalations(shutdown.stderr),
    };
  } finally {
    await e2e.stop();
  }
  const t1 = Date.now();
  const drill = await execa(
    process.execPath,
    [
      '--import',
      'tsx',
      join(REPO_ROOT, 'cli/main.ts'),
      'drill',
      'run',
      capturePath,
      '--plan',
      planPath,
      '--speed',
      String(speed),
      '-o',
      'json',
    ],
    { reject: false, cwd: REPO_ROOT },
  );
  const drillMs = Date.now() - t1;
  if (!drill.stdout.trim().startsWith('{'))
    throw new Error(`drill run exited ${drill.exitCode}: ${drill.stderr.slice(-3000)}`);
  return {
    size,
    bedUpMs,
    baseline,
    drillMs,
    report: JSON.parse(drill.stdout) as DrillReport,
    code: drill.exitCode ?? 1,
  };
}

const dir = await mkdtemp(join(tmpdir(), 'hecate-bench-drill-'));
const rows: Row[] = [];
try {
  for (const size of sizes) {
    console.log(`size ${size}: bed, capture, baseline run, then the drill (speed ${speed}×) ...`);
    const row = await measure(size, dir);
    rows.push(row);
    const r = row.report;
    const same =
      JSON.stringify(r.escalations.map((e) => `${e.node} → ${e.level}`).sort()) ===
      JSON.stringify(row.baseline.escalations);
    console.log(
      `size ${size}: drill ${s(row.drillMs)} (exit ${row.code}, ${r.verdict}); predicted shutdown ${s(r.predicted.shutdownMs)} vs baseline ${s(row.baseline.shutdownMs)}, startup ${s(r.predicted.startupMs)} vs baseline ${s(row.baseline.startupMs)}; escalations ${r.escalations.length} vs ${row.baseline.escalations.length}${same ? ' (same nodes and levels)' : ' (DIFFERENT)'}`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

console.log(
  '\n| nodes | drill wall time | predicted shutdown (baseline) | predicted startup (baseline) | escalations match | verdict |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const row of rows) {
  const r = row.report;
  const same =
    JSON.stringify(r.escalations.map((e) => `${e.node} → ${e.level}`).sort()) ===
    JSON.stringify(row.baseline.escalations);
  console.log(
    `| ${row.size} | ${s(row.drillMs)} | ${s(r.predicted.shutdownMs)} (${s(row.baseline.shutdownMs)}) | ${s(r.predicted.startupMs)} (${s(row.baseline.startupMs)}) | ${same ? 'yes' : 'no'} | ${r.verdict} |`,
  );
}
console.log(`\nreproduce: npx tsx hack/bench-drill.ts ${sizes.join(',')} ${speed}`);

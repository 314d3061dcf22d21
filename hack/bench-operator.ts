/**
 * Benchmark, not a test: the operator's footprint as a real process on a 50-node bed (the Atlas scenario grown to
 * 3 control-plane nodes and 47 workers by bed/scenarios/fleet.ts), under its ServiceAccount token with the RBAC
 * from manifests/ (bed/operator/index.ts, as the operator tests start it).
 *
 *   npx tsx hack/bench-operator.ts [nodes[,nodes…]=50,200] [repeats=10] [parallelism=10]
 *
 * With several sizes (the default: 50 and 200 nodes) each gets its own bed in turn, and a table of how makespan,
 * memory, CPU and API requests grow from the first size to the last closes the run.
 *
 * - The compiled operator (`npm run build` → dist/operator/main.js, what the image runs) is measured, with the
 *   NODE_OPTIONS of manifests/deployment.yaml (the heap cap); when the build fails the benchmark says so and falls
 *   back to `node --import tsx operator/main.ts` (tsx adds its own memory).
 * - RSS idle: VmRSS sampled for 5 s after the caches synced, median (VmHWM at that point too).
 * - Reconcile latency: from starting `kubectl apply -f` of a dry-run PowerEvent (the bed's real kubectl) to the
 *   version with `status.plan` arriving on a watch; `repeats` events one after another. The kubectl process's own
 *   time is printed beside it.
 * - Executed shutdown of the whole bed (Flux suspend, Longhorn, drain of every worker `parallelism` at a time,
 *   power-off of all 50 nodes through helper pods): VmRSS and VmHWM sampled every 200 ms from `kubectl apply` to
 *   the final phase; peak and mean, CPU time, API requests, and the makespan (status.startedAt → finishedAt).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { stageTimes } from '../bed/e2e.js';
import { fleetPlanNodes, type PlanNode, REPO_ROOT, withFleet } from '../bed/index.js';
import { NS, type OperatorBed, OperatorProcess, sleep, startOperatorBed } from '../bed/operator/index.js';
import type { PowerEvent } from '../core/api/index.js';
import { fromYaml, toYaml } from '../core/api/yaml.js';

const [sizesArg = '50,200', repeatsArg = '10', parallelismArg = '10'] = process.argv.slice(2);
const sizes = sizesArg.split(',').map(Number);
const repeats = Number(repeatsArg);
const parallelism = Number(parallelismArg);
if ([...sizes, repeats, parallelism].some((n) => !Number.isInteger(n) || n < 1)) {
  console.error('usage: npx tsx hack/bench-operator.ts [nodes[,nodes…]=50,200] [repeats=10] [parallelism=10]');
  process.exit(2);
}
const MiB = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** VmRSS and VmHWM (KiB) and utime+stime (clock ticks) of a live process. */
function sample(pid: number): { rss: number; hwm: number; cpuTicks: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** Samples every `intervalMs` until stopped, or until the process is gone (its last samples are kept). */
function sampler(pid: number, intervalMs: number) {
  const samples: ReturnType<typeof sample>[] = [sample(pid)];
  const timer = setInterval(() => {
    try {
      samples.push(sample(pid));
    } catch {
      clearInterval(timer); // the process ended: what it did is reported by the caller
    }
  }, intervalMs);
  return {
    samples,
    stop: () => {
      clearInterval(timer);
      try {
        samples.push(sample(pid));
      } catch {
        // gone
      }
      return samples;
    },
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
};

/** Builds dist/ (gitignored); the compiled entry when the build produced it, else the TypeScript one under tsx. */
async function operatorEntry(): Promise<{ entry: string; how: string }> {
  const built = join(REPO_ROOT, 'dist/operator/main.js');
  const t0 = Date.now();
  const build = await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, reject: false, all: true });
  if (existsSync(built) && build.exitCode === 0) {
    return {
      entry: 'dist/operator/main.js',
      how: `compiled (npm run build, ${seconds(Date.now() - t0)}): node ${built}`,
    };
  }
  const why = build.all?.split('\n').find((l) => l.includes('error')) ?? `tsc exited ${build.exitCode}`;
  return { entry: 'operator/main.ts', how: `tsx (the build failed: ${why}): node --import tsx operator/main.ts` };
}

const eventYaml = (name: string, execute: boolean) =>
  toYaml({
    apiVersion: 'power.hecate.dev/v1alpha1',
    kind: 'PowerEvent',
    metadata: { name, namespace: NS },
    spec: { action: 'shutdown', planRef: { name: 'atlas' }, execute, reason: 'bench-operator' },
  });

/** `kubectl apply -f` of a PowerEvent; resolves with the time kubectl took. */
async function apply(b: OperatorBed, name: string, execute: boolean): Promise<number> {
  const file = join(b.e2e.dir, `${name}.yaml`);
  await writeFile(file, eventYaml(name, execute));
  const t0 = Date.now();
  await b.kubectl('apply', '-f', file);
  return Date.now() - t0;
}

/** Waits for a watched version of the PowerEvent that satisfies `predicate` (no extra API reads). */
async function seen(b: OperatorBed, name: string, predicate: (s: PowerEvent['status']) => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = b.seen.find((v) => v.name === name && predicate(v.status));
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`PowerEvent ${name}: state not seen in ${seconds(timeoutMs)}`);
    await sleep(5);
  }
}

/** NODE_OPTIONS and the memory limit of the operator container in manifests/deployment.yaml. */
async function deploymentMemory(): Promise<{ nodeOptions: string; limit: string }> {
  type Container = { env?: { name: string; value?: string }[]; resources?: { limits?: { memory?: string } } };
  const d = fromYaml(await readFile(join(REPO_ROOT, 'manifests/deployment.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: Container[] } } };
  };
  const c = d.spec.template.spec.containers[0];
  return {
    nodeOptions: c?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '',
    limit: c?.resources?.limits?.memory ?? '(none)',
  };
}

interface Figures {
  nodes: number;
  phase: string;
  makespanMs: number;
  stages: Record<string, number>;
  idleRssKiB: number;
  peakRssKiB: number;
  cpuMs: number;
  requests: number;
  latencyMs: number;
}

/** One bed of `total` nodes: start it, measure, stop it. */
async function measure(
  total: number,
  deployment: { nodeOptions: string; limit: string },
  entry: string,
  how: string,
): Promise<Figures> {
  const started = Date.now();
  const b = await startOperatorBed({
    scenario: (atlas) => withFleet(atlas, total),
    drainTimeout: '8s',
    parallelism,
  });
  let op: OperatorProcess | undefined;
  try {
    const { e2e } = b;
    const pods = e2e.scenario.workloads.length;
    console.log(
      `bed: ${e2e.scenario.nodes.length} nodes (${e2e.scenario.nodes.filter((n) => n.role === 'control-plane').length} control-plane), ${pods} workloads, up in ${seconds(Date.now() - started)}`,
    );

    // The PowerPlan names every node of the fleet
    const plan = fromYaml(await readFile(e2e.planPath, 'utf8')) as { spec: { nodes: PlanNode[] } };
    plan.spec.nodes = fleetPlanNodes(plan.spec.nodes, e2e.scenario);
    await writeFile(e2e.planPath, toYaml(plan));
    await b.kubectl('apply', '-f', e2e.planPath);

    const t0 = Date.now();
    op = new OperatorProcess({
      kubeconfig: b.saKubeconfig,
      identity: 'bench',
      entry,
      args: ['--namespace', NS, '--lease-namespace', NS, '--wait-requeue', '1s'],
      env: { HOME: e2e.home, NODE_OPTIONS: deployment.nodeOptions },
    });
    const pid = op.pid;
    await op.waitForLog((l) => l.message === 'Caches synced, reconciling', 60_000);
    const syncMs = Date.now() - t0;
    const comm = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 2).join(' ');
    await sleep(2_000);
    const idle = sampler(pid, 200);
    await sleep(5_000);
    const idleSamples = idle.stop();
    const idleRss = median(idleSamples.map((s) => s.rss));
    const idleHwm = idleSamples.at(-1)?.hwm ?? NaN;

    // Reconcile latency: kubectl apply of a dry-run PowerEvent → status.plan on the watch
    const latencies: number[] = [];
    const kubectlMs: number[] = [];
    for (let i = 1; i <= repeats; i++) {
      const name = `latency-${i}`;
      const s0 = Date.now();
      kubectlMs.push(await apply(b, name, false));
      await seen(b, name, (s) => s?.plan !== undefined, 60_000);
      latencies.push(Date.now() - s0);
      await seen(b, name, (s) => s?.phase === 'Succeeded', 60_000);
    }

    // Executed shutdown of the whole bed
    const cpuBefore = sample(pid).cpuTicks;
    const during = sampler(pid, 200);
    const a0 = Date.now();
    await apply(b, 'shutdown', true);
    const operator = op;
    const done = await Promise.race([
      seen(b, 'shutdown', (s) => ['Succeeded', 'Failed'].includes(s?.phase ?? ''), 1_800_000),
      operator.exited.then((code) => {
        throw new Error(
          `the operator exited (${code}) during the executed shutdown of ${total} nodes; its last lines:\n${operator.tail(40)}\n${operator.stderr.slice(-20).join('')}`,
        );
      }),
    ]);
    const wallMs = Date.now() - a0;
    const samples = during.stop();
    await sleep(5_000);
    const after = sample(pid);
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    const cpuMs = ((samples.at(-1)?.cpuTicks ?? 0) - cpuBefore) * (1000 / ticks);
    const status = done.status;
    const makespan = Date.parse(status?.finishedAt ?? '') - Date.parse(status?.startedAt ?? '');
    const requests = (await b.requests()).filter((e) => Date.parse(e.timestamp) >= a0);
    const rss = samples.map((s) => s.rss);

    console.log(`operator: ${how}`);
    console.log(
      `  process: ${comm} (pid ${pid}), NODE_OPTIONS=${deployment.nodeOptions || '(none)'} as in manifests/deployment.yaml (memory limit ${deployment.limit}); caches synced ${seconds(syncMs)} after spawn`,
    );
    console.log(
      `RSS idle (5 s after sync, median of ${idleSamples.length}): ${MiB(idleRss)}; VmHWM so far ${MiB(idleHwm)}`,
    );
    console.log(
      `reconcile latency, kubectl apply of a dry-run PowerEvent → status.plan on a watch (${repeats}×): min ${latencies.length ? Math.min(...latencies) : NaN} ms, median ${median(latencies)} ms, max ${Math.max(...latencies)} ms (kubectl apply itself: median ${median(kubectlMs)} ms)`,
    );
    console.log(
      `executed shutdown of ${e2e.scenario.nodes.length} nodes: phase ${status?.phase}; makespan (status.startedAt → finishedAt) ${seconds(makespan)}; apply → final phase ${seconds(wallMs)}`,
    );
    const stages = stageTimes(status?.progress);
    console.log(
      `  stages: ${Object.entries(stages)
        .map(([stage, ms]) => `${stage} ${seconds(ms)}`)
        .join(', ')}`,
    );
    console.log(
      `  RSS during it (${samples.length} samples every 200 ms): peak ${MiB(Math.max(...rss))}, mean ${MiB(rss.reduce((a, c) => a + c, 0) / rss.length)}; VmHWM at the end ${MiB(samples.at(-1)?.hwm ?? NaN)}; RSS 5 s after ${MiB(after.rss)}`,
    );
    console.log(`  CPU time ${seconds(cpuMs)}; ${requests.length} API requests by the operator`);
    if (status?.phase !== 'Succeeded') {
      const ready = status?.conditions?.find((c) => c.type === 'Ready');
      console.log(`  (the shutdown did not succeed: ${ready?.reason}: ${ready?.message})`);
    }
    return {
      nodes: e2e.scenario.nodes.length,
      phase: status?.phase ?? '(none)',
      makespanMs: makespan,
      stages,
      idleRssKiB: idleRss,
      peakRssKiB: Math.max(...rss),
      cpuMs,
      requests: requests.length,
      latencyMs: median(latencies),
    };
  } finally {
    await op?.stop('SIGKILL');
    await b.stop();
  }
}

const deployment = await deploymentMemory();
const { entry, how } = await operatorEntry();
const results: Figures[] = [];
for (const total of sizes) {
  console.log(`\n--- ${total} nodes ---`);
  try {
    results.push(await measure(total, deployment, entry, how));
  } catch (error) {
    console.log(`${total} nodes: not measured: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
if (results.length > 1) {
  const [base] = results;
  console.log(`\ngrowth from ${base?.nodes} nodes (same run, same operator build):`);
  const row = (label: string, value: (f: Figures) => number, show: (v: number) => string) =>
    console.log(
      `  ${label.padEnd(28)} ${results.map((f) => `${String(f.nodes).padStart(4)} nodes: ${show(value(f)).padStart(10)}`).join('   ')}   (×${(value(results.at(-1) as Figures) / value(base as Figures)).toFixed(2)} for ×${((results.at(-1)?.nodes ?? 0) / (base?.nodes ?? 1)).toFixed(1)} nodes)`,
    );
  row('makespan', (f) => f.makespanMs, seconds);
  row('drain stage', (f) => f.stages.drain ?? NaN, seconds);
  row('power-off stage', (f) => f.stages['power-off'] ?? NaN, seconds);
  row('RSS idle', (f) => f.idleRssKiB, MiB);
  row('RSS peak during shutdown', (f) => f.peakRssKiB, MiB);
  row('CPU time of the shutdown', (f) => f.cpuMs, seconds);
  row('API requests of the shutdown', (f) => f.requests, String);
  row(
    'reconcile latency (median)',
    (f) => f.latencyMs,
    (v) => `${v} ms`,
  );
  console.log(`  phases: ${results.map((f) => `${f.nodes}: ${f.phase}`).join(', ')}`);
}
console.log(`reproduce: npx tsx hack/bench-operator.ts ${sizes.join(',')} ${repeats} ${parallelism}`);

/**
 * Benchmark, not a test: drain makespan on the test bed, 10 workers × 30 pods with realistic grace periods (10 s,
 * 30 s and 60 s, run `speed` times faster by the kubelet stand-in). Hecate's parallel drain (the drain stage of a
 * shutdown plan: every worker cordoned, then drained at once) against the script-style baseline: the real
 * `kubectl drain` (the bed's kubectl) node after node. The lower bound is the longest single grace period. Also:
 * API requests per pod, from the audit log (each side runs as its own user).
 *
 *   npx tsx hack/bench-drain.ts [workers=10] [podsPerWorker=30] [speed=10]
 *
 * Pods are pinned to their node (nodeSelector), so an evicted pod's replacement stays Pending instead of landing on
 * a node the baseline has still to drain; between the two runs every node is uncordoned and refilled.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { execa } from 'execa';
import { systemClock } from '../adapters/system.js';
import {
  type AuditEvent,
  allCrdPaths,
  eventually,
  parseScenario,
  requestsBy,
  startControlPlane,
  startScenario,
} from '../bed/index.js';
import { clusterExecutors } from '../cli/wiring.js';
import { parseOrThrow, powerPlan } from '../core/api/index.js';
import { compilePlan } from '../core/plan/index.js';
import { runPlan } from '../core/run/runner.js';
import { MemoryStore, silentLogger } from '../test/helpers/fakes.js';

const [workers = 10, perWorker = 30, speed = 10] = process.argv.slice(2).map(Number);
const GRACES = [10, 30, 60];
const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const names = Array.from({ length: workers }, (_, i) => `worker-${String(i + 1).padStart(2, '0')}`);

const scenario = parseScenario({
  name: 'bench-drain',
  nodes: [
    {
      name: 'cp-1',
      role: 'control-plane',
      taints: [{ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }],
    },
    ...names.map((name) => ({ name, role: 'worker', capacity: { cpu: '64', memory: '256Gi', pods: 110 } })),
  ],
  workloads: [
    { kind: 'DaemonSet', namespace: 'bench', name: 'agent', terminationGracePeriodSeconds: 5 },
    ...names.flatMap((node) =>
      GRACES.map((grace, g) => ({
        kind: 'Deployment',
        namespace: 'bench',
        name: `${node}-g${grace}`,
        replicas: Math.floor(perWorker / GRACES.length) + (g < perWorker % GRACES.length ? 1 : 0),
        terminationGracePeriodSeconds: grace,
        nodeSelector: { 'kubernetes.io/hostname': node },
        requests: { cpu: '1m', memory: '1Mi' },
      })),
    ),
  ],
});

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/**
 * Where the drain's time goes, from the audit log between `from` and `to`: Hecate's evictions, and each pod's final
 * removal by the kubelet stand-in, whose lag after the eviction beyond the pod's scaled grace period is the bed's own.
 */
function drainProfile(audit: readonly AuditEvent[], from: number, to: number) {
  const at = (e: AuditEvent) => Date.parse(e.timestamp);
  const inRun = audit.filter((e) => e.stage === 'ResponseComplete' && at(e) >= from && at(e) <= to + 1_000);
  const evictions = requestsBy(inRun, 'hecate-bench').filter((e) => e.objectRef?.subresource === 'eviction');
  const accepted = new Map<string, number>();
  for (const e of evictions) {
    if ((e.responseStatus?.code ?? 0) < 300) accepted.set(`${e.objectRef?.namespace}/${e.objectRef?.name}`, at(e));
  }
  const lags: number[] = [];
  let lastGone = 0;
  for (const e of inRun) {
    const key = `${e.objectRef?.namespace}/${e.objectRef?.name}`;
    const evictedAt = accepted.get(key);
    if (e.verb !== 'delete' || e.objectRef?.resource !== 'pods' || e.user === 'hecate-bench' || evictedAt === undefined)
      continue;
    lastGone = Math.max(lastGone, at(e) - from);
    const grace = Number(/-g(\d+)-/.exec(key)?.[1] ?? 0);
    lags.push(at(e) - evictedAt - (grace * 1000) / speed);
  }
  lags.sort((a, b) => a - b);
  const times = evictions.map((e) => at(e) - from);
  return {
    evictions: evictions.length,
    refused: evictions.length - accepted.size,
    firstEviction: Math.min(...times),
    lastEviction: Math.max(...times),
    lastGone,
    bedLagMedian: lags[Math.floor(lags.length / 2)] ?? Number.NaN,
    bedLagMax: lags.at(-1) ?? Number.NaN,
  };
}
const started = Date.now();
const plane = await startControlPlane({ crds: allCrdPaths() });
const sims = await startScenario(plane.kubeConfig, scenario, { kubelet: { speed }, flux: false, longhorn: false });
const core = plane.kubeConfig.makeApiClient(CoreV1Api);
try {
  const total = workers * perWorker;
  const running = async () => {
    const pods = await core.listNamespacedPod({ namespace: 'bench' });
    return pods.items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp).length;
  };
  const refill = async () => {
    for (const name of names) await core.patchNode({ name, body: { spec: { unschedulable: null } } }, MERGE);
    await eventually(`${total} pods Running`, async () => (await running()) >= total + workers, {
      timeoutMs: 300_000,
      intervalMs: 500,
    });
  };
  await refill();
  console.log(
    `bed: ${workers} workers × ${perWorker} pods (+1 DaemonSet pod each), up in ${seconds(Date.now() - started)}`,
  );

  // Hecate: the drain steps of a shutdown plan, all workers at once
  const hecateKc = await plane.userKubeConfig('hecate-bench', ['system:masters']);
  const spec = parseOrThrow(
    powerPlan,
    {
      apiVersion: 'power.hecate.dev/v1alpha1',
      kind: 'PowerPlan',
      metadata: { name: 'bench' },
      spec: {
        nodes: [{ name: 'cp-1', role: 'control-plane' }, ...names.map((name) => ({ name, role: 'worker' }))],
        drain: { timeout: '5m', parallelism: workers },
        storage: { longhorn: false },
        bootstrapChain: [{ name: 'core', path: 'core' }],
      },
    },
    'bench plan',
  ).spec;
  const paths = { repoSnapshot: '/nonexistent', stateFile: '/nonexistent' };
  const full = compilePlan('shutdown', {
    planName: 'bench',
    spec,
    execute: true,
    paths,
    observed: { api: 'reachable' },
  });
  const plan = { ...full, steps: full.steps.filter((s) => s.stage === 'drain') };
  const wiring = clusterExecutors({ kc: hecateKc, mode: 'shutdown', spec, paths, env: {}, logger: silentLogger });
  const t0 = Date.now();
  await runPlan({
    plan,
    action: 'shutdown',
    executors: wiring.executors,
    store: new MemoryStore(),
    clock: systemClock,
    logger: silentLogger,
  });
  const hecateMs = Date.now() - t0;
  await wiring.close();
  const profile = drainProfile(await plane.readAudit(), t0, t0 + hecateMs);

  await refill();

  // Baseline: kubectl drain, node after node, as the old scripts did
  const kubectlKc = await plane.writeKubeConfig(
    await plane.userKubeConfig('kubectl-bench', ['system:masters']),
    'kubectl.kubeconfig',
  );
  const t1 = Date.now();
  for (const node of names) {
    await execa(plane.binaries.kubectl, [
      '--kubeconfig',
      kubectlKc,
      'drain',
      node,
      '--ignore-daemonsets',
      '--delete-emptydir-data',
      '--force',
      '--timeout=600s',
    ]);
  }
  const kubectlMs = Date.now() - t1;

  const audit = await plane.readAudit();
  const perPod = (user: string) => (requestsBy(audit, user).length / total).toFixed(2);
  const lowerBound = (Math.max(...GRACES) * 1000) / speed;
  console.log(
    `grace periods ${GRACES.join('/')} s at speed ${speed}: lower bound (longest grace) ${seconds(lowerBound)}`,
  );
  console.log(
    `hecate parallel drain (${workers} at once): ${seconds(hecateMs)}, ${perPod('hecate-bench')} API requests/pod`,
  );
  console.log(`kubectl drain node by node:        ${seconds(kubectlMs)}, ${perPod('kubectl-bench')} API requests/pod`);
  console.log(
    `ratio kubectl / hecate: ${(kubectlMs / hecateMs).toFixed(1)}×; hecate / lower bound: ${(hecateMs / lowerBound).toFixed(2)}×`,
  );
  console.log(
    `  where Hecate's time goes (audit log, from the step's start): first eviction +${seconds(profile.firstEviction)}, last +${seconds(profile.lastEviction)} (${profile.evictions} evictions, ${profile.refused} refused); last pod removed by the kubelet stand-in +${seconds(profile.lastGone)}; step ended +${seconds(hecateMs)}`,
  );
  console.log(
    `  what the bed adds: a pod's removal lags its eviction by its grace period / speed plus ${seconds(profile.bedLagMedian)} median, ${seconds(profile.bedLagMax)} max (the stand-in's termination and the API server's writes)`,
  );
  console.log(`reproduce: npx tsx hack/bench-drain.ts ${workers} ${perWorker} ${speed}`);
} finally {
  await sims.stop();
  await plane.stop();
}

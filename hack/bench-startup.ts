/**
 * Benchmark, not a test: startup overhead of the local bootstrap chain on the Atlas bed. Each chain stage's pods
 * take a simulated time to become ready (the kubelet stand-in's `bed.hecate.dev/start-seconds`); the chain's
 * workloads are deleted first, as after a cold boot where they are gone. Measured from "API reachable" (the chain
 * starts) to "all chain stages Ready", minus the critical path of the simulated readiness times (the stages run
 * one after another, so it is their sum). Hecate's chain executor (server-side apply, readiness waits) against the
 * script-style baseline: `kubectl apply --server-side -k` per stage, then a readiness check every 5 s.
 *
 *   npx tsx hack/bench-startup.ts [speed=10]
 *
 * What remains after the subtraction is the bed's own latency (controllers, scheduler, kubelet stand-in) plus the
 * waiting granularity of each side; the bed's part is the same for both.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import { KubeFlux } from '../adapters/kube/flux.js';
import { systemClock } from '../adapters/system.js';
import { bedPlan, waitForReady } from '../bed/e2e.js';
import {
  ATLAS_SCENARIO,
  type AuditEvent,
  allCrdPaths,
  eventually,
  KUBELET_ANNOTATIONS,
  loadScenario,
  MUTATING_VERBS,
  requestsBy,
  snapshotFiles,
  startControlPlane,
  startScenario,
  writeSnapshot,
} from '../bed/index.js';
import { clusterExecutors } from '../cli/wiring.js';
import { type ChainStage, parseOrThrow, powerPlan } from '../core/api/index.js';
import { fromYaml, toYaml } from '../core/api/yaml.js';
import { compilePlan } from '../core/plan/index.js';
import { runPlan } from '../core/run/runner.js';
import { MemoryStore, silentLogger } from '../test/helpers/fakes.js';

const speed = Number(process.argv[2] ?? 10);
/** Simulated seconds for each stage's pods to become ready (real seconds, after the speed factor). */
const DELAY_S: Record<string, number> = {
  metallb: 1,
  traefik: 2,
  'vault-csi': 1,
  'vault-injector': 1,
  vault: 2,
  postgres: 3,
  gitea: 2,
};
const WORKLOADS = ['Deployment', 'StatefulSet', 'DaemonSet'];
const strip = (path: string) => path.replace(/^\.\//, '');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ms = (n: number) => (Number.isNaN(n) ? '-' : `${Math.round(n)} ms`);
const RESOURCE: Record<string, string> = {
  Deployment: 'deployments',
  StatefulSet: 'statefulsets',
  DaemonSet: 'daemonsets',
  HelmRelease: 'helmreleases',
  Kustomization: 'kustomizations',
};

interface StageSplit {
  /** Step start → Hecate's first write. */
  beforeApply: number;
  /** First → last write of the stage's objects. */
  applying: number;
  /** Last write → the last waited-for object's last status write (the bed, simulated readiness included). */
  bed: number;
  /** That status write → the step's end: how long Hecate took to notice. */
  reaction: number;
}

/** One chain stage's time, split by the audit log into Hecate's part and the bed's part. */
function splitStage(audit: readonly AuditEvent[], stage: ChainStage, start: number, end: number): StageSplit {
  const at = (e: AuditEvent) => Date.parse(e.timestamp);
  const within = audit.filter((e) => e.stage === 'ResponseComplete' && at(e) >= start && at(e) <= end);
  const writes = requestsBy(within, 'hecate-bench')
    .filter((e) => MUTATING.has(e.verb) && !e.dryRun)
    .map(at);
  const readyWrites = within
    .filter(
      (e) =>
        e.objectRef?.subresource === 'status' &&
        stage.waitFor.some(
          (w) =>
            RESOURCE[w.kind] === e.objectRef?.resource &&
            w.name === e.objectRef?.name &&
            (w.namespace ?? '') === (e.objectRef?.namespace ?? ''),
        ),
    )
    .map(at);
  // NOTE: a stage whose objects are still there and Ready is checked, not applied: no writes, nothing to split
  const firstWrite = writes.length > 0 ? Math.min(...writes) : Number.NaN;
  const lastWrite = writes.length > 0 ? Math.max(...writes) : Number.NaN;
  const ready = readyWrites.length > 0 ? Math.max(...readyWrites) : Number.NaN;
  return {
    beforeApply: firstWrite - start,
    applying: lastWrite - firstWrite,
    bed: ready - lastWrite,
    reaction: end - ready,
  };
}
const MUTATING = new Set<string>(MUTATING_VERBS);

const atlas = await loadScenario(ATLAS_SCENARIO);
const plane = await startControlPlane({ crds: allCrdPaths() });
const sims = await startScenario(plane.kubeConfig, atlas, { kubelet: { speed } });
const work = join(plane.dir, 'bench');
try {
  const flux = new KubeFlux(plane.kubeConfig);
  const sourceReady = async () => (await flux.source('GitRepository', 'flux-system', 'flux-system'))?.ready;
  await eventually('the Flux source to be Ready', sourceReady, { timeoutMs: 90_000 });

  const snapshot = join(work, 'hecate-repo');
  await writeSnapshot(atlas, snapshot);
  const planPath = await bedPlan(work, snapshot, join(work, 'state'), {});
  const spec = parseOrThrow(powerPlan, fromYaml(await readFile(planPath, 'utf8')), planPath).spec;
  const stageOfPath = new Map(spec.bootstrapChain.map((s) => [strip(s.path), s.name]));
  const workloads: { kind: string; namespace: string; name: string }[] = [];
  for (const [path, objects] of snapshotFiles(atlas)) {
    const stage = stageOfPath.get(strip(path)) ?? '';
    const delay = DELAY_S[stage];
    if (delay === undefined) continue;
    await annotate(join(snapshot, path, 'resources.yaml'), String(delay * speed));
    for (const o of objects) {
      const meta = o.metadata as { namespace: string; name: string };
      if (WORKLOADS.includes(o.kind ?? '')) workloads.push({ kind: o.kind ?? '', ...meta });
    }
  }
  const criticalPath = Object.values(DELAY_S).reduce((a, b) => a + b, 0) * 1000;

  const coldBoot = async () => {
    await deleteWorkloads(plane.kubeConfig, workloads);
    await eventually('Gitea to be gone and the Flux source down', async () => (await sourceReady()) === false, {
      timeoutMs: 60_000,
    });
  };

  // Hecate: the chain steps of a startup plan, on the real adapters
  await coldBoot();
  const hecateKc = await plane.userKubeConfig('hecate-bench', ['system:masters']);
  const paths = { repoSnapshot: snapshot, stateFile: join(work, 'state') };
  const full = compilePlan('startup', {
    planName: 'atlas',
    spec,
    execute: true,
    paths,
    observed: { api: 'reachable', flux: { sourceReady: false } },
  });
  const plan = { ...full, steps: full.steps.filter((s) => s.kind === 'apply-chain-stage') };
  const env = { HECATE_KUBECTL: plane.binaries.kubectl };
  const wiring = clusterExecutors({ kc: hecateKc, mode: 'startup', spec, paths, env, logger: silentLogger });
  const store = new MemoryStore();
  const t0 = Date.now();
  await runPlan({
    plan,
    action: 'startup',
    executors: wiring.executors,
    store,
    clock: systemClock,
    logger: silentLogger,
  });
  const hecateMs = Date.now() - t0;
  await wiring.close();
  const steps = store.latest?.progress?.steps ?? [];
  const hecateStages = new Map(
    steps.map((s) => [s.id.replace(/^chain\//, ''), Date.parse(s.finishedAt ?? '') - Date.parse(s.startedAt ?? '')]),
  );
  const audit = await plane.readAudit();
  const split = spec.bootstrapChain.map((stage) => {
    const step = steps.find((s) => s.id === `chain/${stage.name}`);
    return splitStage(audit, stage, Date.parse(step?.startedAt ?? ''), Date.parse(step?.finishedAt ?? ''));
  });

  // Baseline: kubectl apply --server-side -k per stage, then check readiness every 5 s
  await coldBoot();
  const kubectlKc = await plane.writeKubeConfig(
    await plane.userKubeConfig('script-bench', ['system:masters']),
    'script.kubeconfig',
  );
  const scriptStages = new Map<string, number>();
  const t1 = Date.now();
  for (const stage of spec.bootstrapChain) {
    const s0 = Date.now();
    await execa(plane.binaries.kubectl, [
      '--kubeconfig',
      kubectlKc,
      'apply',
      '--server-side',
      '--field-manager=script',
      '--force-conflicts',
      '-k',
      join(snapshot, stage.path),
    ]);
    while (!(await stageReady(plane.kubeConfig, stage))) await new Promise((resolve) => setTimeout(resolve, 5_000));
    scriptStages.set(stage.name, Date.now() - s0);
  }
  const scriptMs = Date.now() - t1;

  console.log(
    `Atlas chain, ${spec.bootstrapChain.length} stages; simulated readiness (critical path) ${seconds(criticalPath)}`,
  );
  console.log('stage            simulated  hecate (overhead)   5 s polling (overhead)');
  for (const stage of spec.bootstrapChain) {
    const sim = (DELAY_S[stage.name] ?? 0) * 1000;
    const h = hecateStages.get(stage.name) ?? 0;
    const p = scriptStages.get(stage.name) ?? 0;
    console.log(
      `${stage.name.padEnd(16)} ${seconds(sim).padStart(8)}  ${seconds(h).padStart(7)} (${seconds(h - sim).padStart(7)})   ${seconds(p).padStart(7)} (${seconds(p - sim).padStart(7)})`,
    );
  }
  console.log(
    `total            ${seconds(criticalPath).padStart(8)}  ${seconds(hecateMs).padStart(7)} (${seconds(hecateMs - criticalPath).padStart(7)})   ${seconds(scriptMs).padStart(7)} (${seconds(scriptMs - criticalPath).padStart(7)})`,
  );
  const sum = (f: (x: StageSplit) => number) => split.reduce((a, x) => a + (Number.isNaN(f(x)) ? 0 : f(x)), 0);
  console.log(
    `where Hecate's overhead goes (audit log): before its first apply ${seconds(sum((x) => x.beforeApply))}, applying ${seconds(sum((x) => x.applying))}, from the last waited-for object turning Ready on the server to the step's end ${seconds(sum((x) => x.reaction))} (the watch's latency); the bed's controllers, scheduler and kubelet stand-in beyond the simulated readiness: ${seconds(sum((x) => x.bed) - criticalPath)}`,
  );
  for (const [i, stage] of spec.bootstrapChain.entries()) {
    const x = split[i] as StageSplit;
    console.log(
      `  ${stage.name.padEnd(16)} before apply ${ms(x.beforeApply)}, applying ${ms(x.applying)}, bed ${ms(x.bed)}, reaction ${ms(x.reaction)}`,
    );
  }
  console.log(`reproduce: npx tsx hack/bench-startup.ts ${speed}`);
} finally {
  await sims.stop();
  await plane.stop();
  await rm(work, { recursive: true, force: true });
}

/** Adds the start delay to every pod template in a snapshot file. */
async function annotate(file: string, startSeconds: string): Promise<void> {
  type Template = { metadata?: { annotations?: Record<string, string> } };
  type Doc = { kind?: string; spec?: { template?: Template } };
  const docs = (await readFile(file, 'utf8')).split(/^---$/m).map((d) => fromYaml(d) as Doc);
  for (const doc of docs) {
    const template = doc.spec?.template;
    if (!WORKLOADS.includes(doc.kind ?? '') || !template) continue;
    const annotations = { ...template.metadata?.annotations, [KUBELET_ANNOTATIONS.startSeconds]: startSeconds };
    template.metadata = { ...template.metadata, annotations };
  }
  await writeFile(file, docs.map((d) => toYaml(d)).join('---\n'));
}

async function deleteWorkloads(kc: KubeConfig, list: { kind: string; namespace: string; name: string }[]) {
  const apps = kc.makeApiClient(AppsV1Api);
  const gone = async (read: () => Promise<unknown>) =>
    read().then(
      () => false,
      () => true,
    );
  for (const w of list) {
    const ref = { name: w.name, namespace: w.namespace, propagationPolicy: 'Foreground' };
    const del =
      w.kind === 'Deployment'
        ? apps.deleteNamespacedDeployment(ref)
        : w.kind === 'StatefulSet'
          ? apps.deleteNamespacedStatefulSet(ref)
          : apps.deleteNamespacedDaemonSet(ref);
    await del.catch(() => {});
  }
  for (const w of list) {
    const ref = { name: w.name, namespace: w.namespace };
    const read =
      w.kind === 'Deployment'
        ? () => apps.readNamespacedDeployment(ref)
        : w.kind === 'StatefulSet'
          ? () => apps.readNamespacedStatefulSet(ref)
          : () => apps.readNamespacedDaemonSet(ref);
    await eventually(`${w.kind} ${w.namespace}/${w.name} to be gone`, () => gone(read), { timeoutMs: 60_000 });
  }
}

/** The stage's waitFor objects all Ready (a stage without any is Ready once applied). */
async function stageReady(kc: KubeConfig, stage: ChainStage): Promise<boolean> {
  for (const w of stage.waitFor) {
    if (!(await waitForReady(kc, w).catch(() => false))) return false;
  }
  return true;
}

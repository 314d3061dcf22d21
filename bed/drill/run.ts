/**
 * `hecate drill run`'s rehearsal: the captured cluster replayed on a local control plane with one stand-in kubelet
 * per captured node (grace periods divided by the speed), the Flux and Longhorn stand-ins driven by what the capture
 * holds, and the PowerPlan adapted to the bed. Then, through the CLI as an operator runs it: `prepare --execute`,
 * `shutdown --execute`, the power cut (every node off, the chain's workloads lost, every node on), and
 * `startup --execute`, which applies the bootstrap chain from the repo snapshot. What each run recorded and what the
 * cluster looks like before and after are returned for the report (core/drill/report.ts).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { execa } from 'execa';
import {
  API_VERSION,
  type DrillCapture,
  type PowerPlan,
  type PowerPlanSpec,
  type Progress,
  parseDuration,
  parseOrThrow,
  progress as progressSchema,
} from '../../core/api/index.js';
import { toYaml } from '../../core/api/yaml.js';
import { startControlPlane } from '../controlplane.js';
import { allCrdPaths } from '../crds.js';
import type { ControlPlane } from '../plane.js';
import { listFlux, powerCut, serveRevision, serveSnapshot, waitConverged } from '../replay.js';
import { eventually, type Simulators, startScenario } from '../simulators.js';
import { writeSnapshot } from '../snapshot.js';
import { capturedPlacement, placeAsCaptured } from './placement.js';
import { replayScenario } from './scenario.js';

/** What one `hecate` run printed and how it ended. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `hecate <argv>` with `env` (the drill's own process, or a child). */
export type Hecate = (argv: string[], env: Record<string, string>) => Promise<CliRun>;

export interface DrillRunOptions {
  capture: DrillCapture;
  /** The PowerPlan rehearsed (its node names are the capture's). */
  plan: { name: string; spec: PowerPlanSpec };
  /** A Git repository to apply the bootstrap chain from instead of the snapshot made from the capture. */
  repo?: string;
  /** Kubelet time compression: grace periods and the plan's drain levels are divided by it. */
  speed: number;
  hecate: Hecate;
  /** One line per stage of the rehearsal as it goes. */
  progress(line: string): void;
}

/** The cluster as the report compares it: ready pods per workload, suspended Flux objects, cordoned nodes. */
export interface ClusterState {
  ready: Record<string, number>;
  suspended: string[];
  cordoned: string[];
}

export interface ModeRun {
  mode: 'prepare' | 'shutdown' | 'startup';
  code: number;
  ms: number;
  progress?: Progress;
  /** What the run printed on stderr (its progress lines). */
  output: string;
}

export interface DrillRun {
  runs: ModeRun[];
  powerCutMs: number;
  /** After the replay converged, before the shutdown. */
  before: ClusterState;
  /** After the startup (or where the rehearsal stopped). */
  after: ClusterState;
  notReplayed: string[];
  /** `capture` (made from what the captured Kustomizations applied) or the --repo path. */
  snapshot: string;
  bedStartMs: number;
}

/** The rehearsal; the bed is stopped and its folder removed before it returns or throws. */
export async function runDrill(options: DrillRunOptions): Promise<DrillRun> {
  const started = Date.now();
  const { scenario, notReplayed } = replayScenario(options.capture, options.plan.spec);
  options.progress(
    `Starting a local control plane with ${scenario.nodes.length} stand-in nodes (speed ${options.speed}×)`,
  );
  const plane = await startControlPlane({ crds: allCrdPaths(), nodeLifecycle: { nodeMonitorGracePeriod: '6s' } });
  let sims: Simulators | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'hecate-drill-'));
  try {
    sims = await startScenario(plane.kubeConfig, scenario, {
      kubelet: { speed: options.speed, powerOffHelperMs: 500 },
    });
    const snapshot = join(dir, 'hecate-repo');
    const revision = options.repo ? await cloneRepo(options.repo, snapshot) : await writeSnapshot(scenario, snapshot);
    const origin = await serveSnapshot(snapshot, join(dir, 'git-server', 'source.git'));
    await serveRevision(plane.kubeConfig, scenario, revision);
    options.progress(`Replaying ${options.capture.objects.length} captured objects; waiting for Flux to be Ready`);
    await waitConverged(plane, scenario);
    notReplayed.push(
      ...(await placeAsCaptured(plane.kubeConfig, scenario, capturedPlacement(options.capture), options.progress)),
    );
    await eventually('every workload to be ready again', async () => allReady(plane), { timeoutMs: 60_000 });
    const bedStartMs = Date.now() - started;
    const before = await clusterState(plane);
    const kc = await plane.userKubeConfig('hecate-cli', ['system:masters']);
    const kubeconfig = await plane.writeKubeConfig(kc, 'hecate.kubeconfig');
    const planPath = join(dir, 'powerplan.yaml');
    const statePath = join(dir, 'state', 'cluster_power_recovery.state');
    await writeFile(planPath, toYaml(drillPlan(options.plan, { snapshot, statePath, origin, speed: options.speed })));
    const env = { HOME: dir, HECATE_KUBECTL: plane.binaries.kubectl, PATH: process.env.PATH ?? '' };
    const runs: ModeRun[] = [];
    const run = async (mode: ModeRun['mode']) => {
      options.progress(`hecate ${mode} --execute`);
      const t = Date.now();
      const argv = [mode, '--execute', '--plan', planPath, '--kubeconfig', kubeconfig, '-o', 'json'];
      const result = await options.hecate(argv, env);
      const recorded = progressOf(result.stdout) ?? (await stateProgress(statePath));
      runs.push({
        mode,
        code: result.code,
        ms: Date.now() - t,
        output: result.stderr,
        ...(recorded ? { progress: recorded } : {}),
      });
      options.progress(`  ${mode}: exit ${result.code} after ${((Date.now() - t) / 1000).toFixed(1)} s`);
      return result.code === 0;
    };
    let powerCutMs = 0;
    if ((await run('prepare')) && (await run('shutdown'))) {
      options.progress('Power cut: every node off, the chain’s workloads lost, every node on again');
      const t = Date.now();
      await powerCut({ plane, sims, scenario }, options.plan.spec);
      powerCutMs = Date.now() - t;
      await run('startup');
    }
    const after = await clusterState(plane);
    return {
      runs,
      powerCutMs,
      before,
      after,
      notReplayed,
      snapshot: options.repo ?? 'capture',
      bedStartMs,
    };
  } finally {
    await sims?.stop();
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The PowerPlan on the bed: its state file and snapshot in the drill's folder, the Flux source at the bed's Git
 * server, power-off by helper pod (the stand-in kubelets end the node), a full static UPS, no Harbor seed (the bed
 * serves no bundle), and the drain levels and node pauses divided by the speed like the grace periods.
 */
export function drillPlan(
  plan: { name: string; spec: PowerPlanSpec },
  bed: { snapshot: string; statePath: string; origin: string; speed: number },
): PowerPlan {
  const scaled = (value: string) => `${Math.max(1, Math.round(parseDuration(value) / bed.speed))}ms`;
  const spec = structuredClone(plan.spec);
  spec.repoSnapshot = bed.snapshot;
  spec.stateFile = bed.statePath;
  spec.powerOff = {
    ...spec.powerOff,
    method: 'helper-pod',
    delayBetweenNodes: scaled(spec.powerOff.delayBetweenNodes),
  };
  spec.ups = { ...spec.ups, source: 'static', staticCharge: 100 };
  spec.drain = { ...spec.drain, timeout: scaled(spec.drain.timeout) };
  spec.flux = { ...spec.flux, source: { ...spec.flux.source, url: bed.origin } };
  delete spec.harbor;
  return { apiVersion: API_VERSION, kind: 'PowerPlan', metadata: { name: plan.name }, spec };
}

async function cloneRepo(repo: string, snapshot: string): Promise<string> {
  await mkdir(snapshot, { recursive: true });
  await execa('git', ['clone', '--quiet', repo, snapshot]);
  const { stdout } = await execa('git', ['-C', snapshot, 'rev-parse', 'HEAD']);
  const branch = (await execa('git', ['-C', snapshot, 'rev-parse', '--abbrev-ref', 'HEAD'])).stdout.trim();
  return `${branch}@sha1:${stdout.trim()}`;
}

function progressOf(stdout: string): Progress | undefined {
  try {
    return parseOrThrow(progressSchema, JSON.parse(stdout), 'progress');
  } catch {
    return undefined;
  }
}

async function stateProgress(statePath: string): Promise<Progress | undefined> {
  try {
    const state = JSON.parse(await readFile(statePath, 'utf8')) as { progress?: unknown };
    return state.progress === undefined ? undefined : parseOrThrow(progressSchema, state.progress, 'progress');
  } catch {
    return undefined;
  }
}

/** Every Deployment and StatefulSet has its replicas ready. */
async function allReady(plane: ControlPlane): Promise<boolean> {
  const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
  const deployments = (await apps.listDeploymentForAllNamespaces()).items;
  const sets = (await apps.listStatefulSetForAllNamespaces()).items;
  return [...deployments, ...sets].every((w) => (w.status?.readyReplicas ?? 0) >= (w.spec?.replicas ?? 1));
}

async function clusterState(plane: ControlPlane): Promise<ClusterState> {
  const apps = plane.kubeConfig.makeApiClient(AppsV1Api);
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  const ready: Record<string, number> = {};
  for (const d of (await apps.listDeploymentForAllNamespaces()).items)
    ready[`Deployment/${d.metadata?.namespace}/${d.metadata?.name}`] = d.status?.readyReplicas ?? 0;
  for (const s of (await apps.listStatefulSetForAllNamespaces()).items)
    ready[`StatefulSet/${s.metadata?.namespace}/${s.metadata?.name}`] = s.status?.readyReplicas ?? 0;
  for (const d of (await apps.listDaemonSetForAllNamespaces()).items)
    ready[`DaemonSet/${d.metadata?.namespace}/${d.metadata?.name}`] = d.status?.numberReady ?? 0;
  const suspended: string[] = [];
  for (const kind of ['Kustomization', 'HelmRelease'] as const) {
    for (const o of await listFlux(plane, kind))
      if (o.spec?.suspend === true) suspended.push(`${kind}/${o.metadata?.namespace}/${o.metadata?.name}`);
  }
  const cordoned = (await core.listNode()).items
    .filter((n) => n.spec?.unschedulable === true)
    .map((n) => n.metadata?.name ?? '');
  return { ready, suspended: suspended.sort(), cordoned: cordoned.sort() };
}

/**
 * The end-to-end setup shared by the shutdown, startup and crash-resume tests: a real control plane with every
 * stand-in, the Atlas scenario applied and converged, the Atlas PowerPlan adapted to the bed (helper-pod power-off,
 * a static UPS reading, short drain levels, the state file and repo snapshot in a temp folder), and a kubeconfig
 * for a user of its own so that the audit log tells Hecate's requests from the stand-ins'.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import { runCli } from '../cli/main.js';
import type { ObjectRef, OutageRecord, Progress } from '../core/api/index.js';
import { fromYaml, toYaml } from '../core/api/yaml.js';
import {
  type AuditEvent,
  allCrdPaths,
  type ControlPlane,
  describeEvent,
  mutationsBy,
  REPO_ROOT,
  startControlPlane,
} from './index.js';
import { type MixedScenario, type RealNodes, type RealNodeTools, startMixedScenario } from './real-node/index.js';
import { listFlux, serveRevision, serveSnapshot, suspendedFlux, waitConverged } from './replay.js';
import { ATLAS_SCENARIO, loadScenario, type Scenario } from './scenario.js';
import type { PlanNode } from './scenarios/fleet.js';
import { type Simulators, startScenario } from './simulators.js';
import { writeSnapshot } from './snapshot.js';

export { listFlux, suspendedFlux };

/** A finished `hecate` run: its exit code and what it printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The user Hecate's CLI runs as (system:masters): its requests are the only ones by this name. */
export const HECATE_USER = 'hecate-cli';

export interface PlanTweaks {
  /** Keep the harbor section (default false: startup then needs the seed-harbor executor). */
  harbor?: boolean;
  /** Time at each drain escalation level (default 4s). */
  drainTimeout?: string;
  parallelism?: number;
  delayBetweenNodes?: string;
  /** The plan's Flux source URL (default: the Atlas plan's): the bed's Git server. */
  sourceUrl?: string;
  /** Nodes the plan powers off beyond Atlas's own (a scenario's added nodes). */
  extraNodes?: readonly PlanNode[];
  /** The plan's helper image (default the Atlas plan's; a real node needs one it holds: `BED_IMAGES.helper`). */
  helperImage?: string;
}

export interface E2eOptions extends PlanTweaks {
  /** Changes to the Atlas scenario before it is applied. */
  scenario?: (atlas: Scenario) => Scenario;
  /** Kubelet time compression (default 10). */
  speed?: number;
  /** The stand-in nodes' boot IDs (see KubeletOptions.bootId; default a random one per boot). */
  bootId?: () => string;
  /** What the scenario's `real: true` nodes run with (root only: `realNodeAvailability()`); required if it has any. */
  realNodeTools?: RealNodeTools;
  log?: (message: string) => void;
  /** The stand-ins' own log lines (pods started and killed, volumes attached and detached, failed passes). */
  standInLog?: StandInLog;
}

/** A stand-in's log line: which one said it, what, and its fields. */
export type StandInLog = (
  standIn: 'kubelet' | 'flux' | 'longhorn',
  message: string,
  fields?: Record<string, unknown>,
) => void;

export interface E2e {
  plane: ControlPlane;
  sims: Simulators;
  /** The scenario's real nodes, if it has any. */
  real?: RealNodes;
  scenario: Scenario;
  dir: string;
  home: string;
  planPath: string;
  statePath: string;
  snapshot: string;
  /** The snapshot's git revision, `main@sha1:<hex>`. */
  revision: string;
  /** Hecate's own kubeconfig file. */
  kubeconfig: string;
  env: Record<string, string>;
  /** Runs `hecate <argv>` in this process. */
  hecate(argv: string[]): Promise<CliResult & { ms: number }>;
  /** `--plan P --kubeconfig K` */
  args(...extra: string[]): string[];
  state(): Promise<{ outage: OutageRecord; progress?: Progress } | undefined>;
  /** Hecate's completed mutating requests, in log order. */
  mutations(): Promise<AuditEvent[]>;
  /** Writes the plan again with other tweaks (same paths). */
  writePlan(tweaks: PlanTweaks): Promise<void>;
  stop(): Promise<void>;
}

/** The Atlas PowerPlan with the bed's facts. */
export async function bedPlan(dir: string, snapshot: string, statePath: string, tweaks: PlanTweaks): Promise<string> {
  const plan = fromYaml(await readFile(join(REPO_ROOT, 'examples/atlas-powerplan.yaml'), 'utf8')) as {
    spec: Record<string, Record<string, unknown> | unknown>;
  };
  const spec = plan.spec as Record<string, Record<string, unknown>>;
  plan.spec.repoSnapshot = snapshot;
  plan.spec.stateFile = statePath;
  plan.spec.powerOff = {
    method: 'helper-pod',
    command: ['systemctl', 'poweroff'],
    delayBetweenNodes: tweaks.delayBetweenNodes ?? '0s',
  };
  plan.spec.ups = { source: 'static', staticCharge: 100, minStartupCharge: 50, emergencyCharge: 30 };
  plan.spec.drain = {
    ...spec.drain,
    timeout: tweaks.drainTimeout ?? '4s',
    evictionRetryInterval: '1s',
    parallelism: tweaks.parallelism ?? 4,
  };
  plan.spec.storage = { ...spec.storage, detachTimeout: '30s' };
  if (tweaks.extraNodes) plan.spec.nodes = [...(plan.spec.nodes as PlanNode[]), ...tweaks.extraNodes];
  if (tweaks.helperImage) plan.spec.helperImage = tweaks.helperImage;
  plan.spec.startup = { apiTimeout: '2m', nodeReadyQuorum: 0.6, nodesReadyTimeout: '1m' };
  const source = {
    ...(spec.flux?.source as Record<string, unknown>),
    ...(tweaks.sourceUrl ? { url: tweaks.sourceUrl } : {}),
  };
  plan.spec.flux = { ...spec.flux, source, convergeTimeout: '1m' };
  if (!tweaks.harbor) delete plan.spec.harbor;
  const file = join(dir, 'atlas-powerplan.yaml');
  await writeFile(file, toYaml(plan));
  return file;
}

/** Starts the bed, applies the (adapted) Atlas scenario, waits until Flux is Ready, writes the snapshot and plan. */
export async function startE2e(options: E2eOptions = {}): Promise<E2e> {
  const log = options.log ?? (() => {});
  const plane = await startControlPlane({ crds: allCrdPaths(), nodeLifecycle: { nodeMonitorGracePeriod: '6s' } });
  let sims: Simulators | undefined;
  let mixed: MixedScenario | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'hecate-e2e-'));
  try {
    const atlas = await loadScenario(ATLAS_SCENARIO);
    const scenario = options.scenario ? options.scenario(atlas) : atlas;
    const said = options.standInLog;
    const logOf = (standIn: Parameters<StandInLog>[0]) =>
      said ? { log: (message: string, fields?: Record<string, unknown>) => said(standIn, message, fields) } : {};
    const kubelet = {
      speed: options.speed ?? 10,
      powerOffHelperMs: 500,
      ...(options.bootId ? { bootId: options.bootId } : {}),
      ...logOf('kubelet'),
    };
    const simulatorOptions = { kubelet, flux: logOf('flux'), longhorn: logOf('longhorn') };
    if (scenario.nodes.some((n) => n.real)) {
      if (!options.realNodeTools) throw new Error('the scenario has real nodes: pass realNodeTools (root only)');
      mixed = await startMixedScenario(plane, scenario, options.realNodeTools, {
        simulators: simulatorOptions,
        ...(options.log ? { log: options.log } : {}),
      });
      sims = mixed.simulators;
    } else {
      sims = await startScenario(plane.kubeConfig, scenario, simulatorOptions);
    }
    const kc = await plane.userKubeConfig(HECATE_USER, ['system:masters']);
    const kubeconfig = await plane.writeKubeConfig(kc, 'hecate.kubeconfig');
    const snapshot = join(dir, 'hecate-repo');
    const revision = await writeSnapshot(scenario, snapshot);
    const origin = await serveSnapshot(snapshot, join(dir, 'git-server', 'atlas.git'));
    await serveRevision(plane.kubeConfig, scenario, revision);
    const statePath = join(dir, 'state', 'cluster_power_recovery.state');
    const planPath = await bedPlan(dir, snapshot, statePath, { ...options, sourceUrl: origin });
    await waitConverged(plane, scenario);
    log(`e2e bed up: ${plane.server}`);
    const env = { HOME: dir, HECATE_KUBECTL: plane.binaries.kubectl, PATH: process.env.PATH ?? '' };
    const started = sims;
    const stopNodes = () => (mixed ? mixed.stop() : started.stop());
    const planTweaks = { extraNodes: options.extraNodes, helperImage: options.helperImage };
    return {
      plane,
      sims: started,
      ...(mixed ? { real: mixed.real } : {}),
      scenario,
      dir,
      home: dir,
      planPath,
      statePath,
      snapshot,
      revision,
      kubeconfig,
      env,
      hecate: (argv) => runInProcess(argv, env),
      args: (...extra) => ['--plan', planPath, '--kubeconfig', kubeconfig, ...extra],
      state: async () => {
        try {
          return JSON.parse(await readFile(statePath, 'utf8'));
        } catch {
          return undefined;
        }
      },
      // NOTE: the run Lease (taken and released around every executing run) is a lock, not a change to the cluster
      mutations: async () => mutationsBy(await plane.readAudit(), HECATE_USER).filter((e) => !isRunLease(e)),
      writePlan: async (tweaks) => {
        await bedPlan(dir, snapshot, statePath, { sourceUrl: origin, ...planTweaks, ...tweaks });
      },
      stop: async () => {
        await stopNodes();
        await plane.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await (mixed ?? sims)?.stop();
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function runInProcess(argv: string[], env: Record<string, string>): Promise<CliResult & { ms: number }> {
  let stdout = '';
  let stderr = '';
  const started = Date.now();
  const code = await runCli(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env,
    cwd: REPO_ROOT,
    now: () => new Date(),
  });
  return { code, stdout, stderr, ms: Date.now() - started };
}

export async function nodes(plane: ControlPlane): Promise<V1Node[]> {
  return (await plane.kubeConfig.makeApiClient(CoreV1Api).listNode()).items;
}

/** A stage name per step id prefix: `flux-suspend/root` → `flux-suspend`. */
export function stageOfStep(id: string): string {
  return id.split('/')[0] ?? id;
}

/** Someone paused the apps Kustomization before the power event: Hecate must leave it to them. */
export function withPausedApps(atlas: Scenario): Scenario {
  const flux = atlas.flux;
  if (!flux) return atlas;
  const kustomizations = flux.kustomizations.map((k) => (k.name === 'apps' ? { ...k, suspended: true } : k));
  return { ...atlas, flux: { ...flux, kustomizations } };
}

/** The stage of the printed plan that a mutating request belongs to. */
/** What Hecate patches outside the chain (uncordon, suspend and resume), and namespaces (every stage declares its own). */
const NOT_CHAIN = ['nodes', 'kustomizations', 'helmreleases', 'namespaces'];

/** The chain's server-side applies (field manager hecate) by the CLI, in log order. */
export function chainApplies(events: readonly AuditEvent[]): AuditEvent[] {
  return events.filter(
    (e) =>
      e.user === HECATE_USER &&
      e.verb === 'patch' &&
      e.stage === 'ResponseComplete' &&
      /fieldManager=hecate(&|$)/.test(e.requestURI) &&
      !NOT_CHAIN.includes(e.objectRef?.resource ?? ''),
  );
}

export function stageOfMutation(event: AuditEvent): string {
  const ref = event.objectRef ?? {};
  if (ref.resource === 'kustomizations' || ref.resource === 'helmreleases') return 'flux-suspend';
  if (ref.namespace === 'hecate-system' || (ref.resource === 'namespaces' && ref.name === 'hecate-system')) {
    return 'power-off';
  }
  if (ref.resource === 'nodes' || ref.resource === 'pods') return 'drain';
  return `? ${describeEvent(event)}`;
}

/** A request on the run Lease the CLI and the operator share (adapters/kube/run-lease.ts). */
export function isRunLease(event: AuditEvent): boolean {
  return event.objectRef?.resource === 'leases' && event.objectRef.name === 'hecate-run';
}

/** Consecutive duplicates removed. */
export function runs<T>(items: readonly T[]): T[] {
  return items.filter((item, i) => i === 0 || items[i - 1] !== item);
}

/** Records the order in which the kubelet stand-in's nodes lose power while `work` runs. */
export async function powerOffOrder<T>(e2e: E2e, work: () => Promise<T>): Promise<{ result: T; order: string[] }> {
  const order: string[] = [];
  const timer = setInterval(() => {
    for (const node of e2e.sims.kubelet.nodeNames) {
      if (!e2e.sims.kubelet.isOn(node) && !order.includes(node)) order.push(node);
    }
  }, 50);
  try {
    const result = await work();
    await new Promise((resolve) => setTimeout(resolve, 700)); // the last node goes down just after its helper runs
    return {
      result,
      order: [...order, ...e2e.sims.kubelet.nodeNames.filter((n) => !e2e.sims.kubelet.isOn(n) && !order.includes(n))],
    };
  } finally {
    clearInterval(timer);
  }
}

/** Wall time of each stage of a finished run, from the state file's step records. */
export function stageTimes(progress: Progress | undefined): Record<string, number> {
  const out: Record<string, { from: number; to: number }> = {};
  for (const step of progress?.steps ?? []) {
    const stage = stageOfStep(step.id);
    const from = Date.parse(step.startedAt ?? '');
    const to = Date.parse(step.finishedAt ?? step.startedAt ?? '');
    const seen = out[stage];
    out[stage] = seen ? { from: Math.min(seen.from, from), to: Math.max(seen.to, to) } : { from, to };
  }
  return Object.fromEntries(Object.entries(out).map(([stage, t]) => [stage, t.to - t.from]));
}

export interface ChildRun {
  pid: number;
  output(): string;
  /** Resolves with the exit code, or the signal name. */
  exited: Promise<number | string>;
  kill(): void;
}

/** `hecate <argv>` as a child process (`node --import tsx cli/main.ts`), for SIGKILL tests. */
export function spawnCli(argv: string[], env: Record<string, string>): ChildRun {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'cli/main.ts'), ...argv], {
    cwd: REPO_ROOT,
    env: { ...env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  if (child.pid === undefined) throw new Error('could not start the CLI');
  return { pid: child.pid, output: () => output, exited, kill: () => child.kill('SIGKILL') };
}

/**
 * Whether a chain stage's waitFor object is Ready, read the way an observer outside Hecate would (available
 * replicas, ready replicas, the HelmRelease Ready condition). Rejects on API errors; callers decide what a 404 means.
 */
export async function waitForReady(kc: KubeConfig, w: ObjectRef): Promise<boolean> {
  const apps = kc.makeApiClient(AppsV1Api);
  const ref = { name: w.name, namespace: w.namespace ?? '' };
  if (w.kind === 'Deployment') {
    const d = await apps.readNamespacedDeployment(ref);
    return (d.status?.availableReplicas ?? 0) >= (d.spec?.replicas ?? 1);
  }
  if (w.kind === 'StatefulSet') {
    const s = await apps.readNamespacedStatefulSet(ref);
    return (s.status?.readyReplicas ?? 0) >= (s.spec?.replicas ?? 1);
  }
  if (w.kind === 'DaemonSet') {
    const d = await apps.readNamespacedDaemonSet(ref);
    const want = d.status?.desiredNumberScheduled ?? 0;
    return want > 0 && (d.status?.numberAvailable ?? 0) >= want;
  }
  const h = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
    group: 'helm.toolkit.fluxcd.io',
    version: 'v2',
    plural: 'helmreleases',
    ...ref,
  })) as { status?: { conditions?: { type: string; status: string }[] } };
  return h.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/**
 * A power-off order with the workers, which go together, sorted: what the order must equal is then the sorted workers
 * followed by the control plane in its order. A control-plane node among the first `workers.length` fails it.
 */
export function workersTogether(order: readonly string[], workers: readonly string[]): string[] {
  return [...order.slice(0, workers.length).sort(), ...order.slice(workers.length)];
}

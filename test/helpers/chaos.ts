/**
 * The chaos runner: a crash of the CLI at any instant of a shutdown or a cold-boot startup resumes, on a rerun, to
 * the end state an uninterrupted run leaves, having sent each destructive request at most once.
 *
 * On one Atlas bed: a reference cycle (shutdown, the power cut, startup with the bootstrap chain) runs without a
 * kill and measures each run; then every trial cycle SIGKILLs `hecate <mode> --execute` at an instant drawn
 * uniformly over that mode's measured duration (one seeded stream, printed so that a failure replays), reruns the
 * same command until it exits 0, and compares what the cycle left (nodes, Flux, the chain, the state file) and what
 * it sent (from the audit log, and the power-off helper pods) with the reference. Used by `npm run chaos`
 * (hack/chaos.ts) and by test/integration/chaos.test.ts with a small fixed seed.
 */
import { AppsV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { KubeFlux } from '../../adapters/kube/flux.js';
import type { ObjectRef, PowerPlanSpec } from '../../core/api/index.js';
import { type AuditEvent, MUTATING_VERBS } from '../bed/index.js';
import { eventually } from '../bed/simulators.js';
import { snapshotFiles } from '../bed/snapshot.js';
import { type E2e, HECATE_USER, isRunLease, spawnCli, suspendedFlux, waitForReady } from './e2e.js';

export type ChaosMode = 'shutdown' | 'startup';

/** Seeded numbers in [0, 1) (mulberry32): a printed seed replays the same kill instants. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a cycle leaves behind, in terms an operator checks after an outage. */
export interface EndState {
  /** Per node: cordoned, and powered on (the kubelet stand-in's power switch). */
  nodes: Record<string, { cordoned: boolean; on: boolean }>;
  /** Flux objects suspended (those suspended before Hecate ran must stay so). */
  suspended: string[];
  /** Per waited-for chain object: Ready. */
  chain: Record<string, boolean>;
  /** The state file: the outage closed, the last run finished, no step left running or failed. */
  outageOpen: boolean;
  runFinished: boolean;
  unsettled: string[];
}

/** One line per difference, `what: reference → actual`; empty when the end states match. */
export function diffEndStates(reference: EndState, actual: EndState): string[] {
  const out: string[] = [];
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  for (const node of new Set([...Object.keys(reference.nodes), ...Object.keys(actual.nodes)])) {
    const [r, a] = [reference.nodes[node], actual.nodes[node]];
    if (!same(r, a)) out.push(`node ${node}: ${JSON.stringify(r)} → ${JSON.stringify(a)}`);
  }
  if (!same(reference.suspended, actual.suspended)) {
    out.push(`suspended Flux objects: [${reference.suspended.join(', ')}] → [${actual.suspended.join(', ')}]`);
  }
  for (const key of new Set([...Object.keys(reference.chain), ...Object.keys(actual.chain)])) {
    if (reference.chain[key] !== actual.chain[key]) {
      out.push(`chain ${key} Ready: ${reference.chain[key]} → ${actual.chain[key]}`);
    }
  }
  if (reference.outageOpen !== actual.outageOpen)
    out.push(`outage open: ${reference.outageOpen} → ${actual.outageOpen}`);
  if (reference.runFinished !== actual.runFinished) {
    out.push(`last run finished: ${reference.runFinished} → ${actual.runFinished}`);
  }
  if (!same(reference.unsettled, actual.unsettled)) {
    out.push(`steps left running or failed: [${reference.unsettled.join(', ')}] → [${actual.unsettled.join(', ')}]`);
  }
  return out;
}

/** How many times each destructive request went out in a cycle, by `what target` (e.g. `power-off titan-04`). */
export type Sends = Record<string, number>;

/**
 * Requests a rerun may send again after a kill between sending them and recording them, and why that is harmless.
 * Everything else must go out no more often than in the uninterrupted run.
 */
export const IDEMPOTENT_RESENDS: readonly { prefix: string; why: string }[] = [
  {
    prefix: 'apply-chain ',
    why: 'a server-side apply of the same object by the same field manager: sent again, it changes nothing (core/steps/chain.ts re-applies a stage recorded running)',
  },
  {
    prefix: 'resume ',
    why: 'spec.suspend=false on an object that is already resumed is a no-op; the record of it is written after the patch',
  },
];

/** The sends of `actual` beyond the reference's count, other than the idempotent ones; empty when none. */
export function extraSends(reference: Sends, actual: Sends): string[] {
  return Object.entries(actual)
    .filter(([key, n]) => n > (reference[key] ?? 0))
    .filter(([key]) => !IDEMPOTENT_RESENDS.some((r) => key.startsWith(r.prefix)))
    .map(([key, n]) => `${key}: sent ${n}×, ${reference[key] ?? 0}× without a kill`);
}

/** The destructive sends of one cycle: Hecate's mutations in each mode's window, and the power-off helpers. */
export function sendsOf(
  events: readonly AuditEvent[],
  windows: Record<ChaosMode, { from: number; to: number }>,
  powerOffHelpers: ReadonlyMap<string, ReadonlySet<string>>,
): Sends {
  const sends: Sends = {};
  const count = (key: string) => {
    sends[key] = (sends[key] ?? 0) + 1;
  };
  const seen = new Set<string>();
  for (const e of events) {
    if (e.user !== HECATE_USER || e.stage !== 'ResponseComplete' || e.dryRun || isRunLease(e)) continue;
    if (!(MUTATING_VERBS as readonly string[]).includes(e.verb) || seen.has(e.auditID)) continue;
    seen.add(e.auditID);
    const at = Date.parse(e.timestamp);
    const mode = (['shutdown', 'startup'] as const).find((m) => at >= windows[m].from && at <= windows[m].to);
    const ref = e.objectRef ?? {};
    const target = `${ref.namespace ? `${ref.namespace}/` : ''}${ref.name ?? ''}`;
    const flux = ref.resource === 'kustomizations' || ref.resource === 'helmreleases';
    if (mode === 'shutdown' && flux && e.verb === 'patch') count(`suspend ${ref.resource}/${target}`);
    else if (mode === 'shutdown' && ref.resource === 'nodes' && e.verb === 'patch') count(`cordon ${target}`);
    // NOTE: the chain applies no Flux object in Atlas; a patch of one during startup resumes it (or asks a reconcile)
    else if (mode === 'startup' && flux && e.verb === 'patch') count(`resume ${ref.resource}/${target}`);
    else if (mode === 'startup' && ref.resource === 'nodes' && e.verb === 'patch') count(`uncordon ${target}`);
    else if (mode === 'startup' && e.verb === 'patch' && /fieldManager=hecate(&|$)/.test(e.requestURI)) {
      count(`apply-chain ${ref.resource}/${target}`);
    }
  }
  for (const [node, pods] of powerOffHelpers) sends[`power-off ${node}`] = pods.size;
  return sends;
}

/**
 * Watches the power-off helper pods created from now on (their names are generated, so the audit log cannot tell
 * them apart by node). NOTE: a helper stays on its powered-off node after a cycle: older ones are not counted.
 */
export function watchPowerOffHelpers(kc: KubeConfig): { helpers: Map<string, Set<string>>; stop(): void } {
  const core = kc.makeApiClient(CoreV1Api);
  const helpers = new Map<string, Set<string>>();
  const since = Math.floor(Date.now() / 1000) * 1000; // creationTimestamp has whole seconds
  const timer = setInterval(() => {
    core
      .listNamespacedPod({ namespace: 'hecate-system', labelSelector: 'hecate.dev/helper=power-off' })
      .then((list) => {
        for (const pod of list.items) {
          if ((pod.metadata?.creationTimestamp?.getTime() ?? 0) < since) continue;
          const node = pod.metadata?.labels?.['hecate.dev/node'] ?? '?';
          const seen = helpers.get(node) ?? new Set<string>();
          seen.add(pod.metadata?.name ?? '');
          helpers.set(node, seen);
        }
      })
      .catch(() => {});
  }, 100);
  return { helpers, stop: () => clearInterval(timer) };
}

/** The end state of the bed and the state file now. */
export async function endState(e2e: E2e, spec: PowerPlanSpec): Promise<EndState> {
  const core = e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
  const nodes = Object.fromEntries(
    (await core.listNode()).items.map((n) => {
      const name = n.metadata?.name ?? '';
      return [name, { cordoned: n.spec?.unschedulable === true, on: e2e.sims.kubelet.isOn(name) }];
    }),
  );
  const chain: Record<string, boolean> = {};
  for (const w of spec.bootstrapChain.flatMap((s) => s.waitFor)) {
    chain[`${w.kind}/${w.namespace ?? ''}/${w.name}`] = await waitForReady(e2e.plane.kubeConfig, w).catch(() => false);
  }
  const state = await e2e.state();
  return {
    nodes,
    suspended: await suspendedFlux(e2e.plane),
    chain,
    outageOpen: state?.outage.inOutage ?? false,
    runFinished: state?.progress?.finishedAt !== undefined,
    unsettled: (state?.progress?.steps ?? [])
      .filter((s) => s.state === 'running' || s.state === 'failed')
      .map((s) => `${s.id}:${s.state}`),
  };
}

/**
 * The power cut between shutdown and startup: every node loses power, the chain's workloads (Gitea among them) do
 * not come back by themselves, the nodes boot, and Flux's source is down until the chain is applied.
 */
export async function powerCut(e2e: E2e, spec: PowerPlanSpec): Promise<void> {
  for (const node of e2e.sims.kubelet.nodeNames) await e2e.sims.kubelet.powerOff(node);
  const apps = e2e.plane.kubeConfig.makeApiClient(AppsV1Api);
  const chainPaths = new Set(spec.bootstrapChain.map((s) => s.path.replace(/^\.\//, '')));
  for (const [path, objects] of snapshotFiles(e2e.scenario)) {
    if (!chainPaths.has(path.replace(/^\.\//, ''))) continue;
    for (const o of objects) {
      const { namespace = '', name = '' } = o.metadata as { namespace?: string; name?: string };
      const ref = { namespace, name };
      const gone = () => undefined;
      if (o.kind === 'Deployment') await apps.deleteNamespacedDeployment(ref).catch(gone);
      if (o.kind === 'StatefulSet') await apps.deleteNamespacedStatefulSet(ref).catch(gone);
      if (o.kind === 'DaemonSet') await apps.deleteNamespacedDaemonSet(ref).catch(gone);
    }
  }
  for (const node of e2e.sims.kubelet.nodeNames) await e2e.sims.kubelet.powerOn(node);
  const flux = new KubeFlux(e2e.plane.kubeConfig);
  await eventually(
    'the Flux source to go down with Gitea',
    async () => (await flux.source('GitRepository', 'flux-system', 'flux-system'))?.ready === false,
    { timeoutMs: 60_000 },
  );
}

/** What is killed, and when (ms after the mode's first process started). */
export interface Kill {
  /** `cli`: SIGKILL of the CLI process. `api`: the bed's kube-apiserver stopped, and started again `downMs` later. */
  what: 'cli' | 'api';
  atMs: number;
  downMs?: number;
}

export interface ModeRun {
  /** Wall time of each process, killed ones included. */
  runs: { ms: number; exit: number | string }[];
  /** When the kill landed, in ms after the first process started; undefined without a kill or when it ended first. */
  killedAtMs?: number;
  from: number;
  to: number;
  output: string;
}

/**
 * `hecate <mode> --execute`, with `kill` at its instant when given, then rerun until it exits 0 (at most 5 runs). After
 * a CLI kill only a SIGKILLed run is rerun; after an API kill any failed run is (the CLI may stop on the outage).
 */
export async function runMode(e2e: E2e, mode: ChaosMode, kill?: Kill): Promise<ModeRun> {
  const from = Date.now();
  const runs: ModeRun['runs'] = [];
  let output = '';
  let killedAtMs: number | undefined;
  let apiBack: Promise<void> | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    await apiBack;
    const started = Date.now();
    const child = spawnCli([mode, ...e2e.args('--execute')], e2e.env);
    let exit: number | string | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (attempt === 0 && kill) {
      timer = setTimeout(() => {
        if (exit !== undefined) return;
        killedAtMs = Date.now() - started;
        if (kill.what === 'cli') child.kill();
        else apiBack = apiOutage(e2e, kill.downMs ?? 4_000);
      }, kill.atMs);
    }
    exit = await child.exited;
    clearTimeout(timer);
    runs.push({ ms: Date.now() - started, exit });
    output += `\n--- ${mode} run ${attempt + 1} (exit ${exit}) ---\n${child.output().slice(-6000)}`;
    if (exit === 0) {
      await apiBack;
      return { runs, ...(killedAtMs !== undefined ? { killedAtMs } : {}), from, to: Date.now(), output };
    }
    const rerun = kill?.what === 'api' ? killedAtMs !== undefined : exit === 'SIGKILL';
    if (!rerun) break;
  }
  await apiBack;
  throw new Error(`hecate ${mode} --execute did not complete after ${runs.length} run(s):${output}`);
}

/** The API server goes away (a control-plane node's power cut, etcd losing quorum) and comes back `downMs` later. */
async function apiOutage(e2e: E2e, downMs: number): Promise<void> {
  await e2e.plane.stopApiServer();
  await new Promise((resolve) => setTimeout(resolve, downMs));
  await e2e.plane.startApiServer();
}

export interface CycleResult {
  shutdown: ModeRun;
  startup: ModeRun;
  end: EndState;
  sends: Sends;
}

/** One power event: shutdown, the power cut, startup; each mode with the kill given for it. */
export async function cycle(
  e2e: E2e,
  spec: PowerPlanSpec,
  kills: Partial<Record<ChaosMode, Kill>> = {},
): Promise<CycleResult> {
  const watch = watchPowerOffHelpers(e2e.plane.kubeConfig);
  try {
    const shutdown = await runMode(e2e, 'shutdown', kills.shutdown);
    await powerCut(e2e, spec);
    const startup = await runMode(e2e, 'startup', kills.startup);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the helper watch's last look
    const end = await endState(e2e, spec);
    const sends = sendsOf(await e2e.plane.readAudit(), { shutdown, startup }, watch.helpers);
    return { shutdown, startup, end, sends };
  } finally {
    watch.stop();
  }
}

/** The waited-for objects of the chain, for reports. */
export function chainObjects(spec: PowerPlanSpec): ObjectRef[] {
  return spec.bootstrapChain.flatMap((s) => s.waitFor);
}

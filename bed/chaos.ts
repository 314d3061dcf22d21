/**
 * The chaos runner: a crash at any instant of a shutdown or a cold-boot startup, through either front door, resumes
 * to the end state an uninterrupted run leaves, having sent each destructive request at most once.
 *
 * On one Atlas bed with the operator deployed (two replicas on one Lease, a killed one replaced as a Deployment
 * would): a reference cycle per door (shutdown, the power cut, startup with the bootstrap chain) runs without a kill
 * and measures each mode; then every trial cycle kills at an instant drawn uniformly over that mode's measured
 * duration (one seeded stream, printed so that a failure replays) and compares what the cycle left (nodes, Flux, the
 * chain, the state file, the PowerEvents) and what it sent (from the audit log, and the power-off helper pods) with
 * its door's reference.
 *
 * - CLI door: `hecate <mode> --execute`, SIGKILLed and run again until it exits 0; the startup hands off to the
 *   operator, which finishes the event.
 * - Operator door: the shutdown is a PowerEvent the operator executes; the cold boot is the CLI's, handed off to the
 *   operator. A kill SIGKILLs the operator's leader (a new replica starts; the follower takes the Lease).
 * - Either door: a kill of the API server stops the bed's kube-apiserver for 4 s.
 *
 * What a cycle left and sent, and the comparison: ./chaos-compare.ts; the operator's replicas: ./chaos-replicas.ts.
 * Used by `npm run chaos` (hack/chaos.ts) and by test/integration/chaos.test.ts with a small fixed seed.
 */
import { readFile } from 'node:fs/promises';
import { type ObjectRef, type PowerEvent, type PowerPlanSpec, parseOrThrow, powerPlan } from '../core/api/index.js';
import { fromYaml } from '../core/api/yaml.js';
import { type ChaosMode, type EndState, endState, type Sends, sendsOf, watchPowerOffHelpers } from './chaos-compare.js';
import { OperatorReplicas } from './chaos-replicas.js';
import { StandInLines } from './chaos-stand-ins.js';
import { type E2e, spawnCli, stageTimes, withPausedApps } from './e2e.js';
import { NS, type OperatorBed, startOperatorBed } from './operator/index.js';
import { powerCut } from './replay.js';
import { eventually } from './simulators.js';

export * from './chaos-compare.js';
export { OperatorReplicas } from './chaos-replicas.js';
export { StandInLines, volumeHolders } from './chaos-stand-ins.js';
export { powerCut };

export type Door = 'cli' | 'operator';

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

/** What is killed, and when (ms after the mode started). */
export interface Kill {
  /**
   * `door`: the front door's process: the CLI (SIGKILL, then the same command again) or the operator's leader
   * (SIGKILL; a new replica starts, the follower takes the Lease). `api`: the bed's kube-apiserver stopped, and
   * started again `downMs` later.
   */
  what: 'door' | 'api';
  atMs: number;
  downMs?: number;
  /** Operator door, startup: `atMs` counts from the CLI's hand-off (its exit), not from the start of the mode. */
  afterHandOff?: boolean;
}

export interface ModeRun {
  /** Wall time of each process (killed ones included) or of the PowerEvent, with its exit code or phase. */
  runs: { ms: number; exit: number | string }[];
  /** When the kill landed, in ms after the mode started; undefined without a kill or when the mode ended first. */
  killedAtMs?: number;
  /** Who was killed, for the report (the leader's identity). */
  killed?: string;
  /** The startup PowerEvent the CLI handed the cold boot to. */
  handedTo?: string;
  /** Wall time of each stage, from the step records (the state file, or the operator's PowerEvent). */
  stages?: Record<string, number>;
  from: number;
  to: number;
  output: string;
}

/** A bed for the chaos runner: the Atlas bed with the operator deployed, and the seeded plan's spec. */
export interface ChaosBed {
  bed: OperatorBed;
  replicas: OperatorReplicas;
  spec: PowerPlanSpec;
  /** What the stand-ins said (kept for a cycle that does not complete). */
  standIns: StandInLines;
}

/**
 * The chaos runner's bed: the Atlas bed with the apps Kustomization paused by someone before the power event (it
 * must stay suspended), the operator deployed as two replicas, and the plan's spec.
 */
export async function startChaosBed(): Promise<ChaosBed & { stop(): Promise<void> }> {
  const standIns = new StandInLines();
  const bed = await startOperatorBed({ scenario: withPausedApps, drainTimeout: '4s', standInLog: standIns.log });
  try {
    const spec = parseOrThrow(powerPlan, fromYaml(await readFile(bed.e2e.planPath, 'utf8')), bed.e2e.planPath).spec;
    const replicas = new OperatorReplicas(bed);
    await replicas.ready();
    return { bed, replicas, spec, standIns, stop: () => bed.stop() };
  } catch (error) {
    await bed.stop();
    throw error;
  }
}

/** Fires the kill at its instant after `from` (unless cancelled first) and remembers when it landed. */
class KillTimer {
  killedAtMs?: number;
  killed?: string;
  private landed: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(kill: Kill | undefined, from: number, act: (kill: Kill) => Promise<string | undefined>) {
    if (!kill) return;
    this.timer = setTimeout(
      () => {
        this.killedAtMs = Date.now() - from;
        this.landed = act(kill).then((who) => {
          if (who) this.killed = who;
        });
      },
      Math.max(0, from + kill.atMs - Date.now()),
    );
  }

  /** No kill after this; resolves when a landed one (an API outage included) is over. */
  async settle(): Promise<void> {
    clearTimeout(this.timer);
    await this.landed;
  }

  /** Resolves when a landed kill is over (the API server back). */
  over(): Promise<void> {
    return this.landed;
  }
}

/**
 * `hecate <mode> --execute` run again until it exits 0 (at most 5 runs): after a SIGKILL, and after any failure once
 * an API outage has landed (the CLI may stop on the outage). `onChild` hands the timer a way to kill this run.
 */
async function runCli(
  e2e: E2e,
  mode: ChaosMode,
  timer: KillTimer,
  apiKill: boolean,
  onChild: (kill: () => void) => void,
): Promise<Pick<ModeRun, 'runs' | 'output'>> {
  const runs: ModeRun['runs'] = [];
  let output = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    await timer.over();
    const started = Date.now();
    const child = spawnCli([mode, ...e2e.args('--execute')], e2e.env);
    onChild(attempt === 0 ? () => child.kill() : () => {});
    const exit = await child.exited;
    runs.push({ ms: Date.now() - started, exit });
    output += `\n--- ${mode} run ${attempt + 1} (exit ${exit}) ---\n${child.output().slice(-6000)}`;
    if (exit === 0) return { runs, output };
    if (exit !== 'SIGKILL' && !(apiKill && timer.killedAtMs !== undefined)) break;
  }
  throw new Error(`hecate ${mode} --execute did not complete after ${runs.length} run(s):${output}`);
}

/** Waits for a PowerEvent to end, reading through API outages and keeping the replicas topped up. */
async function eventEnd(cb: ChaosBed, name: string, timeoutMs = 240_000): Promise<PowerEvent> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    cb.replicas.topUp();
    const event = await cb.bed.getEvent(name).catch(() => undefined);
    const phase = event?.status?.phase;
    if (event && (phase === 'Succeeded' || phase === 'Failed')) return event;
    if (Date.now() > deadline) {
      throw new Error(
        `PowerEvent ${name} did not end in ${timeoutMs / 1000} s: ${JSON.stringify(event?.status?.conditions)}\n${cb.replicas.tails()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The failed steps and the False conditions of an event that did not succeed: what a replay must look at first. */
function whyEnded(event: PowerEvent): string {
  const steps = (event.status?.progress?.steps ?? [])
    .filter((s) => s.state === 'failed')
    .map((s) => `  step ${s.id} failed: ${s.message ?? '(no message)'}`);
  const conditions = (event.status?.conditions ?? [])
    .filter((c) => c.status === 'False' || c.type === 'Stalled')
    .map((c) => `  ${c.type}=${c.status} ${c.reason}: ${c.message}`);
  return [':', ...steps, ...conditions].join('\n');
}

/** The hand-off line the CLI prints after a successful startup: `Handed back to the operator: PowerEvent ns/name`. */
function handedTo(output: string): string {
  const match = /Handed back to the operator: PowerEvent [^/\s]+\/(\S+)/.exec(output);
  if (!match?.[1]) {
    // the CLI's own words first: the report cuts long messages
    const warning = output.split('\n').filter((l) => l.startsWith('warning: could not hand'));
    throw new Error(
      `the startup did not hand the cold boot to the operator: ${warning.join('; ')}\n${output.slice(-3000)}`,
    );
  }
  return match[1];
}

/**
 * One mode through one door, with `kill` at its instant: the CLI run (and, for a startup, the operator finishing the
 * handed-off event) or, for an operator-door shutdown, the PowerEvent `eventName` executed by the operator.
 */
export async function runMode(
  cb: ChaosBed,
  door: Door,
  mode: ChaosMode,
  eventName: string,
  kill?: Kill,
): Promise<ModeRun> {
  const { e2e } = cb.bed;
  const from = Date.now();
  let killCli: () => void = () => {};
  const act = async (k: Kill) => {
    if (k.what === 'api') {
      await apiOutage(e2e, k.downMs ?? 4_000);
      return 'kube-apiserver';
    }
    if (door === 'operator') return cb.replicas.killLeader();
    killCli();
    return 'cli';
  };
  const onHandOff = door === 'operator' && mode === 'startup' && kill?.afterHandOff === true;
  let timer = new KillTimer(onHandOff ? undefined : kill, from, act);
  try {
    if (door === 'operator' && mode === 'shutdown') {
      await cb.bed.createEvent(eventName, { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
      const event = await eventEnd(cb, eventName);
      // the last status comes before the control plane's power-offs: the power is cut once the operator has
      // delivered them and seen each node down (a power-off never sent shows in the sends)
      // (or, its leader killed meanwhile, the next one has delivered what was left and confirmed the rest)
      const ended = (message: string) =>
        message === 'Finished the plan' || message.startsWith('Confirmed the power-offs announced in the last status');
      const delivered = () =>
        nodesOff(e2e) &&
        cb.bed.operators.some((op) => op.logs.some((l) => ended(l.message) && l.powerEvent === `${NS}/${eventName}`));
      await eventually('the operator to deliver the last power-offs', async () => delivered(), {
        timeoutMs: 180_000,
      }).catch(() => undefined);
      await timer.settle();
      const runs = [{ ms: Date.now() - from, exit: event.status?.phase ?? '' }];
      if (event.status?.phase !== 'Succeeded') {
        throw new Error(
          `PowerEvent ${eventName} ended ${event.status?.phase}${whyEnded(event)}\n${cb.replicas.tails()}`,
        );
      }
      return { ...finished(runs, ''), stages: stageTimes(event.status?.progress) };
    }
    const cli = await runCli(e2e, mode, timer, kill?.what === 'api', (k) => {
      killCli = k;
    });
    if (door === 'cli') await timer.settle(); // the CLI door kills the CLI: none after it ended
    if (mode === 'shutdown') {
      await timer.settle();
      return { ...finished(cli.runs, cli.output), stages: stageTimes((await e2e.state())?.progress) };
    }
    const name = handedTo(cli.output);
    if (onHandOff) timer = new KillTimer(kill, Date.now(), act);
    const event = await eventEnd(cb, name);
    await timer.settle();
    if (event.status?.phase !== 'Succeeded') {
      throw new Error(
        `the handed-off PowerEvent ${name} ended ${event.status?.phase}${whyEnded(event)}\n${cb.replicas.tails()}`,
      );
    }
    return { ...finished(cli.runs, cli.output), handedTo: name, stages: stageTimes((await e2e.state())?.progress) };
  } finally {
    await timer.settle();
  }

  function finished(runs: ModeRun['runs'], output: string): ModeRun {
    return {
      runs,
      ...(timer.killedAtMs !== undefined ? { killedAtMs: timer.killedAtMs } : {}),
      ...(timer.killed !== undefined ? { killed: timer.killed } : {}),
      from,
      to: Date.now(),
      output,
    };
  }
}

const nodesOff = (e2e: E2e) => e2e.sims.kubelet.nodeNames.every((node) => !e2e.sims.kubelet.isOn(node));

/** The API server goes away (a control-plane node's power cut, etcd losing quorum) and comes back `downMs` later. */
async function apiOutage(e2e: E2e, downMs: number): Promise<void> {
  await e2e.plane.stopApiServer();
  await new Promise((resolve) => setTimeout(resolve, downMs));
  await e2e.plane.startApiServer();
}

export interface CycleResult {
  door: Door;
  /** Nodes found off before the cycle (a cycle before it differed) and booted, so that each cycle starts alike. */
  restored: string[];
  shutdown: ModeRun;
  startup: ModeRun;
  end: EndState;
  sends: Sends;
}

let cycles = 0;

/** One power event through one door: shutdown, the power cut, startup; each mode with the kill given for it. */
export async function cycle(
  cb: ChaosBed,
  door: Door,
  kills: Partial<Record<ChaosMode, Kill>> = {},
): Promise<CycleResult> {
  const { e2e } = cb.bed;
  const shutdownEvent = `chaos-${Date.now().toString(36)}-${++cycles}`;
  const watch = watchPowerOffHelpers(e2e.plane.kubeConfig);
  try {
    const restored = await bootLeftOff(e2e);
    await cb.replicas.ready();
    const shutdown = await runMode(cb, door, 'shutdown', shutdownEvent, kills.shutdown);
    await powerCut(e2e, cb.spec);
    const startup = await runMode(cb, door, 'startup', '', kills.startup);
    await new Promise((resolve) => setTimeout(resolve, 300)); // the helper watch's last look
    const events: Record<string, string> = {
      ...(door === 'operator' ? { shutdown: shutdownEvent } : {}),
      ...(startup.handedTo ? { startup: startup.handedTo } : {}),
    };
    const end = await endState(cb.bed, cb.spec, events);
    const sends = sendsOf(await e2e.plane.readAudit(), { shutdown, startup }, watch.helpers);
    return { door, restored, shutdown, startup, end, sends };
  } finally {
    watch.stop();
  }
}

/**
 * Every cycle starts with every node on: one a cycle before left off (its end state differed) is booted, and named,
 * so that it does not count against the next cycle.
 */
async function bootLeftOff(e2e: E2e): Promise<string[]> {
  const off = e2e.sims.kubelet.nodeNames.filter((node) => !e2e.sims.kubelet.isOn(node));
  for (const node of off) await e2e.sims.kubelet.powerOn(node);
  return off;
}

/** The waited-for objects of the chain, for reports. */
export function chainObjects(spec: PowerPlanSpec): ObjectRef[] {
  return spec.bootstrapChain.flatMap((s) => s.waitFor);
}

/**
 * The drill's report: what the rehearsal of a power event showed, for the operator who must decide whether to cut the
 * power. A timeline per stage (bed time, and the prediction scaled back by the speed), what blocked (drain
 * escalations, failed or unfinished steps), the predicted outage, how the end state differs from the state before
 * the shutdown, and what the rehearsal cannot know. Pure: the facts come from bed/drill/run.ts.
 */
import type { Progress } from '../api/index.js';

/** One `hecate` run of the rehearsal. */
export interface DrillModeRun {
  mode: 'prepare' | 'shutdown' | 'startup';
  code: number;
  ms: number;
  progress?: Progress;
  /** Its progress lines (stderr). */
  output: string;
}

/** The replayed cluster as compared: ready pods per workload, suspended Flux objects, cordoned nodes. */
export interface DrillClusterState {
  ready: Record<string, number>;
  suspended: string[];
  cordoned: string[];
}

export interface DrillFacts {
  capture: { server: string; capturedAt: string; redacted: boolean; objects: number };
  speed: number;
  runs: DrillModeRun[];
  powerCutMs: number;
  before: DrillClusterState;
  after: DrillClusterState;
  notReplayed: string[];
  snapshot: string;
}

export interface DrillStage {
  mode: DrillModeRun['mode'];
  stage: string;
  /** How long the stage took on the bed. */
  bedMs: number;
  /** bedMs times the speed: the prediction for the real cluster (an upper estimate, see the limits). */
  predictedMs: number;
  /** `done` when every step of it succeeded or was skipped; else the first state that is not. */
  state: string;
}

/** One node's shutdown, predicted, from the shutdown's start. */
export interface DrillNodeTimeline {
  node: string;
  drainStartMs?: number;
  drainEndMs?: number;
  /** When its power-off was sent (the step's start: the record comes first) and when it was seen down. */
  powerOffStartMs?: number;
  powerOffEndMs?: number;
}

export interface DrillEscalation {
  node: string;
  level: string;
  /** Predicted time spent at the level before, scaled back by the speed (the plan's drain.timeout for a PDB that never yields). */
  afterMs?: number;
  /** Why, as the drain said it, with its bed time scaled back by the speed. */
  reason: string;
}

export interface DrillReport {
  /** `back`: every run exited 0 and the end state is the state before the shutdown. */
  verdict: 'back' | 'not-back';
  capture: DrillFacts['capture'];
  speed: number;
  snapshot: string;
  stages: DrillStage[];
  nodes: DrillNodeTimeline[];
  escalations: DrillEscalation[];
  /** Why the rehearsal did not come back: failed runs, steps and their messages. */
  blockers: string[];
  predicted: { shutdownMs: number; startupMs: number };
  differences: string[];
  notReplayed: string[];
  limits: string[];
}

/** What a rehearsal on stand-ins cannot know, said in every report. */
export const DRILL_LIMITS: readonly string[] = [
  'Simulated: pods are stand-ins (no image pulls, no disk flush, no application shutdown beyond the grace period); every figure is the bed time times the speed, API round trips included, so it is an upper estimate of what waits on pods and a lower one of what waits on hardware.',
  'Not rehearsed: hardware that does not boot or boots slowly, the UPS (a full static charge), the power-off transport (helper pods on stand-in kubelets, whatever the plan says), the Harbor seed (no bundle on the bed).',
  "The power cut loses the bootstrap chain's workloads, the worst case the chain exists for; on a real cluster some may come back by themselves.",
];

const ESCALATION = /([a-z0-9][-a-z0-9.]*): escalating to ([a-z-]+): (.*)$/;

/** The report of a rehearsal. */
export function drillReport(facts: DrillFacts): DrillReport {
  const stages = facts.runs.flatMap((run) => stagesOf(run, facts.speed));
  const escalations = facts.runs
    .filter((r) => r.mode === 'shutdown')
    .flatMap((r) => r.output.split('\n'))
    .map((line) => ESCALATION.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => escalationOf(m[1] ?? '', m[2] ?? '', (m[3] ?? '').trim(), facts.speed));
  const blockers = facts.runs.flatMap(blockersOf);
  const modes = new Set(facts.runs.map((r) => r.mode));
  for (const mode of ['prepare', 'shutdown', 'startup'] as const) {
    if (!modes.has(mode)) blockers.push(`${mode} did not run: an earlier run failed`);
  }
  const differences = differencesOf(facts.before, facts.after);
  const span = (mode: DrillModeRun['mode']) =>
    predictedSpan(
      facts.runs.find((r) => r.mode === mode),
      facts.speed,
    );
  return {
    verdict: blockers.length === 0 && differences.length === 0 ? 'back' : 'not-back',
    capture: facts.capture,
    speed: facts.speed,
    snapshot: facts.snapshot,
    stages,
    nodes: nodeTimelines(
      facts.runs.find((r) => r.mode === 'shutdown'),
      facts.speed,
    ),
    escalations,
    blockers,
    predicted: { shutdownMs: span('shutdown'), startupMs: span('startup') },
    differences,
    notReplayed: facts.notReplayed,
    limits: [...DRILL_LIMITS],
  };
}

const HELD = /after ([0-9.]+)s at /;

/** An escalation the drain reported, its time at the previous level scaled back to the cluster's. */
function escalationOf(node: string, level: string, said: string, speed: number): DrillEscalation {
  const held = HELD.exec(said);
  if (!held) return { node, level, reason: said };
  const afterMs = Math.round(Number(held[1]) * 1000 * speed);
  return { node, level, afterMs, reason: said.replace(HELD, `after ${seconds(afterMs)} at `) };
}

/** 0 when the rehearsal came back to the state before the shutdown, 1 when it did not. */
export function drillExitCode(report: DrillReport): 0 | 1 {
  return report.verdict === 'back' ? 0 : 1;
}

/** Consecutive steps of one stage make one entry: a stage that comes back later (outage/close) is a new one. */
function stagesOf(run: DrillModeRun, speed: number): DrillStage[] {
  const entries: { stage: string; start: number; end: number; state: string }[] = [];
  for (const step of run.progress?.steps ?? []) {
    const stage = step.id.split('/')[0] ?? step.id;
    const start = step.startedAt ? Date.parse(step.startedAt) : Number.NaN;
    const end = step.finishedAt ? Date.parse(step.finishedAt) : start;
    let entry = entries.at(-1);
    if (entry?.stage !== stage) {
      entry = { stage, start: Number.POSITIVE_INFINITY, end: Number.NEGATIVE_INFINITY, state: 'done' };
      entries.push(entry);
    }
    if (Number.isFinite(start)) entry.start = Math.min(entry.start, start);
    if (Number.isFinite(end)) entry.end = Math.max(entry.end, end);
    if (entry.state === 'done' && !['succeeded', 'skipped'].includes(step.state)) entry.state = step.state;
  }
  return entries.map((e) => {
    const bedMs = Number.isFinite(e.start) && e.end >= e.start ? e.end - e.start : 0;
    return { mode: run.mode, stage: e.stage, bedMs, predictedMs: bedMs * speed, state: e.state };
  });
}

/** Each node's drain and power-off in the shutdown (steps `drain/<node>` and `power-off/<node>`), scaled back. */
function nodeTimelines(run: DrillModeRun | undefined, speed: number): DrillNodeTimeline[] {
  const steps = run?.progress?.steps ?? [];
  const starts = steps
    .map((st) => st.startedAt)
    .filter((t): t is string => t !== undefined)
    .map(Date.parse);
  if (starts.length === 0) return [];
  const t0 = Math.min(...starts);
  const at = (t: string | undefined) => (t === undefined ? undefined : (Date.parse(t) - t0) * speed);
  const nodes = new Map<string, DrillNodeTimeline>();
  for (const step of steps) {
    const [kind, node] = step.id.split('/');
    if (!node || (kind !== 'drain' && kind !== 'power-off')) continue;
    const entry = nodes.get(node) ?? { node };
    const start = at(step.startedAt);
    const end = at(step.finishedAt);
    if (kind === 'drain') Object.assign(entry, { drainStartMs: start, drainEndMs: end });
    else Object.assign(entry, { powerOffStartMs: start, powerOffEndMs: end });
    nodes.set(node, Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) as DrillNodeTimeline);
  }
  return [...nodes.values()];
}

/** From the first step's start to the last one's end, times the speed. */
function predictedSpan(run: DrillModeRun | undefined, speed: number): number {
  const times = (run?.progress?.steps ?? []).flatMap((s) =>
    [s.startedAt, s.finishedAt].filter((t): t is string => t !== undefined).map((t) => Date.parse(t)),
  );
  return times.length === 0 ? 0 : (Math.max(...times) - Math.min(...times)) * speed;
}

function blockersOf(run: DrillModeRun): string[] {
  if (run.code === 0) return [];
  const failed = (run.progress?.steps ?? []).filter((s) => s.state === 'failed');
  if (failed.length === 0) {
    const last = run.output.trim().split('\n').at(-1) ?? '';
    return [`${run.mode} exited ${run.code}${last ? `: ${last}` : ''}`];
  }
  return failed.map((s) => `${run.mode} failed at ${s.id}${s.message ? `: ${s.message}` : ''}`);
}

function differencesOf(before: DrillClusterState, after: DrillClusterState): string[] {
  const out: string[] = [];
  for (const [workload, was] of Object.entries(before.ready)) {
    const now = after.ready[workload] ?? 0;
    if (now < was) out.push(`${workload}: ${now} of ${was} ready pods back`);
  }
  for (const object of after.suspended) {
    if (!before.suspended.includes(object)) out.push(`${object}: left suspended`);
  }
  for (const node of after.cordoned) {
    if (!before.cordoned.includes(node)) out.push(`Node/${node}: left cordoned`);
  }
  return out;
}

const seconds = (ms: number) =>
  ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s` : `${(ms / 1000).toFixed(1)}s`;

/** The report for people. */
export function renderDrillReport(r: DrillReport): string {
  const lines: string[] = [];
  const verdict =
    r.verdict === 'back'
      ? 'CAME BACK: the rehearsal ended where the cluster started'
      : 'DID NOT COME BACK: see what blocked and what differs below';
  lines.push(`Drill of ${r.capture.server} as captured at ${r.capture.capturedAt} (speed ${r.speed}×): ${verdict}`);
  lines.push('', 'Timeline (bed time → predicted on the cluster):');
  for (const s of r.stages) {
    const state = s.state === 'done' ? '' : `  [${s.state}]`;
    lines.push(
      `  ${s.mode.padEnd(8)} ${s.stage.padEnd(14)} ${seconds(s.bedMs).padStart(7)} → ${seconds(s.predictedMs).padStart(8)}${state}`,
    );
  }
  if (r.nodes.length > 0) lines.push('', 'Per node, predicted from the shutdown’s start:');
  const span = (a?: number, b?: number) =>
    a === undefined ? '-' : `${seconds(a)} → ${b === undefined ? '?' : seconds(b)}`;
  for (const n of r.nodes) {
    const drain = n.drainStartMs === undefined ? '' : `drained ${span(n.drainStartMs, n.drainEndMs)}`;
    const off =
      n.powerOffStartMs === undefined ? 'not powered off' : `powered off ${span(n.powerOffStartMs, n.powerOffEndMs)}`;
    lines.push(`  ${n.node.padEnd(14)} ${drain.padEnd(28)} ${off}`.trimEnd());
  }
  lines.push(
    '',
    `Predicted outage: shutdown ${seconds(r.predicted.shutdownMs)}, startup to Flux Ready ${seconds(r.predicted.startupMs)}`,
  );
  lines.push('', r.escalations.length === 0 ? 'Drain escalations: none' : 'Drain escalations:');
  // by node, each node's levels in the order they came
  const byNode = [...r.escalations].sort((a, b) => a.node.localeCompare(b.node));
  for (const e of byNode) lines.push(`  ${e.node} → ${e.level}: ${e.reason}`);
  if (r.blockers.length > 0) lines.push('', 'What blocked:', ...r.blockers.map((b) => `  ${b}`));
  lines.push('', r.differences.length === 0 ? 'End state: as before the shutdown' : 'End state differs:');
  for (const d of r.differences) lines.push(`  ${d}`);
  if (r.notReplayed.length > 0) lines.push('', 'Not replayed:', ...r.notReplayed.map((n) => `  ${n}`));
  lines.push(
    '',
    `Bootstrap chain applied from: ${r.snapshot === 'capture' ? 'a snapshot made from the capture' : r.snapshot}`,
  );
  lines.push('', 'What a rehearsal cannot know:', ...r.limits.map((l) => `  - ${l}`));
  return `${lines.join('\n')}\n`;
}

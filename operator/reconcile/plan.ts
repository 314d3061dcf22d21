/**
 * The plan a PowerEvent runs: its PowerPlan from the cache, validated; compiled with what the cluster looks like now
 * and the paths the executors use; or, when a Running event is resumed, the plan its status already holds (a run
 * resumed after a restart goes on with the steps it recorded, never with a recompiled list).
 */

import { DEFAULT_STATE_FILE, harborBundleOf, MODE_OF_ACTION } from '../../core/api/defaults.js';
import {
  type PowerEvent,
  type PowerEventStatus,
  type PowerPlanSpec,
  powerPlan,
  type RenderedPlan,
  toIssues,
  type WayBackRecord,
} from '../../core/api/index.js';
import { type CompileInput, compilePlan } from '../../core/plan/index.js';
import type { Observed } from '../../core/ports/index.js';
import { Reason } from '../../core/status/reasons.js';
import type { PowerEventReconcilerDeps } from './deps.js';

/** A PowerPlan found and valid. */
export interface ResolvedPlan {
  name: string;
  spec: PowerPlanSpec;
  /** The way back as `hecate prepare --execute` last recorded it in the plan's status. */
  wayBack?: WayBackRecord | undefined;
}

/** What compiling knows beyond the event and its plan: the cluster as observed, and a note for the outage reason. */
export interface CompileExtras {
  /** Observed already (the way-back check reads the Flux revision): not asked again. */
  observed?: Observed;
  /** Appended to the event's `spec.reason` in the outage record (a way back not verified, and why it went ahead). */
  note?: string;
}

/** What compiling reads from the reconciler's deps. */
export type CompileDeps = Pick<PowerEventReconcilerDeps, 'observe' | 'paths' | 'selfNode'>;

/** The event's PowerPlan, else why the event stalls: the Stalled reason and a message naming the fix. */
export function planOfEvent(
  plans: PowerEventReconcilerDeps['plans'],
  event: PowerEvent,
): { plan: ResolvedPlan } | { reason: string; message: string } {
  const planName = event.spec.planRef.name;
  const rawPlan = plans.get(planName);
  if (!rawPlan) {
    const message = `PowerPlan "${planName}" not found: create it, or point spec.planRef.name at an existing PowerPlan`;
    return { reason: Reason.PlanNotFound, message };
  }
  const plan = powerPlan.safeParse(rawPlan, { reportInput: true });
  if (!plan.success) {
    const issues = toIssues(plan.error, powerPlan).map((i) => `${i.path || '(root)'}: ${i.message}`);
    return { reason: Reason.InvalidPlan, message: `PowerPlan "${planName}" is invalid: ${issues.join('; ')}` };
  }
  return { plan: { name: planName, spec: plan.data.spec, wayBack: plan.data.status?.wayBack } };
}

/** The event's action compiled from `plan` and what the cluster looks like now. */
export async function compileEvent(
  deps: CompileDeps,
  event: PowerEvent,
  plan: ResolvedPlan,
  extras: CompileExtras = {},
): Promise<RenderedPlan> {
  return compilePlan(MODE_OF_ACTION[event.spec.action], await compileInput(deps, event, plan, extras));
}

/** A plan to run: the one in `status` when this run resumes it, else freshly compiled. */
export async function planToRun(
  deps: CompileDeps,
  event: PowerEvent,
  status: PowerEventStatus,
  plan: ResolvedPlan,
  extras: CompileExtras = {},
): Promise<RenderedPlan> {
  const resumed = resumedPlan(event, status);
  return resumed ?? compileEvent(deps, event, plan, extras);
}

/**
 * The plan in `status` when a run of it has begun (a restart, or the CLI's hand-off, resumes it), else undefined.
 * Begun: Running, or Waiting (for the run Lease or another event) with progress recorded; a run waits again after a
 * restart, and compiling afresh then would drop what the recorded plan says (the CLI's chain, done) and add what it
 * did not. An event that waited before it ever ran has no progress and compiles when its turn comes.
 */
export function resumedPlan(event: PowerEvent, status: PowerEventStatus): RenderedPlan | undefined {
  const mode = MODE_OF_ACTION[event.spec.action];
  const begun = status.phase === 'Running' || (status.phase === 'Waiting' && status.progress?.mode === mode);
  const resumable = begun && status.plan?.mode === mode && status.plan.execute;
  return resumable ? status.plan : undefined;
}

/**
 * The recorded run of `plan` ended (the runner's last write, `progress.finishedAt`) but the process stopped before it
 * wrote the phase: the event is finished, not run again (a rerun would repeat every step, the CLI's chain among them).
 * NOTE: the runner writes finishedAt only after the last step succeeded; a failed or stopped run has none.
 */
export function endedBeforeRestart(status: PowerEventStatus, plan: RenderedPlan): boolean {
  const progress = status.progress;
  return progress?.finishedAt !== undefined && progress.mode === plan.mode && status.phase === 'Running';
}

async function compileInput(
  deps: CompileDeps,
  event: PowerEvent,
  plan: ResolvedPlan,
  extras: CompileExtras,
): Promise<CompileInput> {
  const { name: planName, spec } = plan;
  const outage = event.status?.outage;
  const reason = [event.spec.reason, extras.note].filter(Boolean).join('; ');
  const bundle = spec.harbor ? harborBundleOf(spec.harbor) : undefined;
  return {
    planName,
    spec,
    execute: event.spec.execute,
    paths: deps.paths?.(spec) ?? {
      repoSnapshot: spec.repoSnapshot,
      stateFile: spec.stateFile ?? DEFAULT_STATE_FILE,
      ...(bundle ? { harborBundle: bundle } : {}),
    },
    observed: extras.observed ?? (await deps.observe(spec)),
    ...(outage ? { outage } : {}),
    ...(reason ? { reason } : {}),
    ...(event.spec.ignoreUps ? { ignoreUps: true } : {}),
    ...(deps.selfNode ? { selfNode: deps.selfNode } : {}),
  };
}

/**
 * PowerEvent status transitions: pure functions from (status, facts, now) to the next status, so every write the
 * reconciler makes keeps the kstatus invariants (core/status) and the tests can assert them without I/O.
 *
 * The root `observedGeneration` is set only when the generation is fully handled: rendered, finished, failed or
 * stalled (STYLE.md point 7). Waiting and running leave it at the previous value.
 */
import {
  ConditionReason,
  ConditionType,
  type PlanStep,
  type PowerEventStatus,
  type RenderedPlan,
} from '../core/api/index.js';
import { STAGE_CONDITION, type Stage } from '../core/plan/index.js';
import { setCondition, setKstatus } from '../core/status/conditions.js';
import { OperatorReason } from '../core/status/reasons.js';

export interface Facts {
  generation: number | undefined;
  now: Date;
}

/** A dry-run rendered: the plan is in status, Ready=True, nothing was changed. */
export function rendered(status: PowerEventStatus, plan: RenderedPlan, { generation, now }: Facts): PowerEventStatus {
  const message = `Plan rendered: ${plan.steps.length} step(s) of ${plan.mode}; dry-run, nothing was changed`;
  let conditions = setCondition(
    status.conditions,
    { type: ConditionType.Planned, status: 'True', reason: ConditionReason.DryRun, message },
    now,
    generation,
  );
  conditions = setKstatus(conditions, { ready: ready('True', ConditionReason.DryRun, message) }, now, generation);
  return withGeneration({ ...status, conditions, plan, phase: 'Succeeded', finishedAt: now.toISOString() }, generation);
}

/** Cannot go on until something outside changes (a PowerPlan appears, the operator gains an executor...). */
export function stalled(
  status: PowerEventStatus,
  reason: string,
  message: string,
  { generation, now }: Facts,
  plan?: RenderedPlan,
): PowerEventStatus {
  const conditions = setKstatus(
    status.conditions,
    {
      ready: ready('False', reason, message),
      stalled: { type: ConditionType.Stalled, status: 'True', reason, message },
    },
    now,
    generation,
  );
  const phase = status.phase === 'Running' || status.phase === 'Failed' ? 'Failed' : 'Pending';
  return withGeneration({ ...status, conditions, phase, ...(plan ? { plan } : {}) }, generation);
}

/** Another PowerEvent is active: this one waits, and its conditions name the active one. */
export function waiting(status: PowerEventStatus, active: string, { generation, now }: Facts): PowerEventStatus {
  const reason = ConditionReason.WaitingForActiveEvent;
  const message = `Waiting for PowerEvent ${active} to finish: one PowerEvent acts at a time`;
  const conditions = setKstatus(
    status.conditions,
    {
      ready: ready('False', reason, message),
      reconciling: { type: ConditionType.Reconciling, status: 'True', reason, message },
    },
    now,
    generation,
  );
  return { ...status, conditions, phase: 'Waiting' };
}

/** The run starts (or resumes): the plan is recorded before the first step acts. */
export function running(status: PowerEventStatus, plan: RenderedPlan, { generation, now }: Facts): PowerEventStatus {
  const message = `Running ${plan.mode}: ${plan.steps.length} step(s)`;
  const conditions = setKstatus(
    status.conditions,
    {
      ready: ready('False', ConditionReason.Progressing, message),
      reconciling: { type: ConditionType.Reconciling, status: 'True', reason: ConditionReason.Progressing, message },
    },
    now,
    generation,
  );
  return { ...status, conditions, plan, phase: 'Running', startedAt: status.startedAt ?? now.toISOString() };
}

/** A step of `stage` starts: its stage's condition goes False/Progressing and the root stage moves. */
export function stageProgress(status: PowerEventStatus, step: PlanStep, { generation, now }: Facts): PowerEventStatus {
  const type = conditionOf(step.stage);
  const message = `${step.title}`;
  let conditions = setCondition(
    status.conditions,
    { type, status: 'False', reason: ConditionReason.Progressing, message },
    now,
    generation,
  );
  conditions = setCondition(
    conditions,
    { type: ConditionType.Reconciling, status: 'True', reason: ConditionReason.Progressing, message },
    now,
    generation,
  );
  return { ...status, conditions, stage: step.stage };
}

/** Every step that maps to `step`'s condition is finished: the condition goes True. */
export function stageDone(status: PowerEventStatus, step: PlanStep, facts: Facts): PowerEventStatus {
  const type = conditionOf(step.stage);
  const steps = (status.plan?.steps ?? []).filter((s) => conditionOf(s.stage) === type);
  const finished = new Set(
    (status.progress?.steps ?? []).filter((r) => r.state === 'done' || r.state === 'skipped').map((r) => r.id),
  );
  if (!steps.every((s) => finished.has(s.id))) return status;
  const conditions = setCondition(
    status.conditions,
    { type, status: 'True', reason: ConditionReason.Succeeded, message: `${step.stage}: done` },
    facts.now,
    facts.generation,
  );
  return { ...status, conditions };
}

/** The run finished: Ready=True, the generation is handled. */
export function succeeded(status: PowerEventStatus, { generation, now }: Facts): PowerEventStatus {
  const message = `${status.plan?.mode ?? 'plan'} finished: ${status.plan?.steps.length ?? 0} step(s) done or skipped`;
  const conditions = setKstatus(
    status.conditions,
    { ready: ready('True', ConditionReason.Succeeded, message) },
    now,
    generation,
  );
  return withGeneration({ ...status, conditions, phase: 'Succeeded', finishedAt: now.toISOString() }, generation);
}

/** A step failed: the stage's condition and Ready say why; Stalled, because a rerun needs a person. */
export function failed(status: PowerEventStatus, step: PlanStep, error: Error, facts: Facts): PowerEventStatus {
  const type = conditionOf(step.stage);
  const conditions = setCondition(
    status.conditions,
    { type, status: 'False', reason: ConditionReason.StepFailed, message: error.message },
    facts.now,
    facts.generation,
  );
  const next = stalled({ ...status, conditions, phase: 'Running' }, ConditionReason.StepFailed, error.message, facts);
  return { ...next, phase: 'Failed', finishedAt: facts.now.toISOString() };
}

/** The operator is stopping mid-run: the event stays Running and resumes on the next start. */
export function interrupted(status: PowerEventStatus, { generation, now }: Facts): PowerEventStatus {
  const message = 'The operator stopped during the run; the next leader resumes from the recorded progress';
  const conditions = setKstatus(
    status.conditions,
    {
      ready: ready('False', OperatorReason.Interrupted, message),
      reconciling: { type: ConditionType.Reconciling, status: 'True', reason: OperatorReason.Interrupted, message },
    },
    now,
    generation,
  );
  return { ...status, conditions };
}

/** The condition a stage owns; unknown stages fall back to Reconciling's sibling Planned. */
export function conditionOf(stage: string): string {
  return STAGE_CONDITION[stage as Stage] ?? ConditionType.Planned;
}

function ready(status: 'True' | 'False', reason: string, message: string) {
  return { type: ConditionType.Ready, status, reason, message } as const;
}

function withGeneration(status: PowerEventStatus, generation: number | undefined): PowerEventStatus {
  return generation === undefined ? status : { ...status, observedGeneration: generation };
}

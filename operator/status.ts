/**
 * PowerEvent status transitions: pure functions from (status, facts, now) to the next status, so every write the
 * reconciler makes keeps the kstatus invariants (core/status) and the tests can assert them without I/O.
 *
 * The root `observedGeneration` is set only when the generation is fully handled: rendered, finished, failed or
 * stalled (STYLE.md point 7). Waiting and running leave it at the previous value.
 */
import { ConditionType, type PlanStep, type PowerEventStatus, type RenderedPlan } from '../core/api/index.js';
import { STAGE_CONDITION, type Stage } from '../core/plan/index.js';
import { setCondition, setKstatus } from '../core/status/conditions.js';
import { Reason } from '../core/status/reasons.js';

export interface Facts {
  generation: number | undefined;
  now: Date;
}

/** A dry-run rendered: the plan is in status, Ready=True, nothing was changed. */
export function rendered(status: PowerEventStatus, plan: RenderedPlan, { generation, now }: Facts): PowerEventStatus {
  const message = `Plan rendered: ${plan.steps.length} step(s) of ${plan.mode}; dry-run, nothing was changed`;
  let conditions = setCondition(
    status.conditions,
    { type: ConditionType.Planned, status: 'True', reason: Reason.DryRun, message },
    now,
    generation,
  );
  conditions = setKstatus(conditions, { ready: ready('True', Reason.DryRun, message) }, now, generation);
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
  const reason = Reason.WaitingForActiveEvent;
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
      ready: ready('False', Reason.Progressing, message),
      reconciling: { type: ConditionType.Reconciling, status: 'True', reason: Reason.Progressing, message },
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
    { type, status: 'False', reason: Reason.Progressing, message },
    now,
    generation,
  );
  conditions = setCondition(
    conditions,
    { type: ConditionType.Reconciling, status: 'True', reason: Reason.Progressing, message },
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
    { type, status: 'True', reason: Reason.Succeeded, message: `${step.stage}: done` },
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
    { ready: ready('True', Reason.Succeeded, message) },
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
    { type, status: 'False', reason: Reason.StepFailed, message: error.message },
    facts.now,
    facts.generation,
  );
  const next = stalled({ ...status, conditions, phase: 'Running' }, Reason.StepFailed, error.message, facts);
  return { ...next, phase: 'Failed', finishedAt: facts.now.toISOString() };
}

/** The operator is stopping mid-run: the event stays Running and resumes on the next start. */
export function interrupted(status: PowerEventStatus, { generation, now }: Facts): PowerEventStatus {
  const message = 'The operator stopped during the run; the next leader resumes from the recorded progress';
  const conditions = setKstatus(
    status.conditions,
    {
      ready: ready('False', Reason.Interrupted, message),
      reconciling: { type: ConditionType.Reconciling, status: 'True', reason: Reason.Interrupted, message },
    },
    now,
    generation,
  );
  return { ...status, conditions };
}

/**
 * The run stopped at a safe point because the PowerEvent was deleted: terminal, nothing undone. Ready=False and
 * Stalled name the step it stopped before; the object is about to go, so this is for the watch and the audit trail
 * (the durable copy is the stop record, operator/stop-record.ts).
 */
export function stopped(
  status: PowerEventStatus,
  stop: { beforeStep: string; title: string; reason: string },
  facts: Facts,
): PowerEventStatus {
  const message = stopMessage(stop);
  const next = stalled({ ...status, phase: 'Running' }, Reason.Stopped, message, facts);
  return { ...next, phase: 'Failed', finishedAt: facts.now.toISOString() };
}

/** What a stop says, in the status, the Event and the log alike. */
export function stopMessage(stop: { beforeStep: string; title: string; reason: string }): string {
  return `Stopped before step ${stop.beforeStep} (${stop.title}): ${stop.reason}. Nothing was undone: the cluster stays as it is`;
}

/**
 * Every step but `step` (the power-off of the operator's own node) is done: the status a finished run would have,
 * written BEFORE that power-off is delivered, because it is the last status this operator writes. The step stays
 * `running` in progress (recorded before it acts); Ready's reason marks the status for the next operator, which
 * confirms the step without sending the power-off again ({@link ownNodeConfirmed}).
 */
export function lastWords(status: PowerEventStatus, step: PlanStep, facts: Facts): PowerEventStatus {
  const node = step.params.node ?? step.targets[0] ?? '';
  const message = `powering off ${node}, the operator's own node: this is the last status this operator writes; every other step is done`;
  let conditions = setCondition(
    status.conditions,
    { type: conditionOf(step.stage), status: 'True', reason: Reason.PoweringOffOwnNode, message },
    facts.now,
    facts.generation,
  );
  conditions = setKstatus(
    conditions,
    { ready: ready('True', Reason.PoweringOffOwnNode, message) },
    facts.now,
    facts.generation,
  );
  return withGeneration(
    { ...status, conditions, stage: step.stage, phase: 'Succeeded', finishedAt: facts.now.toISOString() },
    facts.generation,
  );
}

/** The last status an operator wrote before powering off its own node (see {@link lastWords}). */
export function ownNodePending(status: PowerEventStatus): boolean {
  const ready = status.conditions.find((c) => c.type === ConditionType.Ready);
  return status.phase === 'Succeeded' && ready?.reason === Reason.PoweringOffOwnNode;
}

/**
 * A restarted operator found {@link lastWords}: the own node's power-off step, recorded `running` with the node in
 * `outage.poweredOff`, is marked done; it is never sent again (the cluster may be back up by now).
 */
export function ownNodeConfirmed(status: PowerEventStatus, facts: Facts): PowerEventStatus {
  const now = facts.now.toISOString();
  const poweredOff = status.outage?.poweredOff ?? [];
  const planSteps = status.plan?.steps ?? [];
  const pending = planSteps.filter((s) => {
    const record = status.progress?.steps.find((r) => r.id === s.id);
    return record?.state === 'running' && poweredOff.includes(s.params.node ?? '');
  });
  const ids = new Set(pending.map((s) => s.id));
  const nodes = pending.map((s) => s.params.node ?? s.id).join(', ');
  const note = `recorded before the operator's own node lost power; not sent again`;
  const progress = status.progress && {
    ...status.progress,
    steps: status.progress.steps.map((r) =>
      ids.has(r.id) ? { ...r, state: 'done' as const, finishedAt: now, message: note } : r,
    ),
    finishedAt: status.progress.finishedAt ?? now,
    updatedAt: now,
  };
  const message = `${status.plan?.mode ?? 'plan'} finished: ${planSteps.length} step(s) done; ${nodes || "the operator's own node"} (the operator's own node) was powered off last, after the final status, and is not powered off again`;
  let conditions = status.conditions;
  for (const s of pending) {
    conditions = setCondition(
      conditions,
      { type: conditionOf(s.stage), status: 'True', reason: Reason.Succeeded, message: `${s.stage}: done` },
      facts.now,
      facts.generation,
    );
  }
  conditions = setKstatus(conditions, { ready: ready('True', Reason.Succeeded, message) }, facts.now, facts.generation);
  return { ...status, conditions, ...(progress ? { progress } : {}) };
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

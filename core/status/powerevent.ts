/**
 * PowerEvent status transitions: pure functions from (status, facts, now) to the next status, so every write the
 * reconciler makes keeps the kstatus invariants (core/status) and the tests can assert them without I/O.
 *
 * The root `observedGeneration` is set only when the generation is fully handled: rendered, finished, failed or
 * stalled. Waiting and running leave it at the previous value.
 */
import {
  ConditionReason,
  ConditionType,
  type OutageRecord,
  type PlanStep,
  type PowerEventStatus,
  type Progress,
  type RenderedPlan,
} from '../api/index.js';
import { STAGE_CONDITION, type Stage } from '../plan/index.js';
import { setCondition, setKstatus } from './conditions.js';
import { Reason } from './reasons.js';

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

/**
 * Another run is active: this one waits, and its conditions name it: another PowerEvent, or (`holder`) the
 * holder of the run Lease, such as a CLI run.
 */
export function waiting(
  status: PowerEventStatus,
  active: string,
  { generation, now }: Facts,
  holder?: string,
): PowerEventStatus {
  const reason = Reason.WaitingForActiveEvent;
  const message = holder
    ? `Waiting for ${holder} to finish: one run acts at a time (the run Lease ${active})`
    : `Waiting for PowerEvent ${active} to finish: one PowerEvent acts at a time`;
  const conditions = setKstatus(
    status.conditions,
    {
      ready: ready('False', reason, message),
      reconciling: { type: ConditionType.Reconciling, status: 'True', reason, message },
    },
    now,
    generation,
  );
  return { ...unobserved(status), conditions, phase: 'Waiting' };
}

/**
 * The PowerPlan changed since the running event started: the run keeps the spec it recorded (progress.planSpec), and
 * the PlanChanged condition says what differs until the event ends.
 */
export function planChanged(status: PowerEventStatus, message: string, { generation, now }: Facts): PowerEventStatus {
  const conditions = setCondition(
    status.conditions,
    { type: ConditionType.PlanChanged, status: 'True', reason: Reason.PlanChangedDuringEvent, message },
    now,
    generation,
  );
  return { ...status, conditions };
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
  return {
    ...unobserved(status),
    conditions,
    plan,
    phase: 'Running',
    startedAt: status.startedAt ?? now.toISOString(),
  };
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
 * (the durable copy is the stop record, adapters/kube/stop-records.ts).
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
 * The last status this operator writes (operator/reconcile/last-status.ts), BEFORE the first of `steps` (the
 * power-offs it announces, a suffix of the plan) is sent: the status a finished run would have, every step before
 * them done. Record before act: every announced node is added to `outage.poweredOff` and every announced step is
 * recorded `running` in this one write (a superset of the truth until the last power-off is sent), because no
 * later write may reach the API. Ready's reason marks the status for the next operator, which confirms the steps
 * without sending a power-off again ({@link lastStatusConfirmed}).
 *
 * - One step, the operator's own node: reason PoweringOffOwnNode.
 * - The control plane (two or more nodes; the operator's own node last): reason PoweringOffControlPlane, because the
 *   API loses its quorum on the way.
 */
export function lastWords(
  status: PowerEventStatus,
  steps: readonly PlanStep[],
  facts: Facts,
  selfNode?: string,
  /** The boot each announced node is on now (its kubelet's boot ID), recorded with it: the request is for that boot. */
  boots: Readonly<Record<string, string>> = {},
): PowerEventStatus {
  const first = steps[0];
  if (!first) return status;
  const now = facts.now.toISOString();
  const nodes = steps.map(nodeOf);
  const controlPlane = steps.filter((s) => s.params.role === 'control-plane').length >= 2;
  const reason = controlPlane ? Reason.PoweringOffControlPlane : Reason.PoweringOffOwnNode;
  const message = controlPlane
    ? `powering off the control plane: ${orderedList(nodes.map((n) => (n === selfNode ? `${n} (this operator's node)` : n)))}; the API loses quorum on the way, so this is the last status this operator writes`
    : `powering off ${nodes[0]}, the operator's own node: this is the last status this operator writes; every other step is done`;
  const poweredOff = status.outage?.poweredOff ?? [];
  const announcedBoots = Object.fromEntries(Object.entries(boots).filter(([n]) => nodes.includes(n)));
  const recordedBoots = { ...announcedBoots, ...status.outage?.poweredOffBoots };
  const outage = status.outage && {
    ...status.outage,
    poweredOff: [...poweredOff, ...nodes.filter((n) => !poweredOff.includes(n))],
    ...(Object.keys(recordedBoots).length > 0 ? { poweredOffBoots: recordedBoots } : {}),
  };
  const note = 'recorded in the last status this operator writes, before its power-off is sent';
  const records = status.progress?.steps ?? [];
  const announced = steps.flatMap((s) => {
    const record = records.find((r) => r.id === s.id);
    if (record && (record.state === 'done' || record.state === 'skipped')) return [];
    return [{ id: s.id, state: 'running' as const, startedAt: record?.startedAt ?? now, message: note }];
  });
  const ids = new Set(announced.map((r) => r.id));
  const progress = status.progress && {
    ...status.progress,
    steps: [...records.filter((r) => !ids.has(r.id)), ...announced],
    updatedAt: now,
  };
  let conditions = setCondition(
    status.conditions,
    { type: conditionOf(first.stage), status: 'True', reason, message },
    facts.now,
    facts.generation,
  );
  conditions = setKstatus(conditions, { ready: ready('True', reason, message) }, facts.now, facts.generation);
  return withGeneration(
    {
      ...status,
      conditions,
      ...(outage ? { outage } : {}),
      ...(progress ? { progress } : {}),
      stage: first.stage,
      phase: 'Succeeded',
      finishedAt: now,
    },
    facts.generation,
  );
}

/** The reasons of {@link lastWords}: a status written before power-offs it could not report. */
const LAST_STATUS_REASONS: readonly string[] = [Reason.PoweringOffOwnNode, Reason.PoweringOffControlPlane];

/** The last status an operator wrote before the power-offs it announced (see {@link lastWords}). */
export function lastStatusPending(status: PowerEventStatus): boolean {
  const ready = status.conditions.find((c) => c.type === ConditionType.Ready);
  return status.phase === 'Succeeded' && LAST_STATUS_REASONS.includes(ready?.reason ?? '');
}

/**
 * A restarted operator found {@link lastWords}: every announced power-off step, recorded `running` with its node in
 * `outage.poweredOff`, is marked done; none is sent again (the cluster may be back up by now).
 */
export function lastStatusConfirmed(status: PowerEventStatus, facts: Facts, selfNode?: string): PowerEventStatus {
  const now = facts.now.toISOString();
  const poweredOff = status.outage?.poweredOff ?? [];
  const planSteps = status.plan?.steps ?? [];
  const pending = planSteps.filter((s) => {
    const record = status.progress?.steps.find((r) => r.id === s.id);
    return record?.state === 'running' && poweredOff.includes(nodeOf(s));
  });
  const ids = new Set(pending.map((s) => s.id));
  const names = pending.map(nodeOf).map((n) => (n === selfNode ? `${n} (the operator's own node)` : n));
  const note = 'announced in the last status before it was sent; not sent again';
  const progress = status.progress && {
    ...status.progress,
    steps: status.progress.steps.map((r) =>
      ids.has(r.id) ? { ...r, state: 'done' as const, finishedAt: now, message: note } : r,
    ),
    finishedAt: status.progress.finishedAt ?? now,
    updatedAt: now,
  };
  const after =
    names.length === 0
      ? 'nothing was left to confirm'
      : `${orderedList(names)} ${names.length === 1 ? 'was' : 'were'} powered off after the final status, and ${names.length === 1 ? 'is' : 'are'} not powered off again`;
  const message = `${status.plan?.mode ?? 'plan'} finished: ${planSteps.length} step(s) done; ${after}`;
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

/** The node a power-off step acts on. */
function nodeOf(step: PlanStep): string {
  return step.params.node ?? step.targets[0] ?? step.id;
}

/** "a", "a then b", "a, b, then c": the order things happen in. */
function orderedList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')}, then ${items.at(-1)}`;
}

/** The condition a stage owns; unknown stages fall back to Reconciling's sibling Planned. */
export function conditionOf(stage: string): string {
  return STAGE_CONDITION[stage as Stage] ?? ConditionType.Planned;
}

function ready(status: 'True' | 'False', reason: string, message: string) {
  return { type: ConditionType.Ready, status, reason, message } as const;
}

/**
 * Work on the generation starts again (a stall it recovers from, such as a way back recorded since): it is no longer
 * the observed one until the work ends (kstatus: never observedGeneration == generation while Reconciling).
 */
function unobserved(status: PowerEventStatus): PowerEventStatus {
  const { observedGeneration: _handled, ...rest } = status;
  return rest;
}

function withGeneration(status: PowerEventStatus, generation: number | undefined): PowerEventStatus {
  return generation === undefined ? status : { ...status, observedGeneration: generation };
}

/** What the hecate CLI hands back after a cold boot (cli/run/handoff.ts). */
export interface HandOffStatusInput {
  progress: Progress;
  outage: OutageRecord;
  /** The plan the CLI ran; recorded in status.plan so the operator resumes exactly it. */
  plan?: RenderedPlan;
  now: Date;
}

/**
 * The status the operator resumes from: Running, the CLI's plan and progress (not finished), the outage record, one
 * condition per stage the CLI finished, and the kstatus pair saying the run is in progress. Pure.
 */
export function handedOff(
  current: PowerEventStatus,
  input: HandOffStatusInput,
  generation: number | undefined,
): PowerEventStatus {
  const now = input.now;
  const { finishedAt: _finished, ...progress } = input.progress;
  const finished = new Set(progress.steps.filter((s) => s.state === 'done' || s.state === 'skipped').map((s) => s.id));
  const steps = input.plan?.steps ?? [];
  const message = `Handed off by the hecate CLI after a cold boot: ${finished.size} step(s) done${
    steps.length > 0 ? ` of ${steps.length}` : ''
  }; the operator finishes the rest`;
  let conditions = setKstatus(
    [],
    {
      ready: { type: ConditionType.Ready, status: 'False', reason: ConditionReason.Progressing, message },
      reconciling: { type: ConditionType.Reconciling, status: 'True', reason: ConditionReason.Progressing, message },
    },
    now,
    generation,
  );
  const stages = [...new Set(steps.map((s) => s.stage))];
  for (const stage of stages) {
    const type = STAGE_CONDITION[stage as Stage] ?? ConditionType.Planned;
    const all = steps.filter((s) => (STAGE_CONDITION[s.stage as Stage] ?? ConditionType.Planned) === type);
    if (!all.every((s) => finished.has(s.id))) continue;
    const text = `${stage}: done by the hecate CLI`;
    conditions = setCondition(
      conditions,
      { type, status: 'True', reason: ConditionReason.Succeeded, message: text },
      now,
      generation,
    );
  }
  const last = [...progress.steps].reverse().find((s) => finished.has(s.id));
  const stage = steps.find((s) => s.id === last?.id)?.stage;
  return {
    ...(current.observedGeneration !== undefined && current.observedGeneration < (generation ?? 0)
      ? { observedGeneration: current.observedGeneration }
      : {}),
    phase: 'Running',
    ...(stage ? { stage } : {}),
    conditions,
    ...(input.plan ? { plan: { ...input.plan, execute: true } } : {}),
    progress: { ...progress, updatedAt: now.toISOString() },
    outage: input.outage,
    startedAt: progress.startedAt,
  };
}

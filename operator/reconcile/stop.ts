/**
 * Deleting an active PowerEvent stops it at the next safe point: steps in flight finish, no new
 * step starts, nothing is undone. A finalizer holds the object while it runs, so the stop can be recorded: an Event
 * on the PowerEvent, a log line naming the step, and a stop record that outlives the object (it holds the outage
 * record: what this shutdown suspended, cordoned and powered off, which startup needs).
 */
import type { PowerEvent, PowerEventStatus, StopRecord } from '../../core/api/index.js';
import { stopMessage } from '../../core/status/powerevent.js';
import { Reason } from '../../core/status/reasons.js';
import { emit, isBeingDeleted } from './context.js';
import type { PowerEventReconcilerDeps } from './deps.js';

/** On executing PowerEvents from the run's start until it ends (done, failed, or stopped and recorded). */
export const STOP_FINALIZER = 'power.hecate.dev/stop-at-safe-point';
export const DELETED_REASON = 'PowerEvent deleted';

export function hasStopFinalizer(raw: unknown): boolean {
  const finalizers = (raw as { metadata?: { finalizers?: unknown } } | undefined)?.metadata?.finalizers;
  return Array.isArray(finalizers) && finalizers.includes(STOP_FINALIZER);
}

/**
 * Where a deleted event's run stopped: the runner's `progress.stopped` when it stopped this run, else (deleted while
 * no run held it: an operator restart) the first step not finished. Undefined when it never ran or had finished.
 */
export function stopOf(
  status: PowerEventStatus,
  now: Date,
): { beforeStep: string; title: string; at: string; reason: string } | undefined {
  const plan = status.plan;
  if (!plan?.execute || !status.progress) return undefined;
  const titleOf = (id: string) => plan.steps.find((s) => s.id === id)?.title ?? id;
  const recorded = status.progress.stopped;
  if (recorded) return { ...recorded, title: titleOf(recorded.beforeStep) };
  if (status.phase !== 'Running' || status.progress.finishedAt) return undefined;
  const finished = new Set(
    status.progress.steps.filter((r) => r.state === 'done' || r.state === 'skipped').map((r) => r.id),
  );
  const next = plan.steps.find((s) => !finished.has(s.id));
  if (!next) return undefined;
  return { beforeStep: next.id, title: next.title, at: now.toISOString(), reason: DELETED_REASON };
}

/** Steps finished, in plan order. */
export function doneSteps(status: PowerEventStatus): string[] {
  const finished = new Set(
    (status.progress?.steps ?? []).filter((r) => r.state === 'done' || r.state === 'skipped').map((r) => r.id),
  );
  return (status.plan?.steps ?? []).filter((s) => finished.has(s.id)).map((s) => s.id);
}

/** Stops a run at its next safe point when its event is gone from the cache or being deleted. */
export function stopIfDeleted(stop: AbortController, raw: unknown): void {
  if (stop.signal.aborted) return;
  if (!raw || isBeingDeleted(raw)) stop.abort(DELETED_REASON);
}

/**
 * Where a deleted event stopped, in three places: a Warning Event on it, a log line naming the step, and the stop
 * record (with the outage record) that outlives it. Nothing is recorded for an event that never ran or finished.
 */
export async function saveStopRecord(
  deps: PowerEventReconcilerDeps,
  key: string,
  event: PowerEvent,
  status: PowerEventStatus,
): Promise<void> {
  const stop = stopOf(status, deps.clock.now());
  if (!stop) return;
  const record: StopRecord = {
    powerEvent: {
      namespace: event.metadata.namespace ?? '',
      name: event.metadata.name ?? '',
      uid: event.metadata.uid ?? '',
    },
    action: event.spec.action,
    planName: event.spec.planRef.name,
    stopped: stop,
    done: doneSteps(status),
    ...(status.outage ? { outage: status.outage } : {}),
    ...(status.progress ? { progress: status.progress } : {}),
  };
  const where = (await deps.stopRecords?.save(record)) ?? 'nowhere (no stop record store)';
  const message = `${stopMessage(stop)}; the outage record is kept in ${where}`;
  emit(deps.recorder, event, 'Warning', Reason.Stopped, message);
  await deps.recorder.flush();
  deps.logger.warn('PowerEvent deleted: stopped at a safe point', {
    powerEvent: key,
    step: stop.beforeStep,
    lastDone: record.done.at(-1),
    reason: stop.reason,
    record: where,
  });
}

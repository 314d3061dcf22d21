/**
 * One executing PowerEvent's run, once the reconciler has claimed it: the finalizer goes on before the first write,
 * status says Running, and every runner event becomes a stage condition, a Kubernetes Event, a metric and a log
 * line. The run ends Succeeded, Failed (a step's fault: stalled), stopped at a safe point (the event was deleted:
 * ./stop.ts records it), or interrupted (the operator stops: it stays Running, to be resumed). Any other error is
 * not a step's fault (the API, a status write) and is thrown, to be retried with backoff.
 */
import { isApiUnavailable } from '../../adapters/kube/errors.js';
import type { PowerEvent, PowerPlanSpec, RenderedPlan } from '../../core/api/index.js';
import { RunStoppedError, StepFailedError } from '../../core/run/errors.js';
import { type RunEvent, runPlan } from '../../core/run/runner.js';
import * as next from '../../core/status/powerevent.js';
import { Reason } from '../../core/status/reasons.js';
import type { EventType } from '../runtime/events.js';
import { Outcome } from '../runtime/outcome.js';
import { emit, factsOf, isBeingDeleted, liveEvent } from './context.js';
import type { ExecutorWiring, PowerEventReconcilerDeps } from './deps.js';
import { type SealableStore, withLastStatus } from './last-status.js';
import { endedBeforeRestart } from './plan.js';
import { hasStopFinalizer } from './stop.js';

/** What the reconciler hands a run. */
export interface EventRun {
  key: string;
  event: PowerEvent;
  store: SealableStore;
  plan: RenderedPlan;
  wiring: ExecutorWiring;
  /** The PowerPlan spec the run acts from: recorded with a new run's progress, kept by a resumed one. */
  planSpec: PowerPlanSpec;
  /** Set when the PowerPlan changed since the run started: what differs (the run keeps its recorded spec). */
  planChanged?: string;
  /** Aborted when the event is seen deleted: the run stops at its next safe point. */
  stop: AbortSignal;
  /** Looks for a deletion in the cache again: one seen before the finalizer was on did not stop the run. */
  noticeDeletion(): void;
  /** Uids of events whose last status is written (./last-status.ts): this process writes no more for them. */
  silenced: Pick<Set<string>, 'add' | 'delete'>;
}

export async function runEvent(deps: PowerEventReconcilerDeps, run: EventRun): Promise<Outcome> {
  const { key, event, store, plan, wiring } = run;
  const facts = () => factsOf(deps.clock, event);
  const log = deps.logger;
  const signal = unlessSealed(deps.signal, store);
  const stop = unlessSealed(run.stop, store);
  try {
    // NOTE: before the first write of the run: a deletion from here on waits for the stop to be recorded
    await deps.finalizer?.add(liveEvent(deps.events, event));
    run.noticeDeletion();
    const ended = endedBeforeRestart(store.current, plan);
    await store.update((s) => next.running(s, plan, facts()));
    if (run.planChanged) {
      const message = run.planChanged;
      await store.update((s) => next.planChanged(s, message, facts()));
      emit(deps.recorder, event, 'Warning', Reason.PlanChangedDuringEvent, message);
      log.warn('The PowerPlan changed during the event; keeping the spec the run started with', {
        powerEvent: key,
        message,
      });
    }
    deps.metrics?.phase(key, 'Running');
    const started = new Map<string, number>();
    if (ended) {
      log.info('The run had ended before this process took it over; recording its end', { powerEvent: key });
    } else {
      log.info('Running the plan', { powerEvent: key, mode: plan.mode, steps: plan.steps.length });
      await runPlan({
        plan,
        action: event.spec.action,
        executors: withLastStatus(deps, run),
        ...(wiring.guard ? { guard: wiring.guard } : {}),
        planSpec: run.planSpec,
        store,
        clock: deps.clock,
        logger: log,
        // NOTE: once the last status is written, the power-offs it announced are delivered whatever happens to the
        // process (lease lost, SIGTERM) or the event (deleted): the status already says they were sent
        signal: signal.signal,
        stop: stop.signal,
        onEvent: (e) => onRunEvent(deps, key, event, store, e, started),
      });
    }
    await store.update((s) => next.succeeded(s, facts()));
    deps.metrics?.phase(key, 'Succeeded');
    if (!store.isSealed) emit(deps.recorder, event, 'Normal', Reason.Succeeded, `${plan.mode} finished`);
    log.info('Finished the plan', { powerEvent: key, mode: plan.mode, afterLastStatus: store.isSealed });
    await releaseFinalizer(deps, event, store);
    return Outcome.done();
  } catch (error) {
    if (signal.signal.aborted) {
      await store.update((s) => next.interrupted(s, facts())).catch(() => undefined);
      return Outcome.done();
    }
    if (error instanceof RunStoppedError) {
      // the deletion is recorded and the finalizer removed by the next reconcile of the deleted object
      const { beforeStep, reason } = error;
      await store.update((s) =>
        next.stopped(s, { beforeStep: beforeStep.id, title: beforeStep.title, reason }, facts()),
      );
      deps.metrics?.phase(key, 'Failed');
      log.warn('Stopped at a safe point', { powerEvent: key, step: beforeStep.id, reason });
      return Outcome.done();
    }
    const failure = stepFailure(error);
    if (!failure) throw error; // not a step's fault (the API, the status write): retried with backoff
    if (isApiUnavailable(failure.cause)) {
      // NOTE: what a CLI user does after exit 1 (rerun): the event stays Running and the retry, with backoff,
      // resumes its recorded progress at this step once the API server answers again
      log.warn('The API server was unavailable to a step; resuming from the record when it answers', {
        powerEvent: key,
        step: failure.step.id,
        error: failure.message,
      });
      return Outcome.retry(failure);
    }
    await store.update((s) => next.failed(s, failure.step, failure, facts()));
    deps.metrics?.phase(key, 'Failed');
    await releaseFinalizer(deps, event, store);
    return Outcome.stalled(failure.message);
  } finally {
    signal.dispose();
    stop.dispose();
  }
}

/** The run ended (not stopped by a deletion): a finished event never blocks its deletion. */
async function releaseFinalizer(deps: PowerEventReconcilerDeps, event: PowerEvent, store: SealableStore) {
  if (store.isSealed) return; // released before the last status
  const raw = liveEvent(deps.events, event);
  if (!deps.finalizer || !hasStopFinalizer(raw)) return;
  if (isBeingDeleted(raw)) return; // recorded on delete
  await deps.finalizer.release(raw);
}

/** A runner event mirrored into status (stage conditions), Kubernetes Events, metrics and the log. */
function onRunEvent(
  deps: PowerEventReconcilerDeps,
  key: string,
  event: PowerEvent,
  store: SealableStore,
  e: RunEvent,
  started: Map<string, number>,
): void {
  const facts = factsOf(deps.clock, event);
  const log = deps.logger;
  // after the last status, no Event either: it would be a write to an API that may have lost its quorum
  const record = (type: EventType, reason: string, message: string) => {
    if (!store.isSealed) emit(deps.recorder, event, type, reason, message);
  };
  if (e.type === 'start') {
    started.set(e.step.id, deps.clock.now().getTime());
    store.note((s) => next.stageProgress(s, e.step, facts));
    record('Normal', 'StepStarted', e.step.title);
    log.info('Step started', { powerEvent: key, step: e.step.id, stage: e.step.stage });
  } else if (e.type === 'done' || e.type === 'already-done' || e.type === 'skipped') {
    const since = started.get(e.step.id);
    if (since !== undefined) {
      deps.metrics?.stageFinished(e.step.stage, (deps.clock.now().getTime() - since) / 1000);
    }
    store.note((s) => next.stageDone(s, e.step, facts));
    if (e.type === 'done') record('Normal', 'StepFinished', e.step.title);
    log.info('Step finished', { powerEvent: key, step: e.step.id, result: e.type });
  } else if (e.type === 'failed') {
    if (deps.signal.aborted) return;
    record('Warning', Reason.StepFailed, e.error.message);
    log.error('Step failed', { powerEvent: key, step: e.step.id, error: e.error.message });
  } else if (e.type === 'report') {
    log.info(e.message, { powerEvent: key, step: e.step.id });
  }
}

/**
 * A signal that follows `source` while the last status is not written; once it is, the process stopping or the
 * event being deleted no longer stops the run (a stop that came before the seal still counts).
 */
export function unlessSealed(
  source: AbortSignal,
  store: Pick<SealableStore, 'isSealed'>,
): { signal: AbortSignal; dispose(): void } {
  const out = new AbortController();
  const follow = () => {
    if (!store.isSealed) out.abort(source.reason);
  };
  if (source.aborted) follow();
  else source.addEventListener('abort', follow, { once: true });
  return { signal: out.signal, dispose: () => source.removeEventListener('abort', follow) };
}

/** The first step failure in what runPlan threw (parallel batches throw an AggregateError). */
function stepFailure(error: unknown): StepFailedError | undefined {
  if (error instanceof StepFailedError) return error;
  if (error instanceof AggregateError) return error.errors.find((e) => e instanceof StepFailedError);
  return undefined;
}

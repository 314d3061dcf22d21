/**
 * The PowerEvent reconciler (STYLE.md points 1–11): level-based, `reconcile(key) → Outcome`, reading the whole
 * current state from the informer caches every time.
 *
 * - Dry-run (`spec.execute: false`, the default): compile the plan from the referenced PowerPlan and what the
 *   cluster looks like, record it in `status.plan`, Ready=True. Reads only; the one write is its own status.
 * - Execute: one PowerEvent acts at a time. The active one is the one this process has claimed or, after a
 *   restart, the one whose status says Running; others wait with conditions naming it. Before anything is touched
 *   every step kind of the plan must have an executor, else the event stalls naming the missing kinds.
 * - A generation that is fully handled (rendered, finished, failed) is not looked at again.
 * - Deleting the running event stops it at the next safe point (./stop.ts): a finalizer holds the object until the
 *   stop is recorded; nothing is undone.
 * - The operator's own node (`selfNode`) is powered off last, after the last status this process writes
 *   (./own-node.ts); a restarted operator confirms that step and never sends it again.
 */
import {
  type Action,
  API_VERSION,
  ConditionType,
  type PlanMode,
  type PowerEvent,
  type PowerEventStatus,
  type PowerPlanSpec,
  powerEvent,
  powerPlan,
  type RenderedPlan,
  toIssues,
} from '../../core/api/index.js';
import { type CompileInput, compilePlan, type Observed, type ResolvedPaths } from '../../core/plan/index.js';
import type { Clock, Logger, ProgressStore } from '../../core/ports.js';
import { RunStoppedError, StepFailedError } from '../../core/run/errors.js';
import type { Executors, GuardEvaluator } from '../../core/run/executor.js';
import { missingExecutors, type RunEvent, runPlan } from '../../core/run/runner.js';
import { getCondition } from '../../core/status/conditions.js';
import { Reason } from '../../core/status/reasons.js';
import type { EventRecorder, EventType, InvolvedObject } from '../events.js';
import { Outcome } from '../runtime/outcome.js';
import * as next from '../status.js';
import { ownNodeStep, SealableStore, withLastWords } from './own-node.js';
import { DELETED_REASON, doneSteps, hasStopFinalizer, type StopFinalizer, type StopRecords, stopOf } from './stop.js';

/** What the executors need to know about the plan; the composition root turns it into adapters. */
export interface ExecutorWiring {
  executors: Executors;
  guard?: GuardEvaluator;
  /** Releases what the executors hold (the UPS connection); called once the run ends. */
  close?(): Promise<void>;
}

/** The one way the operator gets executors: passed in at the composition root (operator/main.ts). */
export type ExecutorFactory = (plan: { name: string; spec: PowerPlanSpec; mode: PlanMode }) => ExecutorWiring;

/** One PowerEvent's status: the runner's progress store, and the reconciler's single place to write status. */
export interface StatusStore extends ProgressStore {
  readonly current: PowerEventStatus;
  update(change: (status: PowerEventStatus) => PowerEventStatus): Promise<void>;
}

export interface ReconcileMetrics {
  stageFinished(stage: string, seconds: number): void;
  phase(key: string, phase: string | undefined): void;
}

export interface PowerEventReconcilerDeps {
  /** PowerEvents from the informer cache, as the API returned them. */
  events: { get(namespace: string, name: string): unknown; list(): readonly unknown[] };
  /** Cluster-scoped PowerPlans from the informer cache. */
  plans: { get(name: string): unknown };
  observe(spec: PowerPlanSpec): Promise<Observed>;
  executors: ExecutorFactory;
  openStatus(ref: { namespace: string; name: string }, current: PowerEventStatus): StatusStore;
  recorder: EventRecorder;
  clock: Clock;
  logger: Logger;
  /** Aborted when the operator stops: a running plan stops and stays Running, to be resumed. */
  signal: AbortSignal;
  /** Called when an event stops being active, so that waiting events are looked at again. */
  onActiveReleased?(): void;
  metrics?: ReconcileMetrics;
  /** How often a waiting event looks again even without a change (default 30 s). */
  waitRequeueMs?: number;
  /** The plan's paths as the executors resolve them (default: as written in the PowerPlan). */
  paths?(spec: PowerPlanSpec): ResolvedPaths;
  /** The node this operator runs on (downward API): compiled into plans as `selfNode`, powered off last. */
  selfNode?: string | undefined;
  /** Holds an executing PowerEvent while it runs, so that its deletion can stop it and be recorded. */
  finalizer?: StopFinalizer;
  /** Keeps where a deleted event stopped (and its outage record) once the object is gone. */
  stopRecords?: StopRecords;
}

const MODE_OF: Record<Action, PlanMode> = {
  prepare: 'prepare',
  shutdown: 'shutdown',
  startup: 'startup',
  'harbor-seed': 'harbor-seed',
};

const DEFAULT_STATE_FILE = '~/.local/state/cluster_power_recovery.state';

export class PowerEventReconciler {
  /** Keys of events this process is running; checked and set without an await in between. */
  private readonly claims = new Set<string>();
  /**
   * The status this process last wrote, per key and uid. NOTE: this process is the only writer of status, so it is
   * never older than the cache; a key re-run right after a long run (its own writes marked it dirty) may still see
   * an older status in the cache, and must not run a finished plan again.
   */
  private readonly written = new Map<string, { uid: string; status: PowerEventStatus }>();
  /** Per running key: aborted when the event is seen deleted, so the run stops at its next safe point. */
  private readonly stops = new Map<string, AbortController>();
  /** Uids of events whose last status this process wrote before powering off its own node: it writes no more. */
  private readonly silenced = new Set<string>();

  constructor(private readonly deps: PowerEventReconcilerDeps) {}

  async reconcile(key: string): Promise<Outcome> {
    const [namespace = '', name = ''] = key.split('/');
    const raw = this.deps.events.get(namespace, name);
    if (!raw) return this.forget(key);
    const parsed = powerEvent.safeParse(raw);
    const log = this.deps.logger;
    if (!parsed.success) {
      const issues = toIssues(parsed.error).map((i) => `${i.path}: ${i.message}`);
      log.error('PowerEvent does not match the schema', { powerEvent: key, issues });
      return Outcome.stalled(`invalid PowerEvent: ${issues.join('; ')}`);
    }
    const event = parsed.data;
    const uid = event.metadata.uid ?? '';
    if (this.silenced.has(uid)) return Outcome.done();
    const mine = this.written.get(key);
    const cached = event.status ?? { conditions: [] };
    const status = mine?.uid === uid && !handedOffSince(cached, mine.status) ? mine.status : cached;
    if (event.metadata.deletionTimestamp) return this.deleted(key, raw, event, status);
    const store = new SealableStore(this.deps.openStatus({ namespace, name }, status));
    try {
      if (next.ownNodePending(status)) return await this.confirmOwnNode(key, raw, event, store);
      if (this.handled({ ...event, status })) return Outcome.done();
      return await this.reconcileEvent(key, event, store);
    } finally {
      this.written.set(key, { uid, status: store.current });
    }
  }

  /**
   * An informer saw `key` change. NOTE: the one check not made through the queue: a running event holds its key
   * until the run ends, so its deletion is noticed here, from the cache, and stops the run at its next safe point.
   */
  noticeDeletion(key: string): void {
    const stop = this.stops.get(key);
    if (!stop || stop.signal.aborted) return;
    const [namespace = '', name = ''] = key.split('/');
    const raw = this.deps.events.get(namespace, name) as { metadata?: { deletionTimestamp?: unknown } } | undefined;
    if (!raw || raw.metadata?.deletionTimestamp) stop.abort(DELETED_REASON);
  }

  /** Being deleted: a run this process holds stops; a stopped run is recorded; then the finalizer goes. */
  private async deleted(key: string, raw: unknown, event: PowerEvent, status: PowerEventStatus): Promise<Outcome> {
    const stop = this.stops.get(key);
    if (stop) {
      stop.abort(DELETED_REASON); // NOTE: the queue runs a key once at a time; kept for a direct caller
      return Outcome.requeueAfter(1_000);
    }
    if (this.deps.finalizer && hasStopFinalizer(raw)) {
      await this.deps.finalizer.release(raw, () => this.recordStop(key, event, status));
    }
    return this.forget(key);
  }

  /**
   * Where a deleted event stopped, in three places: a Warning Event on it, a log line naming the step, and the stop
   * record (with the outage record) that outlives it. Nothing is recorded for an event that never ran or finished.
   */
  private async recordStop(key: string, event: PowerEvent, status: PowerEventStatus): Promise<void> {
    const stop = stopOf(status, this.deps.clock.now());
    if (!stop) return;
    const record = {
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
    const where = (await this.deps.stopRecords?.save(record)) ?? 'nowhere (no stop record store)';
    const message = `${next.stopMessage(stop)}; the outage record is kept in ${where}`;
    this.emit(event, 'Warning', Reason.Stopped, message);
    await this.deps.recorder.flush();
    this.deps.logger.warn('PowerEvent deleted: stopped at a safe point', {
      powerEvent: key,
      step: stop.beforeStep,
      lastDone: record.done.at(-1),
      reason: stop.reason,
      record: where,
    });
  }

  /** The last status said the own node was being powered off: that step is done, and is never sent again. */
  private async confirmOwnNode(key: string, raw: unknown, event: PowerEvent, store: StatusStore): Promise<Outcome> {
    await store.update((s) => next.ownNodeConfirmed(s, this.facts(event)));
    if (this.deps.finalizer && hasStopFinalizer(raw)) await this.deps.finalizer.release(raw);
    this.deps.metrics?.phase(key, 'Succeeded');
    const ready = getCondition(store.current.conditions, ConditionType.Ready);
    this.emit(event, 'Normal', Reason.Succeeded, ready?.message ?? 'finished');
    this.deps.logger.info("Confirmed the power-off of the operator's own node; not sending it again", {
      powerEvent: key,
      poweredOff: store.current.outage?.poweredOff,
    });
    return Outcome.done();
  }

  private async reconcileEvent(key: string, event: PowerEvent, store: SealableStore): Promise<Outcome> {
    const facts = this.facts(event);
    const planName = event.spec.planRef.name;
    const rawPlan = this.deps.plans.get(planName);
    if (!rawPlan) {
      const message = `PowerPlan "${planName}" not found: create it, or point spec.planRef.name at an existing PowerPlan`;
      return this.stall(event, store, Reason.PlanNotFound, message);
    }
    const plan = powerPlan.safeParse(rawPlan, { reportInput: true });
    if (!plan.success) {
      const issues = toIssues(plan.error).map((i) => `${i.path || '(root)'}: ${i.message}`);
      const message = `PowerPlan "${planName}" is invalid: ${issues.join('; ')}`;
      return this.stall(event, store, Reason.InvalidPlan, message);
    }
    const spec = plan.data.spec;
    if (!event.spec.execute) {
      const rendered = compilePlan(MODE_OF[event.spec.action], await this.compileInput(event, planName, spec));
      const before = getCondition(store.current.conditions, ConditionType.Ready);
      await store.update((s) => next.rendered(s, rendered, facts));
      if (before?.reason !== Reason.DryRun) {
        this.emit(event, 'Normal', Reason.DryRun, `Plan rendered: ${rendered.steps.length} step(s)`);
      }
      this.deps.logger.info('Rendered the plan', { powerEvent: key, steps: rendered.steps.length, dryRun: true });
      return Outcome.done();
    }
    return this.execute(key, event, store, { name: planName, spec });
  }

  private async execute(
    key: string,
    event: PowerEvent,
    store: SealableStore,
    plan: { name: string; spec: PowerPlanSpec },
  ): Promise<Outcome> {
    const facts = this.facts(event);
    const active = this.activeOther(key);
    if (active) {
      const was = store.current.phase;
      await store.update((s) => next.waiting(s, active, facts));
      if (was !== 'Waiting') {
        this.emit(event, 'Normal', Reason.WaitingForActiveEvent, `Waiting for PowerEvent ${active}`);
      }
      return Outcome.requeueAfter(this.deps.waitRequeueMs ?? 30_000);
    }
    const rendered = await this.planFor(event, store, plan);
    const wiring = this.deps.executors({ ...plan, mode: rendered.mode });
    try {
      const missing = missingExecutors(rendered, wiring.executors);
      if (missing.length > 0) {
        const message = `No executor in this build for step kind(s) ${missing.join(', ')}: nothing was changed; the plan in status.plan is what it would do`;
        return await this.stall(event, store, Reason.ExecutorMissing, message, rendered);
      }
      if (this.activeOther(key)) return Outcome.requeueAfter(0); // claimed by another key during the awaits above
      this.claims.add(key);
      try {
        return await this.run(key, event, store, rendered, wiring);
      } finally {
        this.claims.delete(key);
        this.deps.onActiveReleased?.();
      }
    } finally {
      await wiring.close?.().catch(() => undefined);
    }
  }

  private async run(
    key: string,
    event: PowerEvent,
    store: SealableStore,
    plan: RenderedPlan,
    wiring: ExecutorWiring,
  ): Promise<Outcome> {
    const facts = () => this.facts(event);
    const log = this.deps.logger;
    const stop = new AbortController();
    this.stops.set(key, stop);
    try {
      // NOTE: before the first write of the run: a deletion from here on waits for the stop to be recorded
      await this.deps.finalizer?.add(this.live(event));
      this.noticeDeletion(key);
      await store.update((s) => next.running(s, plan, facts()));
      this.deps.metrics?.phase(key, 'Running');
      log.info('Running the plan', { powerEvent: key, mode: plan.mode, steps: plan.steps.length });
      const started = new Map<string, number>();
      await runPlan({
        plan,
        action: event.spec.action,
        executors: this.ownNodeLast(key, event, store, plan, wiring.executors),
        ...(wiring.guard ? { guard: wiring.guard } : {}),
        store,
        clock: this.deps.clock,
        logger: log,
        signal: this.deps.signal,
        stop: stop.signal,
        onEvent: (e) => this.onRunEvent(key, event, store, e, started),
      });
      await store.update((s) => next.succeeded(s, facts()));
      this.deps.metrics?.phase(key, 'Succeeded');
      this.emit(event, 'Normal', Reason.Succeeded, `${plan.mode} finished`);
      log.info('Finished the plan', { powerEvent: key, mode: plan.mode });
      await this.releaseFinalizer(event, store);
      return Outcome.done();
    } catch (error) {
      if (this.deps.signal.aborted) {
        await store.update((s) => next.interrupted(s, facts())).catch(() => undefined);
        return Outcome.done();
      }
      if (error instanceof RunStoppedError) {
        // the deletion is recorded and the finalizer removed by the next reconcile of the deleted object
        const { beforeStep, reason } = error;
        await store.update((s) =>
          next.stopped(s, { beforeStep: beforeStep.id, title: beforeStep.title, reason }, facts()),
        );
        this.deps.metrics?.phase(key, 'Failed');
        log.warn('Stopped at a safe point', { powerEvent: key, step: beforeStep.id, reason });
        return Outcome.done();
      }
      const failure = stepFailure(error);
      if (!failure) throw error; // not a step's fault (the API, the status write): retried with backoff
      await store.update((s) => next.failed(s, failure.step, failure, facts()));
      this.deps.metrics?.phase(key, 'Failed');
      await this.releaseFinalizer(event, store);
      return Outcome.stalled(failure.message);
    } finally {
      this.stops.delete(key);
    }
  }

  /** The run ended (not stopped by a deletion): a finished event never blocks its deletion. */
  private async releaseFinalizer(event: PowerEvent, store: SealableStore): Promise<void> {
    if (store.isSealed) return; // released before the last status
    const raw = this.live(event);
    if (!this.deps.finalizer || !hasStopFinalizer(raw)) return;
    if ((raw as { metadata?: { deletionTimestamp?: unknown } }).metadata?.deletionTimestamp) return; // recorded on delete
    await this.deps.finalizer.release(raw);
  }

  /** The event as the cache holds it now (metadata for the finalizer), else as parsed. */
  private live(event: PowerEvent): unknown {
    return this.deps.events.get(event.metadata.namespace ?? '', event.metadata.name ?? '') ?? event;
  }

  /**
   * When the plan ends with the power-off of this operator's own node: the finalizer goes, the last status is
   * written and the store sealed between the record of that node and the delivery (./own-node.ts).
   */
  private ownNodeLast(
    key: string,
    event: PowerEvent,
    store: SealableStore,
    plan: RenderedPlan,
    executors: Executors,
  ): Executors {
    const step = ownNodeStep(plan, this.deps.selfNode);
    if (!step) return executors;
    const uid = event.metadata.uid ?? '';
    const lastWords = async () => {
      const raw = this.live(event);
      if (this.deps.finalizer && hasStopFinalizer(raw)) await this.deps.finalizer.release(raw);
      await store.update((s) => next.lastWords(s, step, this.facts(event)));
      store.seal();
      this.silenced.add(uid);
      this.deps.logger.info("Wrote the last status; powering off the operator's own node", {
        powerEvent: key,
        step: step.id,
        node: this.deps.selfNode,
      });
    };
    const retract = () => {
      store.unseal();
      this.silenced.delete(uid);
    };
    return withLastWords(executors, step, lastWords, retract);
  }

  private onRunEvent(
    key: string,
    event: PowerEvent,
    store: StatusStore,
    e: RunEvent,
    started: Map<string, number>,
  ): void {
    const facts = this.facts(event);
    const log = this.deps.logger;
    if (e.type === 'start') {
      started.set(e.step.id, this.deps.clock.now().getTime());
      void store.update((s) => next.stageProgress(s, e.step, facts)).catch(() => undefined);
      this.emit(event, 'Normal', 'StepStarted', e.step.title);
      log.info('Step started', { powerEvent: key, step: e.step.id, stage: e.step.stage });
    } else if (e.type === 'done' || e.type === 'already-done' || e.type === 'skipped') {
      const since = started.get(e.step.id);
      if (since !== undefined) {
        this.deps.metrics?.stageFinished(e.step.stage, (this.deps.clock.now().getTime() - since) / 1000);
      }
      void store.update((s) => next.stageDone(s, e.step, facts)).catch(() => undefined);
      if (e.type === 'done') this.emit(event, 'Normal', 'StepFinished', e.step.title);
      log.info('Step finished', { powerEvent: key, step: e.step.id, result: e.type });
    } else if (e.type === 'failed') {
      if (this.deps.signal.aborted) return;
      this.emit(event, 'Warning', Reason.StepFailed, e.error.message);
      log.error('Step failed', { powerEvent: key, step: e.step.id, error: e.error.message });
    } else if (e.type === 'report') {
      log.info(e.message, { powerEvent: key, step: e.step.id });
    }
  }

  /** A plan to run: the one in status when this run resumes it, else freshly compiled. */
  private async planFor(
    event: PowerEvent,
    store: SealableStore,
    plan: { name: string; spec: PowerPlanSpec },
  ): Promise<RenderedPlan> {
    const status = store.current;
    const mode = MODE_OF[event.spec.action];
    const resumable = status.phase === 'Running' && status.plan?.mode === mode && status.plan.execute;
    if (resumable && status.plan) return status.plan;
    return compilePlan(mode, await this.compileInput(event, plan.name, plan.spec));
  }

  private async compileInput(event: PowerEvent, planName: string, spec: PowerPlanSpec): Promise<CompileInput> {
    const outage = event.status?.outage;
    const bundle = spec.harbor
      ? (spec.harbor.bundlePath ??
        `~/.local/share/hecate/bundles/harbor-bootstrap-${spec.harbor.version}-${spec.harbor.arch}.tar.zst`)
      : undefined;
    return {
      planName,
      spec,
      execute: event.spec.execute,
      paths: this.deps.paths?.(spec) ?? {
        repoSnapshot: spec.repoSnapshot,
        stateFile: spec.stateFile ?? DEFAULT_STATE_FILE,
        ...(bundle ? { harborBundle: bundle } : {}),
      },
      observed: await this.deps.observe(spec),
      ...(outage ? { outage } : {}),
      ...(event.spec.ignoreUps ? { ignoreUps: true } : {}),
      ...(this.deps.selfNode ? { selfNode: this.deps.selfNode } : {}),
    };
  }

  private async stall(
    event: PowerEvent,
    store: SealableStore,
    reason: string,
    message: string,
    plan?: RenderedPlan,
  ): Promise<Outcome> {
    const before = getCondition(store.current.conditions, ConditionType.Stalled);
    await store.update((s) => next.stalled(s, reason, message, this.facts(event), plan));
    if (before?.reason !== reason || before.message !== message) this.emit(event, 'Warning', reason, message);
    this.deps.logger.warn('PowerEvent stalled', { powerEvent: keyOf(event), reason, message });
    return Outcome.stalled(message);
  }

  /** The generation needs no more work: rendered (dry-run), finished or failed (execute). */
  private handled(event: PowerEvent): boolean {
    const status = event.status;
    if (!status || status.observedGeneration !== event.metadata.generation) return false;
    const ready = getCondition(status.conditions, ConditionType.Ready);
    if (!event.spec.execute) return ready?.status === 'True' && ready.reason === Reason.DryRun;
    return status.phase === 'Succeeded' || status.phase === 'Failed';
  }

  /** The active event other than `key`: one this process runs, else one whose status says Running. */
  private activeOther(key: string): string | undefined {
    for (const claimed of this.claims) if (claimed !== key) return claimed;
    const running = this.deps.events
      .list()
      .map((raw) => powerEvent.safeParse(raw))
      .flatMap((r) => (r.success ? [r.data] : []))
      .filter((e) => e.spec.execute && e.status?.phase === 'Running' && !e.metadata.deletionTimestamp)
      .filter((e) => keyOf(e) !== key)
      .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
    return running[0] ? keyOf(running[0]) : undefined;
  }

  private forget(key: string): Outcome {
    this.written.delete(key);
    this.deps.metrics?.phase(key, undefined);
    return Outcome.done();
  }

  private facts(event: PowerEvent): next.Facts {
    return { generation: event.metadata.generation, now: this.deps.clock.now() };
  }

  private emit(event: PowerEvent, type: EventType, reason: string, message: string): void {
    this.deps.recorder.record(involved(event), type, reason, message);
  }
}

/**
 * The status in the cache carries progress written after this process's last write: the CLI handed a cold boot
 * back (cli/commands/handoff.ts) to an event this process had finished. NOTE: this process's own writes are never
 * newer in the cache than in memory, so only another writer makes this true.
 */
function handedOffSince(cached: PowerEventStatus, mine: PowerEventStatus): boolean {
  const theirs = cached.progress?.updatedAt;
  const ours = mine.progress?.updatedAt;
  return theirs !== undefined && (ours === undefined || Date.parse(theirs) > Date.parse(ours));
}

/** The first step failure in what runPlan threw (parallel batches throw an AggregateError). */
function stepFailure(error: unknown): StepFailedError | undefined {
  if (error instanceof StepFailedError) return error;
  if (error instanceof AggregateError) return error.errors.find((e) => e instanceof StepFailedError);
  return undefined;
}

export function keyOf(event: { metadata: { namespace?: string | undefined; name?: string | undefined } }): string {
  return `${event.metadata.namespace ?? ''}/${event.metadata.name ?? ''}`;
}

function involved(event: PowerEvent): InvolvedObject {
  return {
    apiVersion: API_VERSION,
    kind: 'PowerEvent',
    namespace: event.metadata.namespace ?? '',
    name: event.metadata.name ?? '',
    uid: event.metadata.uid,
    resourceVersion: event.metadata.resourceVersion,
  };
}

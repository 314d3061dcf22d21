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
 */
import {
  type Action,
  API_VERSION,
  ConditionReason,
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
import { StepFailedError } from '../../core/run/errors.js';
import type { Executors, GuardEvaluator } from '../../core/run/executor.js';
import { missingExecutors, type RunEvent, runPlan } from '../../core/run/runner.js';
import { getCondition } from '../../core/status/conditions.js';
import { OperatorReason } from '../../core/status/reasons.js';
import type { EventRecorder, EventType, InvolvedObject } from '../events.js';
import { Outcome } from '../runtime/outcome.js';
import * as next from '../status.js';

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
    if (event.metadata.deletionTimestamp) return this.forget(key);
    const uid = event.metadata.uid ?? '';
    const mine = this.written.get(key);
    const cached = event.status ?? { conditions: [] };
    const status = mine?.uid === uid && !handedOffSince(cached, mine.status) ? mine.status : cached;
    if (this.handled({ ...event, status })) return Outcome.done();
    const store = this.deps.openStatus({ namespace, name }, status);
    try {
      return await this.reconcileEvent(key, event, store);
    } finally {
      this.written.set(key, { uid, status: store.current });
    }
  }

  private async reconcileEvent(key: string, event: PowerEvent, store: StatusStore): Promise<Outcome> {
    const facts = this.facts(event);
    const planName = event.spec.planRef.name;
    const rawPlan = this.deps.plans.get(planName);
    if (!rawPlan) {
      const message = `PowerPlan "${planName}" not found: create it, or point spec.planRef.name at an existing PowerPlan`;
      return this.stall(event, store, ConditionReason.PlanNotFound, message);
    }
    const plan = powerPlan.safeParse(rawPlan, { reportInput: true });
    if (!plan.success) {
      const issues = toIssues(plan.error).map((i) => `${i.path || '(root)'}: ${i.message}`);
      const message = `PowerPlan "${planName}" is invalid: ${issues.join('; ')}`;
      return this.stall(event, store, ConditionReason.InvalidPlan, message);
    }
    const spec = plan.data.spec;
    if (!event.spec.execute) {
      const rendered = compilePlan(MODE_OF[event.spec.action], await this.compileInput(event, planName, spec));
      const before = getCondition(store.current.conditions, ConditionType.Ready);
      await store.update((s) => next.rendered(s, rendered, facts));
      if (before?.reason !== ConditionReason.DryRun) {
        this.emit(event, 'Normal', ConditionReason.DryRun, `Plan rendered: ${rendered.steps.length} step(s)`);
      }
      this.deps.logger.info('Rendered the plan', { powerEvent: key, steps: rendered.steps.length, dryRun: true });
      return Outcome.done();
    }
    return this.execute(key, event, store, { name: planName, spec });
  }

  private async execute(
    key: string,
    event: PowerEvent,
    store: StatusStore,
    plan: { name: string; spec: PowerPlanSpec },
  ): Promise<Outcome> {
    const facts = this.facts(event);
    const active = this.activeOther(key);
    if (active) {
      const was = store.current.phase;
      await store.update((s) => next.waiting(s, active, facts));
      if (was !== 'Waiting') {
        this.emit(event, 'Normal', ConditionReason.WaitingForActiveEvent, `Waiting for PowerEvent ${active}`);
      }
      return Outcome.requeueAfter(this.deps.waitRequeueMs ?? 30_000);
    }
    const rendered = await this.planFor(event, store, plan);
    const wiring = this.deps.executors({ ...plan, mode: rendered.mode });
    try {
      const missing = missingExecutors(rendered, wiring.executors);
      if (missing.length > 0) {
        const message = `No executor in this build for step kind(s) ${missing.join(', ')}: nothing was changed; the plan in status.plan is what it would do`;
        return await this.stall(event, store, OperatorReason.ExecutorMissing, message, rendered);
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
    store: StatusStore,
    plan: RenderedPlan,
    wiring: ExecutorWiring,
  ): Promise<Outcome> {
    const facts = () => this.facts(event);
    const log = this.deps.logger;
    await store.update((s) => next.running(s, plan, facts()));
    this.deps.metrics?.phase(key, 'Running');
    log.info('Running the plan', { powerEvent: key, mode: plan.mode, steps: plan.steps.length });
    const started = new Map<string, number>();
    try {
      await runPlan({
        plan,
        action: event.spec.action,
        executors: wiring.executors,
        ...(wiring.guard ? { guard: wiring.guard } : {}),
        store,
        clock: this.deps.clock,
        logger: log,
        signal: this.deps.signal,
        onEvent: (e) => this.onRunEvent(key, event, store, e, started),
      });
      await store.update((s) => next.succeeded(s, facts()));
      this.deps.metrics?.phase(key, 'Succeeded');
      this.emit(event, 'Normal', ConditionReason.Succeeded, `${plan.mode} finished`);
      log.info('Finished the plan', { powerEvent: key, mode: plan.mode });
      return Outcome.done();
    } catch (error) {
      if (this.deps.signal.aborted) {
        await store.update((s) => next.interrupted(s, facts())).catch(() => undefined);
        return Outcome.done();
      }
      const failure = stepFailure(error);
      if (!failure) throw error; // not a step's fault (the API, the status write): retried with backoff
      await store.update((s) => next.failed(s, failure.step, failure, facts()));
      this.deps.metrics?.phase(key, 'Failed');
      return Outcome.stalled(failure.message);
    }
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
      this.emit(event, 'Warning', ConditionReason.StepFailed, e.error.message);
      log.error('Step failed', { powerEvent: key, step: e.step.id, error: e.error.message });
    } else if (e.type === 'report') {
      log.info(e.message, { powerEvent: key, step: e.step.id });
    }
  }

  /** A plan to run: the one in status when this run resumes it, else freshly compiled. */
  private async planFor(
    event: PowerEvent,
    store: StatusStore,
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
    };
  }

  private async stall(
    event: PowerEvent,
    store: StatusStore,
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
    if (!event.spec.execute) return ready?.status === 'True' && ready.reason === ConditionReason.DryRun;
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

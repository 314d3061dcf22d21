/**
 * The PowerEvent reconciler: level-based, `reconcile(key) → Outcome`, reading the whole
 * current state from the informer caches every time.
 *
 * - Dry-run (`spec.execute: false`, the default): compile the plan from the referenced PowerPlan and what the
 *   cluster looks like (./plan.ts), record it in `status.plan`, Ready=True. Reads only; the one write is its own
 *   status.
 * - Execute: one PowerEvent acts at a time. The active one is the one this process has claimed or, after a
 *   restart, the one whose status says Running; others wait with conditions naming it. Before anything is touched
 *   every step kind of the plan must have an executor, else the event stalls naming the missing kinds. The run
 *   itself, and how its events reach status, is ./run.ts.
 * - A generation that is fully handled (rendered, finished, failed) is not looked at again.
 * - Deleting the running event stops it at the next safe point (./stop.ts): a finalizer holds the object until the
 *   stop is recorded; nothing is undone.
 * - Power-offs it could not report are announced in the last status this process writes (./last-status.ts): the
 *   control plane when it has two or more nodes (the API loses its quorum on the way), else the operator's own node,
 *   powered off last. A restarted operator confirms the announced steps and never sends them again.
 */
import {
  ConditionType,
  type PowerEvent,
  type PowerEventStatus,
  powerEvent,
  type RenderedPlan,
  toIssues,
  UPS_TRIGGER_LABEL,
} from '../../core/api/index.js';
import { describeSpecChanges, specForRun } from '../../core/plan/recorded-spec.js';
import { recordedWayBackGap } from '../../core/plan/way-back.js';
import { missingExecutors } from '../../core/run/runner.js';
import { getCondition } from '../../core/status/conditions.js';
import * as next from '../../core/status/powerevent.js';
import { Reason } from '../../core/status/reasons.js';
import type { EventType } from '../runtime/events.js';
import { Outcome } from '../runtime/outcome.js';
import { emit, factsOf } from './context.js';
import type { ExecutorWiring, PowerEventReconcilerDeps } from './deps.js';
import { handOffWait } from './handoff.js';
import { confirmLastStatus, SealableStore } from './last-status.js';
import { type CompileExtras, compileEvent, planOfEvent, planToRun, type ResolvedPlan, resumedPlan } from './plan.js';
import { type EventRun, runEvent } from './run.js';
import { DELETED_REASON, hasStopFinalizer, saveStopRecord, stopIfDeleted } from './stop.js';

/**
 * Parses the event, then hands it to the part that owns its state: deletion (./stop.ts), the power-offs announced
 * in the last status (./last-status.ts), the dry-run render, waiting for the active event, or the run (./run.ts).
 */
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
  /** Uids of events whose last status this process wrote (./last-status.ts): it writes no more for them. */
  private readonly silenced = new Set<string>();
  /** Runs in flight, with their status store (sealed once the last status is written). */
  private readonly running = new Map<string, { done: Promise<unknown>; store: SealableStore }>();

  constructor(private readonly deps: PowerEventReconcilerDeps) {}

  async reconcile(key: string): Promise<Outcome> {
    const [namespace = '', name = ''] = key.split('/');
    const raw = this.deps.events.get(namespace, name);
    if (!raw) return this.forget(key);
    const parsed = powerEvent.safeParse(raw);
    const log = this.deps.logger;
    if (!parsed.success) {
      const issues = toIssues(parsed.error, powerEvent).map((i) => `${i.path}: ${i.message}`);
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
    const handOff = handOffWait(event, this.deps.clock.now().getTime());
    if (handOff !== undefined) {
      // NOTE: the CLI removes the annotation once its status is written; that update brings the key back sooner.
      log.info('Waiting for the hecate CLI to finish handing off', { powerEvent: key });
      return Outcome.requeueAfter(handOff);
    }
    const store = new SealableStore(this.deps.openStatus({ namespace, name }, status));
    try {
      if (next.lastStatusPending(status)) return await confirmLastStatus(this.deps, key, raw, event, store);
      if (this.handled({ ...event, status })) return Outcome.done();
      return await this.reconcileEvent(key, event, store);
    } finally {
      this.written.set(key, { uid, status: store.current });
    }
  }

  /**
   * Resolves when every run whose last status is written has delivered what it announced (each power-off is bounded
   * by its executor); undefined when there is none. The process waits for it before it exits, lease or not: the
   * status already says those power-offs were sent, and no other operator will send them.
   */
  afterLastStatus(): Promise<void> | undefined {
    const sealed = [...this.running.values()].filter((r) => r.store.isSealed).map((r) => r.done);
    if (sealed.length === 0) return undefined;
    return Promise.allSettled(sealed).then(() => undefined);
  }

  /**
   * An informer saw `key` change. NOTE: the one check not made through the queue: a running event holds its key
   * until the run ends, so its deletion is noticed here, from the cache, and stops the run at its next safe point.
   */
  noticeDeletion(key: string): void {
    const stop = this.stops.get(key);
    if (!stop) return;
    const [namespace = '', name = ''] = key.split('/');
    stopIfDeleted(stop, this.deps.events.get(namespace, name));
  }

  /** Being deleted: a run this process holds stops; a stopped run is recorded; then the finalizer goes. */
  private async deleted(key: string, raw: unknown, event: PowerEvent, status: PowerEventStatus): Promise<Outcome> {
    const stop = this.stops.get(key);
    if (stop) {
      stop.abort(DELETED_REASON); // NOTE: the queue runs a key once at a time; kept for a direct caller
      return Outcome.requeueAfter(1_000);
    }
    if (this.deps.finalizer && hasStopFinalizer(raw)) {
      await this.deps.finalizer.release(raw, () => saveStopRecord(this.deps, key, event, status));
    }
    return this.forget(key);
  }

  private async reconcileEvent(key: string, event: PowerEvent, store: SealableStore): Promise<Outcome> {
    const facts = this.facts(event);
    const resolved = planOfEvent(this.deps.plans, event);
    if (!('plan' in resolved)) return this.stall(event, store, resolved.reason, resolved.message);
    if (!event.spec.execute) {
      const rendered = await compileEvent(this.deps, event, resolved.plan);
      const before = getCondition(store.current.conditions, ConditionType.Ready);
      await store.update((s) => next.rendered(s, rendered, facts));
      if (before?.reason !== Reason.DryRun) {
        this.emit(event, 'Normal', Reason.DryRun, `Plan rendered: ${rendered.steps.length} step(s)`);
      }
      this.deps.logger.info('Rendered the plan', { powerEvent: key, steps: rendered.steps.length, dryRun: true });
      return Outcome.done();
    }
    return this.execute(key, event, store, resolved.plan);
  }

  /** One executing event at a time: others wait; the one that may act is claimed for the length of its run. */
  private async execute(key: string, event: PowerEvent, store: SealableStore, plan: ResolvedPlan): Promise<Outcome> {
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
    const wayBack = await this.wayBack(key, event, store.current, plan);
    const rendered = await planToRun(this.deps, event, store.current, plan, wayBack.extras);
    if (wayBack.refused) return this.stall(event, store, Reason.WayBackNotVerified, wayBack.refused, rendered);
    // A resumed run acts from the spec it started with (progress.planSpec), whatever the PowerPlan says now
    const resumed = resumedPlan(event, store.current) ? store.current.progress : undefined;
    const chosen = specForRun(rendered.mode, plan.spec, resumed);
    const planChanged = chosen.changes.length
      ? describeSpecChanges(plan.name, rendered.mode, chosen.changes)
      : undefined;
    const wiring = this.deps.executors({ ...plan, spec: chosen.spec, mode: rendered.mode });
    try {
      const missing = missingExecutors(rendered, wiring.executors);
      if (missing.length > 0) {
        const message = `No executor in this build for step kind(s) ${missing.join(', ')}: nothing was changed; the plan in status.plan is what it would do`;
        return await this.stall(event, store, Reason.ExecutorMissing, message, rendered);
      }
      if (this.activeOther(key)) return Outcome.requeueAfter(0); // claimed by another key during the awaits above
      this.claims.add(key);
      const lease = this.deps.runLease?.(key);
      try {
        const attempt = (await lease?.acquire()) ?? { ok: true };
        if (!attempt.ok) return await this.waitForLease(event, store, attempt);
        return await this.run(key, event, store, rendered, wiring, { planSpec: chosen.spec, planChanged });
      } finally {
        this.claims.delete(key);
        await lease?.release();
        // NOTE: the others only: this key's own outcome decides when it runs again (a retry waits its backoff; enqueued
        // while it runs, it would run again at once, a hot loop while the API server is down)
        const waiting = this.deps.events
          .list()
          .map((e) => keyOf(e as { metadata: { namespace?: string; name?: string } }))
          .filter((k) => k !== key);
        if (waiting.length > 0) this.deps.onActiveReleased?.(waiting);
      }
    } finally {
      await wiring.close?.().catch(() => undefined);
    }
  }

  /**
   * Never a shutdown without a way back: the operator cannot see the control host, so a new executing shutdown reads
   * the verdict `hecate prepare --execute` recorded in its PowerPlan's status. Missing, not verified, older than
   * `spec.shutdown.wayBackMaxAge`, or for a Flux revision since replaced: the event stalls naming the gap (a change
   * to the plan brings it back), unless `spec.ignoreWayBack`; a UPS-triggered (emergency) shutdown only warns, as a
   * UPS running out does not wait. Going ahead anyway is recorded in the outage reason. A resumed run was checked
   * when it started.
   */
  private async wayBack(
    key: string,
    event: PowerEvent,
    status: PowerEventStatus,
    plan: ResolvedPlan,
  ): Promise<{ extras: CompileExtras; refused?: string }> {
    if (event.spec.action !== 'shutdown' || resumedPlan(event, status)) return { extras: {} };
    const observed = await this.deps.observe(plan.spec);
    const gap = recordedWayBackGap({
      plan: plan.name,
      record: plan.wayBack,
      now: this.deps.clock.now(),
      maxAge: plan.spec.shutdown.wayBackMaxAge,
      fluxRevision: observed.flux?.sourceRevision,
    });
    if (!gap) return { extras: { observed } };
    const emergency = event.metadata.labels?.[UPS_TRIGGER_LABEL] === 'ups';
    if (!emergency && !event.spec.ignoreWayBack) {
      return { extras: { observed }, refused: `Not shutting down: ${gap}. Nothing was changed` };
    }
    const why = emergency ? 'emergency: triggered by the UPS' : 'spec.ignoreWayBack';
    this.emit(event, 'Warning', Reason.WayBackIgnored, `Shutting down without a verified way back (${why}): ${gap}`);
    this.deps.logger.warn('Shutting down without a verified way back', { powerEvent: key, why, gap });
    return { extras: { observed, note: `way back not verified (${why}): ${gap}` } };
  }

  /** A CLI run (or another operator) holds the run Lease: wait, naming it, and look again later. */
  private async waitForLease(
    event: PowerEvent,
    store: SealableStore,
    refused: { holder: string; lease: string },
  ): Promise<Outcome> {
    const was = store.current.phase;
    await store.update((s) => next.waiting(s, refused.lease, this.facts(event), refused.holder));
    if (was !== 'Waiting') {
      this.emit(
        event,
        'Normal',
        Reason.WaitingForActiveEvent,
        `Waiting for ${refused.holder} (run Lease ${refused.lease})`,
      );
    }
    return Outcome.requeueAfter(this.deps.waitRequeueMs ?? 30_000);
  }

  /** The run (./run.ts), stoppable by a deletion while it holds the key. */
  private async run(
    key: string,
    event: PowerEvent,
    store: SealableStore,
    plan: RenderedPlan,
    wiring: ExecutorWiring,
    source: Pick<EventRun, 'planSpec' | 'planChanged'>,
  ): Promise<Outcome> {
    const stop = new AbortController();
    this.stops.set(key, stop);
    const done = runEvent(this.deps, {
      key,
      event,
      store,
      plan,
      wiring,
      ...source,
      stop: stop.signal,
      noticeDeletion: () => this.noticeDeletion(key),
      silenced: this.silenced,
    });
    this.running.set(key, { done, store });
    try {
      return await done;
    } finally {
      this.stops.delete(key);
      this.running.delete(key);
    }
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
    return factsOf(this.deps.clock, event);
  }

  private emit(event: PowerEvent, type: EventType, reason: string, message: string): void {
    emit(this.deps.recorder, event, type, reason, message);
  }
}

/**
 * The status in the cache carries progress written after this process's last write: the CLI handed a cold boot
 * back (cli/run/handoff.ts) to an event this process had finished. NOTE: this process's own writes are never
 * newer in the cache than in memory, so only another writer makes this true.
 */
function handedOffSince(cached: PowerEventStatus, mine: PowerEventStatus): boolean {
  const theirs = cached.progress?.updatedAt;
  const ours = mine.progress?.updatedAt;
  return theirs !== undefined && (ours === undefined || Date.parse(theirs) > Date.parse(ours));
}

export function keyOf(event: { metadata: { namespace?: string | undefined; name?: string | undefined } }): string {
  return `${event.metadata.namespace ?? ''}/${event.metadata.name ?? ''}`;
}

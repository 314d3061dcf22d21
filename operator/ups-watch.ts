/**
 * The UPS watcher: for every PowerPlan with a UPS source, poll the UPS through the gate and, when the
 * trigger in core/gates/watch.ts fires, create ONE shutdown PowerEvent for that outage — like upsmon's shutdown
 * trigger. Runs only while this replica leads.
 *
 * - Dry-run: the PowerPlan has no field saying the watcher may act, so the event has `execute: false`; a person (or
 *   an automation) flips it to true after reading the plan in its status.
 * - One per outage, across restarts and leader changes: the event carries the annotation
 *   `power.hecate.dev/ups-outage: open` until a replica sees the UPS back on line and closes it; while an open one
 *   exists for the plan, no other is created. Its name is derived from the outage's start, so a retried create
 *   answers 409 instead of making a second one.
 */
import type { KubePowerEvents } from '../adapters/kube/powerevents.js';
import type { ClosableUpsPort } from '../adapters/ups/sources.js';
import { newPowerEvent, type PowerPlanSpec, powerPlan, UPS_TRIGGER_LABEL } from '../core/api/index.js';
import { parseDuration } from '../core/api/meta.js';
import { UpsMonitor } from '../core/gates/monitor.js';
import { describeUpsVerdict, upsGate, upsPolicy } from '../core/gates/ups.js';
import { isOnLine, NO_OUTAGE, type OutageWatch, upsWatchDelayMs, watchUps } from '../core/gates/watch.js';
import type { Clock, Logger } from '../core/ports/index.js';

export { UPS_TRIGGER_LABEL };
export const PLAN_LABEL = 'power.hecate.dev/plan';
export const OUTAGE_ANNOTATION = 'power.hecate.dev/ups-outage';

/** Poll interval on battery, like upsmon's POLLFREQALERT (5 s), never slower than the plan's interval. */
const ALERT_INTERVAL_MS = 5_000;

interface EventLike {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** The PowerEvents the watcher creates and closes. */
export interface UpsEventsPort {
  /** PowerEvents in the watcher's namespace, from the operator's cache. */
  list(): readonly EventLike[];
  /** Creates the event; false when one with that name exists already. */
  create(body: object): Promise<boolean>;
  /** Marks the event's outage closed. */
  close(name: string): Promise<void>;
}

export interface UpsWatcherDeps {
  namespace: string;
  /** PowerPlans from the operator's cache. */
  plans(): readonly unknown[];
  events: UpsEventsPort;
  source(ups: PowerPlanSpec['ups']): ClosableUpsPort | undefined;
  clock: Clock;
  logger: Logger;
  /** How often the set of watched plans is compared with the cache (default 5 s). */
  resyncMs?: number;
}

interface Watch {
  key: string;
  stop: AbortController;
  done: Promise<void>;
}

export class UpsWatcher {
  private readonly watches = new Map<string, Watch>();

  constructor(private readonly deps: UpsWatcherDeps) {}

  /** Watches until `signal` aborts; never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      this.sync(signal);
      await this.deps.clock.sleep(this.deps.resyncMs ?? 5_000, signal).catch(() => undefined);
    }
    for (const watch of this.watches.values()) watch.stop.abort();
    await Promise.all([...this.watches.values()].map((w) => w.done));
    this.watches.clear();
  }

  /** One watch per plan with a UPS source; restarted when the plan's `ups` changes, stopped when it goes. */
  private sync(signal: AbortSignal): void {
    const wanted = new Map<string, PowerPlanSpec>();
    for (const raw of this.deps.plans()) {
      const parsed = powerPlan.safeParse(raw);
      if (parsed.success && parsed.data.spec.ups.source !== 'none')
        wanted.set(parsed.data.metadata.name ?? '', parsed.data.spec);
    }
    for (const [name, watch] of this.watches) {
      const spec = wanted.get(name);
      if (!spec || JSON.stringify(spec.ups) !== watch.key) {
        watch.stop.abort();
        this.watches.delete(name);
      }
    }
    for (const [name, spec] of wanted) {
      if (this.watches.has(name) || signal.aborted) continue;
      const stop = new AbortController();
      signal.addEventListener('abort', () => stop.abort(), { once: true });
      const done = this.watchPlan(name, spec, stop.signal).catch((error: unknown) =>
        this.deps.logger.error('UPS watch stopped', { powerPlan: name, error }),
      );
      this.watches.set(name, { key: JSON.stringify(spec.ups), stop, done });
    }
  }

  private async watchPlan(plan: string, spec: PowerPlanSpec, signal: AbortSignal): Promise<void> {
    const { clock, logger } = this.deps;
    const port = this.deps.source(spec.ups);
    if (!port) return;
    const intervalMs = parseDuration(spec.ups.pollInterval);
    const delayMs = upsWatchDelayMs(spec.ups);
    const monitor = new UpsMonitor({
      gate: upsGate(port, upsPolicy(spec.ups), clock),
      clock,
      intervalMs,
      onChange: (verdict) => logger.info('UPS reading changed', { powerPlan: plan, ups: describeUpsVerdict(verdict) }),
    });
    logger.info('Watching the UPS', { powerPlan: plan, source: spec.ups.source, delayMs });
    let state: OutageWatch = NO_OUTAGE;
    try {
      while (!signal.aborted) {
        const verdict = await monitor.poll(signal);
        const step = watchUps(state, verdict, clock.now().getTime(), delayMs);
        state = step.state;
        if (step.transition === 'outage-started') logger.warn('UPS on battery', { powerPlan: plan, delayMs });
        // NOTE: on every on-line reading, not only at the transition: a replica that started after the power came
        // back closes what the previous leader left open.
        if (isOnLine(verdict)) await this.closeOutages(plan);
        if (step.fire && !(await this.requestShutdown(plan, step.fire))) state = { ...state, fired: false };
        const wait = verdict.onBattery ? Math.min(ALERT_INTERVAL_MS, intervalMs) : intervalMs;
        await clock.sleep(wait, signal);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      await port.close();
    }
  }

  /** Creates the shutdown PowerEvent unless an open one exists; false when it must be tried again next poll. */
  private async requestShutdown(
    plan: string,
    fire: NonNullable<ReturnType<typeof watchUps>['fire']>,
  ): Promise<boolean> {
    const { logger, namespace } = this.deps;
    const open = this.openEvents(plan);
    if (open.length > 0) {
      logger.info('Shutdown already requested for this outage', { powerPlan: plan, powerEvent: open[0] });
      return true;
    }
    const name = `ups-shutdown-${plan}-${Math.floor(fire.outageStartedAt / 1000)}`.slice(0, 253);
    const reason = `UPS watcher (${fire.reason}): ${fire.message}`.slice(0, 1024);
    const body = newPowerEvent(
      {
        name,
        namespace,
        labels: { [UPS_TRIGGER_LABEL]: 'ups', [PLAN_LABEL]: plan.slice(0, 63) },
        annotations: { [OUTAGE_ANNOTATION]: 'open' },
      },
      { action: 'shutdown', planRef: { name: plan }, execute: false, reason },
    );
    try {
      const created = await this.deps.events.create(body);
      logger.warn(created ? 'Requested a shutdown' : 'Shutdown already requested for this outage', {
        powerPlan: plan,
        powerEvent: `${namespace}/${name}`,
        reason,
        execute: false,
      });
      return true;
    } catch (error) {
      logger.error('Could not create the shutdown PowerEvent; trying again at the next poll', {
        powerPlan: plan,
        error,
      });
      return false;
    }
  }

  private openEvents(plan: string): string[] {
    return this.deps.events
      .list()
      .filter((e) => e.metadata?.labels?.[UPS_TRIGGER_LABEL] === 'ups')
      .filter((e) => e.metadata?.labels?.[PLAN_LABEL] === plan.slice(0, 63))
      .filter((e) => e.metadata?.annotations?.[OUTAGE_ANNOTATION] === 'open')
      .map((e) => e.metadata?.name ?? '');
  }

  private async closeOutages(plan: string): Promise<void> {
    for (const name of this.openEvents(plan)) {
      await this.deps.events.close(name).then(
        () => this.deps.logger.info('UPS back on line: outage closed', { powerPlan: plan, powerEvent: name }),
        (error: unknown) => this.deps.logger.warn('Could not close the outage', { powerEvent: name, error }),
      );
    }
  }
}

/** The watcher's PowerEvents through the PowerEvent adapter, in its namespace; `list` reads the operator's cache. */
export function kubeUpsEvents(events: KubePowerEvents, list: () => readonly EventLike[]): UpsEventsPort {
  const { namespace } = events;
  return {
    list: () => list().filter((e) => (e.metadata as { namespace?: string } | undefined)?.namespace === namespace),
    create: async (body) => (await events.create(body)) !== undefined,
    close: async (name) => {
      await events.mergePatch(name, { metadata: { annotations: { [OUTAGE_ANNOTATION]: 'closed' } } });
    },
  };
}

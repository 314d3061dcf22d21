/**
 * Prometheus metrics (prom-client), served on /metrics by runtime/http.ts.
 *
 * - The controller: reconcile count, duration and errors, work-queue depth, step durations by stage, leadership,
 *   informer restarts.
 * - The UPS, as the UPS watcher reads it: charge, runtime, on battery, low battery, the time of the last answered read.
 * - The way back, per PowerPlan, from the record `hecate prepare --execute` writes into its status: when it was
 *   checked, whether it was verified, whether it is at the revision Flux has applied now, whether the Harbor bundle
 *   passed, and the operator's own verdict (would an executing shutdown go ahead).
 * - PowerEvents: phase, stage, Stalled, time of the last progress.
 *
 * Names and units follow Prometheus conventions: base units (seconds, ratios 0-1), `_total` counters, and times as
 * `_timestamp_seconds` (Unix time) rather than "seconds since", so that an alert says `time() - x > N` and a missing
 * read never looks fresh. The way-back and PowerEvent gauges are read from the caches at each scrape (level-based):
 * only the leader has them, so a follower reports none.
 */
import client from 'prom-client';
import type { ClosableUpsPort } from '../adapters/ups/sources.js';
import { type PowerPlanSpec, powerPlan } from '../core/api/index.js';
import { UpsFlag } from '../core/gates/ups.js';
import { commitOf, recordedWayBackGap } from '../core/plan/way-back.js';
import type { UpsReading } from '../core/ports/ups.js';
import type { ReconcileMetrics } from './reconcile/deps.js';
import type { Outcome } from './runtime/outcome.js';

const PHASES = ['Pending', 'Waiting', 'Running', 'Succeeded', 'Failed'] as const;

/** What the scrape-time gauges read: the operator's caches and the Flux source. */
export interface ClusterView {
  /** PowerEvents in the cache, as the API returned them (empty on a follower). */
  events(): readonly unknown[];
  /** PowerPlans in the cache, with their status. */
  plans(): readonly unknown[];
  /** The revision the plan's Flux source has applied now; undefined when it cannot be read. */
  fluxRevision(spec: PowerPlanSpec): Promise<string | undefined>;
  now(): Date;
}

/**
 * NOTE: the way-back record keeps gaps as text; the bundle's gap is the one core/plan/way-back.ts words this way
 * (bundleGaps). A change there shows as bundle_verified 1 in test/operator/metrics.test.ts.
 */
const BUNDLE_GAP = 'the Harbor bundle cannot be used';
/** The Flux revision is read at most this often (a scrape every 15-30 s must not cost an API call each). */
const FLUX_REVISION_TTL_MS = 30_000;

type Labels<T extends string> = client.Gauge<T>;

export class OperatorMetrics implements ReconcileMetrics {
  readonly registry = new client.Registry();
  private readonly reconciles = new client.Counter({
    name: 'hecate_reconcile_total',
    help: 'Reconciles by controller and outcome (done, requeueAfter, retry, stalled)',
    labelNames: ['controller', 'outcome'],
    registers: [this.registry],
  });
  private readonly errors = new client.Counter({
    name: 'hecate_reconcile_errors_total',
    help: 'Reconciles that ended in retry (an error)',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  private readonly duration = new client.Histogram({
    name: 'hecate_reconcile_duration_seconds',
    help: 'Time spent in one reconcile',
    labelNames: ['controller'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300],
    registers: [this.registry],
  });
  private readonly stages = new client.Histogram({
    name: 'hecate_stage_step_duration_seconds',
    help: 'Duration of executed steps, by stage',
    labelNames: ['stage'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly queueDepth = new client.Gauge({
    name: 'hecate_workqueue_depth',
    help: 'Keys waiting in the work queue',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly leader = new client.Gauge({
    name: 'hecate_leader',
    help: '1 while this replica holds the leader lease',
    registers: [this.registry],
  });
  readonly informerRestarts = new client.Counter({
    name: 'hecate_informer_restarts_total',
    help: 'Watch restarts after an error or a quiet period',
    labelNames: ['informer'],
    registers: [this.registry],
  });
  private readonly ups = {
    charge: this.gauge('hecate_ups_battery_charge_ratio', 'battery.charge of the UPS, 0 to 1', ['ups']),
    runtime: this.gauge('hecate_ups_battery_runtime_seconds', 'battery.runtime of the UPS', ['ups']),
    onBattery: this.gauge('hecate_ups_on_battery', '1 while ups.status has OB (on battery)', ['ups']),
    lowBattery: this.gauge('hecate_ups_low_battery', '1 while ups.status has LB or FSD', ['ups']),
    up: this.gauge('hecate_ups_up', '1 when the last read of the UPS answered with data, 0 when it failed', ['ups']),
    lastRead: this.gauge(
      'hecate_ups_last_read_timestamp_seconds',
      'Unix time of the last read of the UPS that answered with data (alert on time() minus this)',
      ['ups'],
    ),
    errors: new client.Counter({
      name: 'hecate_ups_read_errors_total',
      help: 'Reads of the UPS that failed, by fault (unreachable, stale, protocol, refused)',
      labelNames: ['ups', 'fault'],
      registers: [this.registry],
    }),
  };
  private readonly wayBack = {
    checked: this.gauge(
      'hecate_wayback_prepare_timestamp_seconds',
      'Unix time of the way-back check the last `hecate prepare --execute` recorded in the PowerPlan',
      ['powerplan'],
    ),
    verified: this.gauge('hecate_wayback_verified', '1 when the last recorded way-back check found no gap', [
      'powerplan',
    ]),
    revision: this.gauge(
      'hecate_wayback_revision_matches_flux',
      '1 when the way back was checked at the revision the Flux source has applied now',
      ['powerplan'],
    ),
    bundle: this.gauge(
      'hecate_wayback_bundle_verified',
      '1 when the last check found the Harbor bundle usable (plans with a Harbor stage only)',
      ['powerplan'],
    ),
    ready: this.gauge(
      'hecate_wayback_ready',
      '1 when an executing shutdown would find the way back verified, fresh (spec.shutdown.wayBackMaxAge) and at Flux revision',
      ['powerplan'],
    ),
  };
  private readonly events = {
    phase: this.gauge('hecate_powerevent_phase', '1 for the phase each PowerEvent is in', ['powerevent', 'phase']),
    stage: this.gauge(
      'hecate_powerevent_stage',
      '1 for the stage a PowerEvent that has not finished is running or waiting in',
      ['powerevent', 'stage'],
    ),
    stalled: this.gauge('hecate_powerevent_stalled', '1 while the Stalled condition is True', ['powerevent']),
    progress: this.gauge(
      'hecate_powerevent_progress_timestamp_seconds',
      'Unix time of the last recorded step of a PowerEvent that has not finished (its start before the first)',
      ['powerevent'],
    ),
  };
  private view: ClusterView | undefined;
  private readonly revisions = new Map<string, { at: number; revision: Promise<string | undefined> }>();

  constructor() {
    client.collectDefaultMetrics({ register: this.registry });
  }

  reconciled(controller: string, outcome: Outcome, ms: number): void {
    this.reconciles.inc({ controller, outcome: outcome.kind });
    if (outcome.kind === 'retry') this.errors.inc({ controller });
    this.duration.observe({ controller }, ms / 1000);
  }

  stageFinished(stage: string, seconds: number): void {
    this.stages.observe({ stage }, seconds);
  }

  /** A run's phase as the reconciler sets it; with a cluster view the next scrape reads the cache instead. */
  phase(key: string, phase: string | undefined): void {
    for (const p of PHASES) this.events.phase.set({ powerevent: key, phase: p }, p === phase ? 1 : 0);
    if (phase === undefined) for (const p of PHASES) this.events.phase.remove({ powerevent: key, phase: p });
  }

  /** Reads way-back and PowerEvent gauges from `view` at each scrape. */
  observeCluster(view: ClusterView): void {
    this.view = view;
  }

  /** A UPS reading, as the UPS watcher took it. */
  upsRead(reading: UpsReading): void {
    const labels = { ups: reading.source };
    if (reading.error) {
      this.ups.up.set(labels, 0);
      this.ups.errors.inc({ ...labels, fault: reading.error.fault });
      return;
    }
    this.ups.up.set(labels, 1);
    this.ups.lastRead.set(labels, reading.readAt.getTime() / 1000);
    const status = new Set(reading.status);
    this.ups.onBattery.set(labels, status.has(UpsFlag.OnBattery) ? 1 : 0);
    this.ups.lowBattery.set(labels, status.has(UpsFlag.LowBattery) || status.has(UpsFlag.ForcedShutdown) ? 1 : 0);
    if (reading.charge !== undefined) this.ups.charge.set(labels, reading.charge / 100);
    if (reading.runtimeSeconds !== undefined) this.ups.runtime.set(labels, reading.runtimeSeconds);
  }

  /** `port` with every reading also recorded here. */
  watchUps(port: ClosableUpsPort): ClosableUpsPort {
    return {
      read: async (signal) => {
        const reading = await port.read(signal);
        this.upsRead(reading);
        return reading;
      },
      close: () => port.close(),
    };
  }

  async text(): Promise<string> {
    if (this.view) await this.refresh(this.view);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async refresh(view: ClusterView): Promise<void> {
    const now = view.now();
    for (const gauge of [...Object.values(this.wayBack), ...Object.values(this.events)]) gauge.reset();
    await Promise.all(view.plans().map((raw) => this.refreshPlan(raw, view, now)));
    for (const raw of view.events()) this.refreshEvent(raw as EventLike);
  }

  private async refreshPlan(raw: unknown, view: ClusterView, now: Date): Promise<void> {
    const parsed = powerPlan.safeParse(raw);
    if (!parsed.success) return;
    const { metadata, spec, status } = parsed.data;
    const name = metadata.name ?? '';
    const labels = { powerplan: name };
    const record = status?.wayBack;
    const current = await this.fluxRevision(name, spec, view, now);
    const gap = recordedWayBackGap({
      plan: name,
      record,
      now,
      maxAge: spec.shutdown.wayBackMaxAge,
      fluxRevision: current,
    });
    this.wayBack.ready.set(labels, record && !gap ? 1 : 0);
    this.wayBack.verified.set(labels, record?.verified ? 1 : 0);
    const matches = record?.fluxRevision && current && commitOf(record.fluxRevision) === commitOf(current);
    this.wayBack.revision.set(labels, matches ? 1 : 0);
    if (record) this.wayBack.checked.set(labels, Date.parse(record.checkedAt) / 1000);
    if (spec.harbor) {
      const bundleGap = record?.gaps.some((g) => g.what.startsWith(BUNDLE_GAP)) ?? true;
      this.wayBack.bundle.set(labels, record && !bundleGap ? 1 : 0);
    }
  }

  private fluxRevision(name: string, spec: PowerPlanSpec, view: ClusterView, now: Date) {
    const cached = this.revisions.get(name);
    if (cached && now.getTime() - cached.at < FLUX_REVISION_TTL_MS) return cached.revision;
    const revision = view.fluxRevision(spec).catch(() => undefined);
    this.revisions.set(name, { at: now.getTime(), revision });
    return revision;
  }

  private refreshEvent(event: EventLike): void {
    const { namespace, name } = event.metadata ?? {};
    if (!name) return;
    const key = namespace ? `${namespace}/${name}` : name;
    const status = event.status ?? {};
    const phase = status.phase ?? 'Pending';
    for (const p of PHASES) this.events.phase.set({ powerevent: key, phase: p }, p === phase ? 1 : 0);
    const stalled = status.conditions?.some((c) => c.type === 'Stalled' && c.status === 'True');
    this.events.stalled.set({ powerevent: key }, stalled ? 1 : 0);
    if (phase === 'Succeeded' || phase === 'Failed') return;
    if (status.stage) this.events.stage.set({ powerevent: key, stage: status.stage }, 1);
    const progressed = status.progress?.updatedAt ?? status.startedAt;
    if (progressed) this.events.progress.set({ powerevent: key }, Date.parse(progressed) / 1000);
  }

  private gauge<T extends string>(name: string, help: string, labelNames: readonly T[]): Labels<T> {
    return new client.Gauge({ name, help, labelNames, registers: [this.registry] });
  }
}

interface EventLike {
  metadata?: { namespace?: string; name?: string };
  status?: {
    phase?: string;
    stage?: string;
    conditions?: { type?: string; status?: string }[];
    progress?: { updatedAt?: string };
    startedAt?: string;
  };
}

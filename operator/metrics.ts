/**
 * Prometheus metrics (prom-client): reconcile count, duration and errors, work-queue depth, stage durations, the
 * active event's phase, leadership and informer restarts. Served on /metrics by runtime/http.ts.
 */
import client from 'prom-client';
import type { ReconcileMetrics } from './reconcile/deps.js';
import type { Outcome } from './runtime/outcome.js';

const PHASES = ['Pending', 'Waiting', 'Running', 'Succeeded', 'Failed'] as const;

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
  private readonly phases = new client.Gauge({
    name: 'hecate_powerevent_phase',
    help: '1 for the phase each executing PowerEvent is in',
    labelNames: ['powerevent', 'phase'],
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

  phase(key: string, phase: string | undefined): void {
    for (const p of PHASES) this.phases.set({ powerevent: key, phase: p }, p === phase ? 1 : 0);
    if (phase === undefined) for (const p of PHASES) this.phases.remove({ powerevent: key, phase: p });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * What the PowerEvent reconciler (./powerevent.ts) is given at the composition root (operator/hecate.ts): the
 * informer caches, how to observe the cluster and build executors, where status goes, and the operator's own node.
 */
import type { PlanMode, PowerEventStatus, PowerPlanSpec } from '../../core/api/index.js';
import type { ResolvedPaths } from '../../core/plan/index.js';
import type { Clock, Logger, Observed, ProgressStore, StopRecords } from '../../core/ports/index.js';
import type { Executors, GuardEvaluator } from '../../core/run/executor.js';
import type { EventRecorder } from '../runtime/events.js';

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
  /** Progress for people (a stage condition): goes out with the next write, within a moment; nobody waits. */
  note(change: (status: PowerEventStatus) => PowerEventStatus): void;
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
  /**
   * Called when an event stops being active, with the keys of the other events, so that those waiting are looked at
   * again (never the released one: its own outcome decides when it runs again).
   */
  onActiveReleased?(others: readonly string[]): void;
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
  /**
   * The run Lease shared with the CLI (adapters/kube/run-lease.ts), for the executing event `key`: held for the
   * length of its run; while someone else (a CLI run) holds it, the event waits.
   */
  runLease?(key: string): RunLeasePort;
}

export interface RunLeasePort {
  acquire(): Promise<{ ok: true } | { ok: false; holder: string; lease: string }>;
  release(): Promise<void>;
}

/** The runtime's finalizer handling (operator/runtime/operator.ts), for one resource and the stop finalizer (./stop.ts). */
export interface StopFinalizer {
  /** Adds the finalizer to the live object; nothing when it is there. */
  add(raw: unknown): Promise<void>;
  /**
   * Removes the finalizer; when the object is being deleted, runs `onDelete` first (a failure keeps the finalizer,
   * and the deletion waits for the retry). Nothing when the finalizer is not there.
   */
  release(raw: unknown, onDelete?: () => Promise<void>): Promise<void>;
}

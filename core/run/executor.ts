import type { OutageRecord, PlanStep, RenderedPlan, StepGuard } from '../api/index.js';
import type { Clock, Logger } from '../ports/index.js';

/** What an executor sees while it runs one step. */
export interface StepContext {
  readonly plan: RenderedPlan;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Epoch ms after which `wait` must give up with a DeadlineExceededError; undefined when the step has no timeout. */
  readonly deadline?: number;
  /** The outage record as last saved. */
  outage(): OutageRecord;
  /**
   * Changes the outage record and saves it before returning.
   * NOTE: call it BEFORE a destructive action (e.g. record a Flux object as suspended by Hecate, then patch it):
   * a crash between the two then leaves a record that is a superset of the truth, which resume handles.
   */
  record(change: (outage: OutageRecord) => void): Promise<void>;
  /** Progress for people (the CLI's task output, the operator's condition message). */
  report(message: string): void;
}

/**
 * One step kind. Every method is idempotent: a rerun after a crash calls `check` first and skips the step when it
 * is already done.
 */
export interface StepExecutor {
  /** True when the step's effect is already in place. Read-only. */
  check(step: PlanStep, ctx: StepContext): Promise<boolean>;
  apply(step: PlanStep, ctx: StepContext): Promise<void>;
  /** Resolves when the effect is observed (watch-based), or throws past `ctx.deadline`. */
  wait?(step: PlanStep, ctx: StepContext): Promise<void>;
}

export type Executors = Readonly<Record<string, StepExecutor | undefined>>;

/** Decides at run time whether a guarded step runs; `always` needs no evaluator. */
export type GuardEvaluator = (guard: Exclude<StepGuard, 'always'>, ctx: StepContext) => Promise<boolean>;

import {
  type OutageRecord,
  outageRecord,
  type PlanStep,
  type PowerPlanSpec,
  type Progress,
  type RenderedPlan,
  type StepRecord,
} from '../api/index.js';
import type { Clock, Logger, ProgressStore } from '../ports/index.js';
import { MissingExecutorError, RunStoppedError, StepFailedError } from './errors.js';
import type { Executors, GuardEvaluator, StepContext, StepExecutor } from './executor.js';

export type RunEvent =
  | { type: 'resume'; done: number }
  | { type: 'start' | 'done' | 'already-done' | 'skipped' | 'previously-done'; step: PlanStep }
  | { type: 'failed'; step: PlanStep; error: Error }
  | { type: 'report'; step: PlanStep; message: string }
  | { type: 'stopped'; step: PlanStep; reason: string };

export interface RunOptions {
  plan: RenderedPlan;
  action: Progress['action'];
  executors: Executors;
  store: ProgressStore;
  clock: Clock;
  logger: Logger;
  guard?: GuardEvaluator;
  /**
   * The PowerPlan spec the plan was compiled from, recorded with a new run's progress (`progress.planSpec`) so that a
   * rerun or a restarted operator compiles and acts from it until the run ends. A resumed run keeps its record.
   */
  planSpec?: PowerPlanSpec;
  /** Interrupts the step in flight (process shutdown). Executors see it as `ctx.signal`. */
  signal?: AbortSignal;
  /**
   * Stops the run at the next safe point: steps in flight finish, no new step starts, `progress.stopped` records
   * where, and runPlan throws {@link RunStoppedError}. The abort reason (a string or an Error) says why.
   */
  stop?: AbortSignal;
  onEvent?: (event: RunEvent) => void;
}

/** Step kinds in the plan that no executor handles. */
export function missingExecutors(plan: RenderedPlan, executors: Executors): string[] {
  return [...new Set(plan.steps.map((s) => s.kind).filter((kind) => !executors[kind]))];
}

/** Consecutive steps sharing `params.group` run together, up to `params.parallelism` at once. */
export function batches(steps: readonly PlanStep[]): PlanStep[][] {
  const out: PlanStep[][] = [];
  for (const step of steps) {
    const last = out[out.length - 1];
    const group = step.params.group;
    if (last && group && last[0]?.params.group === group) last.push(step);
    else out.push([step]);
  }
  return out;
}

/**
 * Runs a plan, recording progress after every step. A rerun of the same mode resumes: steps recorded done or
 * skipped are not run again, and a step recorded `running` (a crash mid-step) is checked and run again.
 */
export async function runPlan(options: RunOptions): Promise<Progress> {
  const missing = missingExecutors(options.plan, options.executors);
  if (missing.length > 0) throw new MissingExecutorError(missing);
  const run = await Run.open(options);
  for (const batch of batches(options.plan.steps)) {
    const limit = Number(batch[0]?.params.parallelism ?? '1') || 1;
    await inParallel(batch, limit, (step) => run.runStep(step));
    await run.stopIfAsked();
  }
  return run.finish();
}

async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const errors: unknown[] = [];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      await work(item).catch((error: unknown) => errors.push(error));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    const each = errors.map((e) => (e instanceof Error ? e.message : String(e)));
    throw new AggregateError(errors, `${errors.length} steps failed: ${each.join('; ')}`);
  }
}

/** One run's mutable state. NOTE: every save goes through `chain`, so parallel steps never interleave writes. */
class Run {
  private chain: Promise<void> = Promise.resolve();
  /** The first step (in plan order) not started because a stop was asked. */
  private stoppedBefore: PlanStep | undefined;
  /** Steps that acted but whose wait a stop cut short: recorded `running`, checked again by a rerun. */
  private readonly waitCut = new Set<string>();

  private constructor(
    private readonly options: RunOptions,
    private outage: OutageRecord,
    private progress: Progress,
  ) {}

  static async open(options: RunOptions): Promise<Run> {
    const saved = await options.store.load();
    const now = options.clock.now().toISOString();
    const previous = saved?.progress;
    const resumable = previous && !previous.finishedAt && previous.mode === options.plan.mode;
    const outage = resumable ? (saved?.outage ?? outageRecord.parse({})) : newRunOutage(saved?.outage);
    const progress: Progress = resumable
      ? { ...withoutStop(previous), steps: settleDropped(previous.steps, options.plan, now), updatedAt: now }
      : {
          action: options.action,
          mode: options.plan.mode,
          planName: options.plan.planName,
          startedAt: now,
          updatedAt: now,
          steps: [],
          ...(options.planSpec ? { planSpec: options.planSpec } : {}),
        };
    const run = new Run(options, outage, progress);
    if (resumable) options.onEvent?.({ type: 'resume', done: progress.steps.filter(isFinished).length });
    await run.save();
    return run;
  }

  async runStep(step: PlanStep): Promise<void> {
    const { onEvent } = this.options;
    const record = this.progress.steps.find((s) => s.id === step.id);
    if (record && isFinished(record)) return onEvent?.({ type: 'previously-done', step });
    if (this.options.stop?.aborted) return this.holdBack(step);
    const ctx = this.context(step);
    if (step.when !== 'always' && !(await this.options.guard?.(step.when, ctx))) {
      await this.mark(step, 'skipped', `guard ${step.when} does not hold`);
      return onEvent?.({ type: 'skipped', step });
    }
    const executor = this.options.executors[step.kind];
    if (!executor) throw new MissingExecutorError([step.kind]);
    try {
      if (await executor.check(step, ctx)) {
        await this.mark(step, 'done', 'already done');
        return onEvent?.({ type: 'already-done', step });
      }
      // `check` only reads: a stop asked while it ran still holds the step back.
      if (this.options.stop?.aborted) return this.holdBack(step);
      await this.mark(step, 'running');
      onEvent?.({ type: 'start', step });
      await executor.apply(step, ctx);
      if (executor.wait && !(await this.waitUnlessStopped(executor, step, ctx))) return;
      await this.mark(step, 'done');
      onEvent?.({ type: 'done', step });
    } catch (cause) {
      const error = new StepFailedError(step, cause);
      await this.mark(step, 'failed', error.message);
      onEvent?.({ type: 'failed', step, error });
      throw error;
    }
  }

  /**
   * Waiting only observes, so a stop cuts it short: the step stays recorded `running` (a rerun checks it and waits
   * again) and the run stops before it. False when the wait was cut.
   */
  private async waitUnlessStopped(executor: StepExecutor, step: PlanStep, ctx: StepContext): Promise<boolean> {
    const { stop } = this.options;
    if (!stop) {
      await executor.wait?.(step, ctx);
      return true;
    }
    try {
      await executor.wait?.(step, { ...ctx, signal: AbortSignal.any([ctx.signal, stop]) });
      return true;
    } catch (error) {
      if (!stop.aborted || ctx.signal.aborted) throw error;
      await this.mark(step, 'running', 'acted; its wait was cut short by a stop, a rerun checks it again');
      this.waitCut.add(step.id);
      this.holdBack(step);
      return false;
    }
  }

  private holdBack(step: PlanStep): void {
    if (!this.stoppedBefore || this.indexOf(step) < this.indexOf(this.stoppedBefore)) this.stoppedBefore = step;
  }

  /** After a batch: when a stop was asked and a step was held back, record where and throw RunStoppedError. */
  async stopIfAsked(): Promise<void> {
    const step = this.stoppedBefore;
    if (!step) return;
    const reason = stopReason(this.options.stop);
    const at = this.options.clock.now().toISOString();
    const acted = this.waitCut.has(step.id);
    const stopped = { beforeStep: step.id, at, reason, ...(acted ? { waitCut: true } : {}) };
    this.progress = { ...this.progress, stopped, updatedAt: at };
    await this.save();
    this.options.onEvent?.({ type: 'stopped', step, reason });
    throw new RunStoppedError(step, reason, acted);
  }

  private indexOf(step: PlanStep): number {
    return this.options.plan.steps.findIndex((s) => s.id === step.id);
  }

  async finish(): Promise<Progress> {
    this.progress = { ...this.progress, finishedAt: this.options.clock.now().toISOString() };
    await this.save();
    return this.progress;
  }

  private context(step: PlanStep): StepContext {
    const { clock, logger, plan, onEvent } = this.options;
    const started = clock.now().getTime();
    return {
      plan,
      clock,
      logger,
      signal: this.options.signal ?? new AbortController().signal,
      ...(step.timeoutSeconds ? { deadline: started + step.timeoutSeconds * 1000 } : {}),
      outage: () => structuredClone(this.outage),
      record: async (change) => {
        const next = structuredClone(this.outage);
        change(next);
        this.outage = outageRecord.parse(next);
        await this.save();
      },
      report: (message) => onEvent?.({ type: 'report', step, message }),
    };
  }

  private async mark(step: PlanStep, state: StepRecord['state'], message?: string): Promise<void> {
    const now = this.options.clock.now().toISOString();
    const previous = this.progress.steps.find((s) => s.id === step.id);
    const record: StepRecord = {
      id: step.id,
      state,
      startedAt: previous?.startedAt ?? now,
      ...(state === 'running' ? {} : { finishedAt: now }),
      ...(message ? { message } : {}),
    };
    const steps = [...this.progress.steps.filter((s) => s.id !== step.id), record];
    this.progress = { ...this.progress, steps, updatedAt: now };
    await this.save();
  }

  private save(): Promise<void> {
    const snapshot = { outage: structuredClone(this.outage), progress: structuredClone(this.progress) };
    this.chain = this.chain.then(() => this.options.store.save(snapshot));
    return this.chain;
  }
}

/**
 * The outage record as a new run (not a resumed one) starts from: the boots its power-offs were sent on are the
 * earlier run's. A new run in the same outage (a shutdown again after a failed startup, the emergency shutdown during
 * a startup) finds the nodes booted since and must power them off again, not take them for delivered.
 */
function newRunOutage(saved: OutageRecord | undefined): OutageRecord {
  const outage = saved ? structuredClone(saved) : outageRecord.parse({});
  delete outage.poweredOffBoots;
  return outage;
}

/**
 * A step recorded `running` (the run was cut while it acted or waited) that the resuming plan no longer has (it was
 * compiled from what is observed now: a Flux source Ready again drops the bootstrap chain) is recorded `skipped`,
 * saying so, before anything runs: the record never hands a `running` step on to a closed run or the operator.
 */
function settleDropped(steps: readonly StepRecord[], plan: RenderedPlan, now: string): StepRecord[] {
  const planned = new Set(plan.steps.map((s) => s.id));
  return steps.map((s) =>
    s.state === 'running' && !planned.has(s.id)
      ? {
          ...s,
          state: 'skipped',
          finishedAt: now,
          message: `cut short while running; the plan this run resumed with no longer has it (compiled from what was observed then), so it was not run again${s.message ? ` (before: ${s.message})` : ''}`,
        }
      : s,
  );
}

function withoutStop(progress: Progress): Progress {
  const { stopped: _, ...rest } = progress;
  return rest;
}

function stopReason(stop: AbortSignal | undefined): string {
  const reason: unknown = stop?.reason;
  if (typeof reason === 'string' && reason) return reason;
  if (reason instanceof Error && reason.name !== 'AbortError') return reason.message;
  return 'a stop was requested';
}

function isFinished(record: StepRecord): boolean {
  return record.state === 'done' || record.state === 'skipped';
}

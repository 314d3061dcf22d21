import { adapterLogger, systemClock } from '../../adapters/system.js';
import { ACTION_OF_MODE } from '../../core/api/defaults.js';
import type { PlanStep, Progress, RenderedPlan } from '../../core/api/index.js';
import { parseDuration } from '../../core/api/meta.js';
import { toYaml } from '../../core/api/yaml.js';
import { StepKind } from '../../core/plan/index.js';
import type { Clock } from '../../core/ports/index.js';
import { MissingExecutorError, RunStoppedError, StepFailedError } from '../../core/run/errors.js';
import { missingExecutors, type RunEvent, runPlan } from '../../core/run/runner.js';
import { EmergencyShutdownRequired, GateRefusedError } from '../../core/steps/ups.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommonOptions } from '../options.js';
import { LineProgress } from '../render/progress-lines.js';
import { ListrProgress } from '../render/progress-listr.js';
import { type ClusterWiring, clusterExecutors, type WiringInput } from '../wiring.js';
import type { CommandContext } from './context.js';
import { handBack } from './handoff.js';
import { StartupUpsWatch, type UpsStop } from './ups-watch.js';

/** Progress on stderr: listr2 on a terminal, one line per event elsewhere (logs, CI, pipes). */
function progressFor(plan: RenderedPlan, deps: CliDeps) {
  const lines = new LineProgress(plan, deps.stderr, () => deps.now().getTime());
  const listr = deps.isTTY ? new ListrProgress(plan) : undefined;
  const display = listr?.run();
  return {
    onEvent: (event: RunEvent) => (listr ? listr.onEvent(event) : lines.onEvent(event)),
    finish: async (error?: Error) => {
      listr?.close(error);
      await display;
      if (!listr) deps.stderr(lines.summary());
    },
  };
}

function printRecords(progress: Progress, options: CommonOptions, deps: CliDeps): void {
  if (options.output === 'json') deps.stdout(`${JSON.stringify(progress, null, 2)}\n`);
  if (options.output === 'yaml') deps.stdout(`---\n${toYaml(progress)}`);
}

/** The world by default; tests pass fakes for the wiring and the clock. */
export interface ExecuteSeams {
  wire?: (input: WiringInput) => ClusterWiring;
  clock?: Clock;
  /** Called before a finished startup is handed to the operator: the CLI passes the run Lease on. */
  beforeHandBack?: () => Promise<void>;
}

/**
 * The UPS watch stopped the startup (or saw the emergency as the run ended): the emergency shutdown must run.
 * `outcome` is how the startup run itself ended: stopped at a safe point, failed, or finished.
 */
class StoppedByUps extends Error {
  override readonly name = 'StoppedByUps';
  constructor(
    readonly ups: UpsStop,
    readonly outcome: { progress: Progress } | { error: unknown },
  ) {
    super(ups.reason);
  }
}

/** A terminal event of the UPS gate step that lets the run go on: the watch starts there. */
function gatePassed(event: RunEvent): boolean {
  if (event.type === 'resume' || event.step.kind !== StepKind.UpsGate) return false;
  return ['done', 'already-done', 'previously-done', 'skipped'].includes(event.type);
}

/** The watch for a startup on a plan with a UPS; undefined otherwise. Lines go to the step in flight. */
function upsWatchFor(
  plan: RenderedPlan,
  wiring: ClusterWiring,
  ctx: CommandContext,
  options: CommonOptions,
  clock: Clock,
  report: (line: string) => void,
): StartupUpsWatch | undefined {
  if (plan.mode !== 'startup' || !wiring.upsGate) return undefined;
  return new StartupUpsWatch({
    gate: wiring.upsGate,
    clock,
    intervalMs: parseDuration(ctx.plan.spec.ups.pollInterval),
    ignoreUps: options.ignoreUps === true,
    report,
  });
}

/**
 * Runs one plan with progress; refuses before touching anything when an executor is missing. A startup runs under
 * the UPS watch (./ups-watch.ts): when it fires, this throws {@link StoppedByUps} however the run ended, after the
 * watch is closed.
 */
async function runWithProgress(
  plan: RenderedPlan,
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
  seams: ExecuteSeams,
): Promise<Progress> {
  if (!ctx.kubeConfig) throw new ExitError(ExitCode.Usage, '--execute needs a cluster: pass --kubeconfig');
  const logger = adapterLogger(deps);
  const clock = seams.clock ?? systemClock;
  const wiring = (seams.wire ?? clusterExecutors)({
    kc: ctx.kubeConfig,
    mode: plan.mode,
    spec: ctx.plan.spec,
    paths: ctx.paths,
    env: deps.env,
    logger,
    kubectl: {
      ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
      ...(options.context ? { context: options.context } : {}),
    },
  });
  const missing = missingExecutors(plan, wiring.executors);
  if (missing.length > 0) {
    await wiring.close();
    throw new ExitError(
      ExitCode.Failed,
      `--execute is not available for ${plan.mode} in this build: no executor yet for ${missing.join(', ')}. Nothing was changed; the plan above is what it would do.`,
      { cause: new MissingExecutorError(missing) },
    );
  }
  let inFlight: PlanStep | undefined;
  const watch = upsWatchFor(plan, wiring, ctx, options, clock, (message) =>
    inFlight ? progress.onEvent({ type: 'report', step: inFlight, message }) : deps.stderr(`${message}\n`),
  );
  if (watch) deps.stderr(`${watch.describe()}\n`);
  const progress = progressFor(plan, deps);
  let outcome: { progress: Progress } | { error: unknown };
  try {
    const result = await runPlan({
      plan,
      action: ACTION_OF_MODE[plan.mode],
      executors: wiring.executors,
      guard: wiring.guard,
      planSpec: ctx.plan.spec,
      store: ctx.stateFile,
      clock,
      logger,
      ...stopOn(watch?.stop, deps.interrupts?.signal),
      onEvent: (event) => {
        if (event.type === 'start') inFlight = event.step;
        progress.onEvent(event);
        if (watch && gatePassed(event)) watch.start();
      },
    });
    outcome = { progress: result };
  } catch (error) {
    outcome = { error };
  } finally {
    // NOTE: closed before anything else runs: a reading after this (power back) can no longer stop anything.
    await watch?.close();
    await wiring.close();
  }
  await progress.finish('error' in outcome ? (outcome.error as Error) : undefined);
  if (watch?.trigger) throw new StoppedByUps(watch.trigger, outcome);
  if ('error' in outcome) throw outcome.error;
  return outcome.progress;
}

/** The run stops at a safe point when the UPS watch fires or on Ctrl-C, whichever comes first. */
function stopOn(...signals: (AbortSignal | undefined)[]): { stop?: AbortSignal } {
  const given = signals.filter((s): s is AbortSignal => s !== undefined);
  if (given.length === 0) return {};
  return { stop: given.length === 1 ? (given[0] as AbortSignal) : AbortSignal.any(given) };
}

/** A run stopped by Ctrl-C (or SIGTERM) at a safe point: exit 130 (143) saying where, and that a rerun resumes there. */
function interrupted(error: unknown, deps: CliDeps, rerun: string): ExitError | undefined {
  if (!(error instanceof RunStoppedError) || !deps.interrupts?.signal.aborted) return undefined;
  const { words, code } = deps.interrupts.cause;
  const step = `step ${error.beforeStep.id} (${error.beforeStep.title})`;
  const where = error.waitCut
    ? `stopped while waiting on ${step}, which had acted: its wait was cut short and a rerun checks it again`
    : `stopped before ${step}: the step in flight finished, nothing after it started`;
  return new ExitError(
    code,
    `interrupted (${words}): ${where}. The state file records where; rerun ${rerun} to resume.`,
    { cause: error },
  );
}

/** Where and how the startup ended when the UPS watch fired, for the message. */
function whereStopped(plan: RenderedPlan, outcome: StoppedByUps['outcome']): string {
  if (!('error' in outcome)) return 'The startup had already run its last step.';
  const { error } = outcome;
  if (error instanceof RunStoppedError) {
    const n = plan.steps.findIndex((s) => s.id === error.beforeStep.id) + 1;
    const step = `step ${n} (${error.beforeStep.id}: ${error.beforeStep.title})`;
    return error.waitCut
      ? `The startup stopped at a safe point while waiting on ${step}: it had been applied, its wait was cut short, nothing after it started.`
      : `The startup stopped at a safe point before ${step}; the step in flight finished, nothing after it started.`;
  }
  return `The startup ended with an error as well: ${error instanceof Error ? error.message : String(error)}.`;
}

/** One line for the outage record: why and where the startup stopped. */
function stopNote(stop: StoppedByUps): string {
  const { outcome } = stop;
  const error = 'error' in outcome && outcome.error instanceof RunStoppedError ? outcome.error : undefined;
  const where = error ? ` ${error.waitCut ? 'while waiting on' : 'before'} step ${error.beforeStep.id}` : '';
  return `startup stopped by the UPS watch${where} at ${stop.ups.at.toISOString()}: ${stop.ups.reason}`;
}

/**
 * Records in the state file why the startup stopped, before the emergency shutdown runs (its progress replaces the
 * startup's, `progress.stopped` included): appended to the outage's reason when an outage is open, and given to the
 * emergency plan's record step for when none is.
 */
async function recordUpsStop(ctx: CommandContext, plan: RenderedPlan, note: string): Promise<RenderedPlan> {
  const saved = await ctx.stateFile.load();
  if (saved?.outage.inOutage) {
    const reason = saved.outage.reason ? `${saved.outage.reason}; ${note}` : note;
    await ctx.stateFile.save({ ...saved, outage: { ...saved.outage, reason } });
  }
  const steps = plan.steps.map((s) =>
    s.kind === StepKind.RecordOutage ? { ...s, params: { ...s.params, reason: `emergency shutdown: ${note}` } } : s,
  );
  return { ...plan, steps };
}

/** Runs the emergency shutdown plan in place of the startup; the UPS watch is closed by then. */
async function runEmergency(
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
  seams: ExecuteSeams,
  compileEmergency: (ctx: CommandContext) => RenderedPlan,
  note?: string,
): Promise<void> {
  const saved = await ctx.stateFile.load();
  const compiled = compileEmergency({ ...ctx, ...(saved ? { saved } : {}) });
  const emergency = note ? await recordUpsStop(ctx, compiled, note) : compiled;
  try {
    printRecords(await runWithProgress(emergency, ctx, options, deps, seams), options, deps);
  } catch (error) {
    const stopped = interrupted(error, deps, 'hecate shutdown --emergency --execute');
    if (stopped) throw stopped;
    if (!(error instanceof StepFailedError)) throw error;
    throw new ExitError(
      ExitCode.Failed,
      `the emergency shutdown failed: ${error.message}\nRerun: hecate shutdown --emergency --execute (it resumes at this step).`,
      { cause: error },
    );
  }
}

/**
 * Runs a compiled plan against the cluster, recording progress in the state file after every step. A UPS gate that
 * refuses exits 3; inside an outage window on battery and low, startup runs the emergency shutdown instead. While a
 * startup runs, the UPS watch stops it on a new emergency and the emergency shutdown runs (exit 3).
 */
export async function executePlan(
  plan: RenderedPlan,
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
  compileEmergency: (ctx: CommandContext) => RenderedPlan,
  seams: ExecuteSeams = {},
): Promise<void> {
  try {
    const progress = await runWithProgress(plan, ctx, options, deps, seams);
    printRecords(progress, options, deps);
    // Hand the cold boot back to the operator, which finishes and keeps the history in the cluster.
    if (plan.mode === 'startup' && ctx.kubeConfig) {
      await seams.beforeHandBack?.();
      await handBack(ctx.kubeConfig, plan, progress, ctx.stateFile, deps.stderr);
    }
  } catch (error) {
    if (error instanceof StoppedByUps) {
      deps.stderr(
        `\nPower failed again during the startup: ${error.ups.reason}.\n${whereStopped(plan, error.outcome)}\n` +
          'Running the emergency shutdown now; power returning will not interrupt it.\n\n',
      );
      await runEmergency(ctx, options, deps, seams, compileEmergency, stopNote(error));
      throw new ExitError(
        ExitCode.RefusedByGate,
        `startup stopped by the UPS (${error.ups.reason}); the emergency shutdown ran to completion. ` +
          'Rerun hecate startup --execute when power is stable.',
        { cause: error },
      );
    }
    const stopped = interrupted(error, deps, 'the same command');
    if (stopped) throw stopped;
    const cause = error instanceof StepFailedError ? error.cause : undefined;
    if (cause instanceof GateRefusedError) {
      throw new ExitError(ExitCode.RefusedByGate, cause.message, { cause });
    }
    if (cause instanceof EmergencyShutdownRequired) {
      deps.stderr(`\n${cause.message}\nRunning the emergency shutdown instead of the startup.\n\n`);
      await runEmergency(ctx, options, deps, seams, compileEmergency);
      throw new ExitError(ExitCode.RefusedByGate, 'startup refused: the emergency shutdown ran instead (see above)', {
        cause,
      });
    }
    if (error instanceof StepFailedError) {
      throw new ExitError(
        ExitCode.Failed,
        `${error.message}\nFix the cause, then rerun the same command: it resumes at this step.`,
        { cause: error },
      );
    }
    throw error;
  }
}

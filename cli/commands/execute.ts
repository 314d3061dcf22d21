import { adapterLogger, systemClock } from '../../adapters/system.js';
import { clusterExecutors } from '../../adapters/wiring.js';
import type { Progress, RenderedPlan } from '../../core/api/index.js';
import { MissingExecutorError, StepFailedError } from '../../core/run/errors.js';
import { missingExecutors, type RunEvent, runPlan } from '../../core/run/runner.js';
import { EmergencyShutdownRequired, GateRefusedError } from '../../core/steps/ups.js';
import { toYaml } from '../../core/yaml.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommonOptions } from '../options.js';
import { LineProgress } from '../render/progress-lines.js';
import { ListrProgress } from '../render/progress-listr.js';
import type { CommandContext } from './context.js';
import { handBack } from './handoff.js';

const ACTION_OF = {
  prepare: 'prepare',
  shutdown: 'shutdown',
  'emergency-shutdown': 'shutdown',
  startup: 'startup',
  'harbor-seed': 'harbor-seed',
} as const;

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

/** Runs one plan with progress; refuses before touching anything when an executor is missing. */
async function runWithProgress(
  plan: RenderedPlan,
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
): Promise<Progress> {
  if (!ctx.kubeConfig) throw new ExitError(ExitCode.Usage, '--execute needs a cluster: pass --kubeconfig');
  const logger = adapterLogger(deps);
  const wiring = clusterExecutors({
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
  const progress = progressFor(plan, deps);
  try {
    const result = await runPlan({
      plan,
      action: ACTION_OF[plan.mode],
      executors: wiring.executors,
      guard: wiring.guard,
      store: ctx.stateFile,
      clock: systemClock,
      logger,
      onEvent: progress.onEvent,
    });
    await progress.finish();
    return result;
  } catch (error) {
    await progress.finish(error as Error);
    throw error;
  } finally {
    await wiring.close();
  }
}

/**
 * Runs a compiled plan against the cluster, recording progress in the state file after every step. A UPS gate that
 * refuses exits 3; inside an outage window on battery and low, startup runs the emergency shutdown instead.
 */
export async function executePlan(
  plan: RenderedPlan,
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
  compileEmergency: (ctx: CommandContext) => RenderedPlan,
): Promise<void> {
  try {
    const progress = await runWithProgress(plan, ctx, options, deps);
    printRecords(progress, options, deps);
    // Hand the cold boot back to the operator, which finishes and keeps the history in the cluster.
    if (plan.mode === 'startup' && ctx.kubeConfig) {
      await handBack(ctx.kubeConfig, plan, progress, ctx.stateFile, deps.stderr);
    }
  } catch (error) {
    const cause = error instanceof StepFailedError ? error.cause : undefined;
    if (cause instanceof GateRefusedError) {
      throw new ExitError(ExitCode.RefusedByGate, cause.message, { cause });
    }
    if (cause instanceof EmergencyShutdownRequired) {
      deps.stderr(`\n${cause.message}\nRunning the emergency shutdown instead of the startup.\n\n`);
      const saved = await ctx.stateFile.load();
      const emergency = compileEmergency({ ...ctx, ...(saved ? { saved } : {}) });
      printRecords(await runWithProgress(emergency, ctx, options, deps), options, deps);
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

import { adapterLogger, systemClock } from '../../adapters/system.js';
import type { Progress, RenderedPlan } from '../../core/api/index.js';
import { MissingExecutorError, StepFailedError } from '../../core/run/errors.js';
import { missingExecutors, type RunEvent, runPlan } from '../../core/run/runner.js';
import { toYaml } from '../../core/yaml.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommonOptions } from '../options.js';
import { LineProgress } from '../render/progress-lines.js';
import { ListrProgress } from '../render/progress-listr.js';
import type { CommandContext } from './context.js';
import { clusterExecutors } from './executors.js';

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

/**
 * Runs a compiled plan against the cluster, recording progress in the state file after every step.
 * NOTE: refuses before touching anything when this build has no executor for a step of the plan.
 */
export async function executePlan(
  plan: RenderedPlan,
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
): Promise<void> {
  if (!ctx.kubeConfig) throw new ExitError(ExitCode.Usage, '--execute needs a cluster: pass --kubeconfig');
  const { executors, guard } = clusterExecutors(ctx.kubeConfig, ctx.plan.spec);
  const missing = missingExecutors(plan, executors);
  if (missing.length > 0) {
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
      executors,
      guard,
      store: ctx.stateFile,
      clock: systemClock,
      logger: adapterLogger(deps),
      onEvent: progress.onEvent,
    });
    await progress.finish();
    printRecords(result, options, deps);
  } catch (error) {
    await progress.finish(error as Error);
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

import { adapterLogger, systemClock } from '../../adapters/system.js';
import type { RenderedPlan } from '../../core/api/index.js';
import { MissingExecutorError } from '../../core/run/errors.js';
import { missingExecutors, runPlan } from '../../core/run/runner.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommandContext } from './context.js';
import { clusterExecutors } from './executors.js';

const ACTION_OF = {
  prepare: 'prepare',
  shutdown: 'shutdown',
  'emergency-shutdown': 'shutdown',
  startup: 'startup',
  'harbor-seed': 'harbor-seed',
} as const;

/**
 * Runs a compiled plan against the cluster, recording progress in the state file after every step.
 * NOTE: refuses before touching anything when this build has no executor for a step of the plan.
 */
export async function executePlan(plan: RenderedPlan, ctx: CommandContext, deps: CliDeps): Promise<void> {
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
  await runPlan({
    plan,
    action: ACTION_OF[plan.mode],
    executors,
    guard,
    store: ctx.stateFile,
    clock: systemClock,
    logger: adapterLogger(deps),
    onEvent: (event) => {
      if (event.type === 'start') deps.stderr(`→ ${event.step.title}\n`);
      if (event.type === 'done') deps.stderr(`✓ ${event.step.title}\n`);
      if (event.type === 'already-done') deps.stderr(`✓ ${event.step.title} (already done)\n`);
      if (event.type === 'skipped') deps.stderr(`- ${event.step.title} (skipped)\n`);
      if (event.type === 'failed') deps.stderr(`✗ ${event.step.title}: ${event.error.message}\n`);
      if (event.type === 'report') deps.stderr(`  ${event.message}\n`);
    },
  });
}

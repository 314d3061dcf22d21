import { KubeApi } from '../../adapters/kube/api.js';
import { describeTarget } from '../../adapters/kube/config.js';
import { whoAmI } from '../../adapters/kube/identity.js';
import type { PlanMode, RenderedPlan } from '../../core/api/index.js';
import { compilePlan } from '../../core/plan/index.js';
import { toYaml } from '../../core/yaml.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommonOptions } from '../options.js';
import { renderPlanText } from '../render/plan-text.js';
import { type CommandContext, loadContext } from './context.js';
import { executePlan } from './execute.js';
import { runServerDryRun } from './server-dry-run.js';

export function compileFor(mode: PlanMode, ctx: CommandContext, options: CommonOptions): RenderedPlan {
  return compilePlan(mode, {
    planName: ctx.plan.name,
    spec: ctx.plan.spec,
    execute: options.execute,
    paths: ctx.paths,
    observed: ctx.observed,
    ...(ctx.saved ? { outage: ctx.saved.outage } : {}),
    ...(options.ignoreUps ? { ignoreUps: true } : {}),
    ...(options.reason ? { reason: options.reason } : {}),
    ...(ctx.selfNode ? { selfNode: ctx.selfNode } : {}),
  });
}

export function printPlan(plan: RenderedPlan, source: string, options: CommonOptions, deps: CliDeps): void {
  if (options.output === 'json') deps.stdout(`${JSON.stringify(plan, null, 2)}\n`);
  else if (options.output === 'yaml') deps.stdout(toYaml(plan));
  else deps.stdout(renderPlanText(plan, source));
}

/** `--dry-run` asks not to act, `--execute` to act: both at once is a usage error, before anything is read. */
function checkDryRun(options: CommonOptions): void {
  if (options.dryRun && options.execute) {
    throw new ExitError(
      ExitCode.Usage,
      `--dry-run=${options.dryRun} and --execute exclude each other: --execute acts, --dry-run only shows what would happen; drop one`,
    );
  }
  if (options.dryRun === 'server' && options.offline) {
    throw new ExitError(
      ExitCode.Usage,
      '--dry-run=server asks the API server: drop --offline, or use --dry-run=client',
    );
  }
}

/**
 * Modes that act on a running cluster and mean nothing without it. startup and harbor-seed run on a cold boot,
 * when the API is expected to be down: startup waits for it, and both plan without it.
 */
const NEEDS_THE_API: ReadonlySet<string> = new Set(['prepare', 'shutdown', 'emergency-shutdown']);

/**
 * No mutation without the API: an executing run asks the server who it acts as (a SelfSubjectReview) before it
 * records anything, and stops with exit 4 when it gets no answer. A dry-run of a mode that needs the cluster says
 * plainly that it cannot reach it (exit 4: `--offline` plans without one); startup and harbor-seed dry-runs print
 * their plan anyway and name the server that did not answer.
 */
async function requireApi(mode: PlanMode, ctx: CommandContext, options: CommonOptions, deps: CliDeps): Promise<void> {
  const kc = ctx.kubeConfig;
  if (!kc) return;
  const target = describeTarget(kc);
  if (options.execute) {
    if (!NEEDS_THE_API.has(mode)) return;
    const identity = await whoAmI(kc);
    if (!identity.ok) {
      throw new ExitError(
        ExitCode.Unreachable,
        `cannot reach the API server of ${target}: ${identity.reason}. Nothing was recorded or changed.`,
      );
    }
    deps.stderr(`Acting as ${identity.username} on ${target}\n`);
    return;
  }
  if (ctx.observed.api !== 'unreachable') return;
  const reason = await new KubeApi(kc).ping().then(
    () => 'it did not answer in time',
    (error: Error) => error.message,
  );
  if (NEEDS_THE_API.has(mode)) {
    throw new ExitError(
      ExitCode.Unreachable,
      `cannot reach the API server of ${target}: ${reason}. Pass --offline to plan without a cluster.`,
    );
  }
  deps.stderr(`The API server of ${target} did not answer (${reason}): the plan below is the cold-boot one.\n`);
}

/**
 * prepare | shutdown | startup | harbor-seed. Dry-run (the default, `--dry-run=client`) prints the plan and changes
 * nothing: not the cluster, not a node, not the state file. `--dry-run=server` also sends the plan's changes with
 * dryRun=All (./server-dry-run.ts). `--execute` runs it.
 */
export async function runMode(requested: PlanMode, options: CommonOptions, deps: CliDeps): Promise<void> {
  const mode = requested === 'shutdown' && options.emergency ? 'emergency-shutdown' : requested;
  checkDryRun(options);
  const ctx = await loadContext(options, deps);
  const plan = compileFor(mode, ctx, options);
  if (options.dryRun === 'server') return runServerDryRun(plan, ctx, options, deps);
  if (options.execute && !ctx.kubeConfig) {
    throw new ExitError(ExitCode.Usage, '--execute needs a cluster: pass --kubeconfig (and not --offline)');
  }
  await requireApi(mode, ctx, options, deps);
  printPlan(plan, ctx.plan.source, options, deps);
  if (!options.execute) return;
  await executePlan(plan, ctx, options, deps, (latest) => compileFor('emergency-shutdown', latest, options));
}

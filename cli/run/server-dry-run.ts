/**
 * `--dry-run=server`: the plan's executors in their dry-run mode (cli/wiring.ts `dryRun`), on a transport that
 * sends every mutating request with dryRun=All (adapters/kube/dry-run.ts). The API server answers each one for
 * authentication, RBAC, admission and validation; nothing is stored, and the state file is neither read for progress
 * nor written: the outage record the executors see lives in memory for this run only.
 *
 * NOTE: not core/run/runner.ts: the runner persists after every step and stops at the first failure, while a probe
 * must store nothing and go on past a refusal so that every step is reported.
 */
import type { DryRunRequest } from '../../adapters/kube/dry-run.js';
import { adapterLogger } from '../../adapters/system.js';
import { type OutageRecord, outageRecord, type PlanStep, type RenderedPlan } from '../../core/api/index.js';
import { toYaml } from '../../core/api/yaml.js';
import { StepKind } from '../../core/plan/index.js';
import type { Clock, Logger } from '../../core/ports/index.js';
import type { StepContext } from '../../core/run/executor.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommonOptions } from '../options.js';
import { renderPlanText } from '../render/plan-text.js';
import type { ProbeVerdict, ServerDryRunReport, StepProbe } from '../render/server-dry-run-text.js';
import { renderServerDryRunText } from '../render/server-dry-run-text.js';
import { type ClusterWiring, clusterExecutors } from '../wiring.js';
import type { CommandContext } from './context.js';

export type { DryRunRequest };

const ONLY_READS = 'only reads';

/** Why a step kind is not probed: it sends no mutating request to the API server. */
const NOT_PROBED: Record<string, string> = {
  [StepKind.RecordOutage]: 'writes only the state file, which a dry run never writes',
  [StepKind.CloseOutage]: 'writes only the state file, which a dry run never writes',
  [StepKind.RefreshSnapshot]: 'runs git on this host: no API request',
  [StepKind.RecordFluxRevision]: `${ONLY_READS} (the revision goes to the state file)`,
  [StepKind.VerifyBundle]: `${ONLY_READS} (the bundle on this host)`,
  [StepKind.Preflight]: ONLY_READS,
  [StepKind.QuiesceStorage]: `${ONLY_READS} (waits for Longhorn volumes to detach)`,
  [StepKind.UpsGate]: `${ONLY_READS} (the UPS)`,
  [StepKind.WaitApi]: ONLY_READS,
  [StepKind.WaitNodes]: ONLY_READS,
  [StepKind.CheckFluxSource]: ONLY_READS,
  [StepKind.WaitFlux]: ONLY_READS,
  [StepKind.SeedHarbor]: 'streams the bundle into containerd on the node, which has no server-side dry run',
};

/** Real time, but waits return at once: a probe never waits (power-off's delay between nodes, for one). */
function probeClock(deps: CliDeps): Clock {
  return { now: () => deps.now(), sleep: async (_ms, signal) => signal?.throwIfAborted() };
}

/** The executors' warnings (a refused eviction, say) are in the report already: printed only with HECATE_VERBOSE. */
function quietLogger(logger: Logger, deps: CliDeps): Logger {
  return deps.env.HECATE_VERBOSE || deps.env.HECATE_DEBUG ? logger : { ...logger, warn: logger.info };
}

/** Runs every step of `plan` as a server-side dry run, in plan order and one at a time; never throws for a step. */
export async function probePlan(
  plan: RenderedPlan,
  wiring: ClusterWiring,
  start: { outage?: OutageRecord; clock: Clock; logger: Logger },
): Promise<ServerDryRunReport> {
  let outage = structuredClone(start.outage ?? outageRecord.parse({}));
  const steps: StepProbe[] = [];
  for (const step of plan.steps) {
    const notes: string[] = [];
    const ctx: StepContext = {
      plan,
      clock: start.clock,
      logger: start.logger,
      signal: new AbortController().signal,
      ...(step.timeoutSeconds ? { deadline: start.clock.now().getTime() + step.timeoutSeconds * 1000 } : {}),
      outage: () => structuredClone(outage),
      record: async (change) => {
        const next = structuredClone(outage);
        change(next);
        outage = outageRecord.parse(next);
      },
      report: (message) => notes.push(message),
    };
    const result = await probeStep(step, wiring, ctx);
    const requests = wiring.dryRunLog?.take() ?? [];
    steps.push({ ...describe(step), ...verdictOf(result, requests), requests, notes });
  }
  return { steps, summary: summarize(steps) };
}

type StepResult =
  | { kind: 'ran' }
  | { kind: 'failed'; error: unknown }
  | { kind: Exclude<ProbeVerdict, 'allowed' | 'refused' | 'failed'>; reason?: string };

async function probeStep(step: PlanStep, wiring: ClusterWiring, ctx: StepContext): Promise<StepResult> {
  const executor = wiring.executors[step.kind];
  if (!executor) {
    return { kind: 'not-probed', reason: NOT_PROBED[step.kind] ?? 'no server-side dry run for this kind of step' };
  }
  try {
    if (step.when !== 'always' && !(await wiring.guard(step.when, ctx))) {
      return { kind: 'skipped', reason: `guard ${step.when} does not hold: a run would skip it` };
    }
    if (await executor.check(step, ctx)) return { kind: 'already-done' };
    await executor.apply(step, ctx);
    await executor.wait?.(step, ctx);
    return { kind: 'ran' };
  } catch (error) {
    return { kind: 'failed', error };
  }
}

function verdictOf(result: StepResult, requests: readonly DryRunRequest[]): Pick<StepProbe, 'verdict' | 'reason'> {
  const refused = requests.some((r) => r.outcome === 'refused');
  if (result.kind === 'ran') return { verdict: refused ? 'refused' : 'allowed' };
  if (result.kind === 'failed') {
    const reason = result.error instanceof Error ? result.error.message : String(result.error);
    return { verdict: refused ? 'refused' : 'failed', reason };
  }
  return { verdict: result.kind, ...(result.reason ? { reason: result.reason } : {}) };
}

function describe(step: PlanStep): Pick<StepProbe, 'id' | 'stage' | 'kind' | 'title'> {
  return { id: step.id, stage: step.stage, kind: step.kind, title: step.title };
}

function summarize(steps: readonly StepProbe[]): ServerDryRunReport['summary'] {
  const count = (verdict: ProbeVerdict) => steps.filter((s) => s.verdict === verdict).length;
  const requests = steps.flatMap((s) => s.requests);
  return {
    allowed: count('allowed'),
    refused: count('refused'),
    failed: count('failed'),
    'already-done': count('already-done'),
    skipped: count('skipped'),
    'not-probed': count('not-probed'),
    requests: requests.length,
    refusedRequests: requests.filter((r) => r.outcome === 'refused').length,
  };
}

/**
 * Prints the plan, probes it against the server and prints what the server said; exit 1 (a run would fail) when a
 * request was refused or a step failed. `-o json|yaml`: one document `{ plan, serverDryRun }`.
 */
export async function runServerDryRun(
  plan: RenderedPlan,
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
): Promise<void> {
  if (!ctx.kubeConfig || ctx.observed.api === 'unreachable') {
    throw new ExitError(
      ctx.kubeConfig ? ExitCode.Unreachable : ExitCode.Usage,
      ctx.kubeConfig
        ? '--dry-run=server needs the API server, which does not answer; --dry-run=client prints the plan without it'
        : '--dry-run=server needs a cluster: pass --kubeconfig (and not --offline)',
    );
  }
  const logger = quietLogger(adapterLogger(deps), deps);
  const wiring = clusterExecutors({
    kc: ctx.kubeConfig,
    mode: plan.mode,
    spec: ctx.plan.spec,
    paths: ctx.paths,
    env: deps.env,
    logger,
    dryRun: true,
  });
  let report: ServerDryRunReport;
  try {
    report = await probePlan(plan, wiring, {
      clock: probeClock(deps),
      logger,
      ...(ctx.saved ? { outage: ctx.saved.outage } : {}),
    });
  } finally {
    await wiring.close();
  }
  if (options.output === 'json') deps.stdout(`${JSON.stringify({ plan, serverDryRun: report }, null, 2)}\n`);
  else if (options.output === 'yaml') deps.stdout(toYaml({ plan, serverDryRun: report }));
  else deps.stdout(`${renderPlanText(plan, ctx.plan.source)}\n${renderServerDryRunText(plan, report)}`);
  const { refused, failed, refusedRequests } = report.summary;
  if (refused + failed > 0) {
    const first = report.steps.find((s) => s.verdict === 'refused' || s.verdict === 'failed');
    throw new ExitError(
      ExitCode.Failed,
      `server dry-run: ${refusedRequests} request(s) refused, ${refused + failed} step(s) would fail; --execute would stop at ${first?.id}`,
    );
  }
}

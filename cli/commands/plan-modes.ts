import { hostname } from 'node:os';
import type { KubeRunLease } from '../../adapters/kube/run-lease.js';
import { describeHolder, processSeams, RunLock, RunLockHeldError } from '../../adapters/run-lock.js';
import type { PlanMode, RenderedPlan } from '../../core/api/index.js';
import { toYaml } from '../../core/api/yaml.js';
import { compilePlan } from '../../core/plan/index.js';
import { describeSpecChanges, specForRun } from '../../core/plan/recorded-spec.js';
import { type WayBackGap, wayBackRecordOf } from '../../core/plan/way-back.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommonOptions } from '../options.js';
import { renderPlanText } from '../render/plan-text.js';
import { type CommandContext, loadContext } from '../run/context.js';
import { renderGaps, wayBack } from '../run/way-back.js';

export function compileMode(mode: PlanMode, ctx: CommandContext, options: CommonOptions): RenderedPlan {
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

/**
 * A rerun resumes its unfinished run from the PowerPlan spec that run recorded, not from the plan file as it is now;
 * when the two differ it says what changed (on stderr, when `say`), and the change waits for the next run.
 */
function withRecordedSpec(mode: PlanMode, ctx: CommandContext, deps: CliDeps, say: boolean): CommandContext {
  const chosen = specForRun(mode, ctx.plan.spec, ctx.saved?.progress);
  if (say && chosen.changes.length > 0) deps.stderr(`${describeSpecChanges(ctx.plan.name, mode, chosen.changes)}\n`);
  return chosen.recorded ? { ...ctx, plan: { ...ctx.plan, spec: chosen.spec } } : ctx;
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
async function requireApi(
  mode: PlanMode,
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
): Promise<string | undefined> {
  const kc = ctx.kubeConfig;
  if (!kc) return undefined;
  const { describeTarget } = await import('../../adapters/kube/config.js');
  const target = describeTarget(kc);
  if (options.execute) {
    if (!NEEDS_THE_API.has(mode)) return undefined;
    const { whoAmI } = await import('../../adapters/kube/identity.js');
    const identity = await whoAmI(kc);
    if (!identity.ok) {
      throw new ExitError(
        ExitCode.Unreachable,
        `cannot reach the API server of ${target}: ${identity.reason}. Nothing was recorded or changed.`,
      );
    }
    return `Acting as ${identity.username} on ${target}`;
  }
  if (ctx.observed.api !== 'unreachable') return undefined;
  const { KubeReadyz } = await import('../../adapters/kube/readyz.js');
  const reason = await new KubeReadyz(kc).ping().then(
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
  return undefined;
}

/**
 * One mutating run at a time: the lock beside the state file (exit 3 naming its holder). A holder on this host
 * whose process is gone is taken over, and the user is told.
 */
async function takeRunLock(
  requested: PlanMode,
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
): Promise<RunLock> {
  const command = ['hecate', requested, ...(options.emergency ? ['--emergency'] : []), '--execute'].join(' ');
  const holder = { host: hostname(), pid: process.pid, command, startedAt: deps.now().toISOString() };
  try {
    const lock = await RunLock.acquire(`${ctx.paths.stateFile}.lock`, holder, processSeams(holder.host));
    if (lock.tookOverFrom) {
      deps.stderr(`Took over ${lock.path}: its holder ${describeHolder(lock.tookOverFrom)} is no longer running\n`);
    }
    return lock;
  } catch (error) {
    if (!(error instanceof RunLockHeldError)) throw error;
    throw new ExitError(
      ExitCode.RefusedByGate,
      `${error.message}. Nothing was changed. Wait for it to finish; if that run is gone (another host, a reinstalled machine), remove ${error.path}`,
      { cause: error },
    );
  }
}

/**
 * prepare | shutdown | startup | harbor-seed. Dry-run (the default, `--dry-run=client`) prints the plan and changes
 * nothing: not the cluster, not a node, not the state file. `--dry-run=server` also sends the plan's changes with
 * dryRun=All (./server-dry-run.ts). `--execute` runs it.
 * NOTE: what only a server dry-run or an executing run uses is imported when it runs: an offline dry-run loads no
 * kube adapter (none of @kubernetes/client-node).
 */
export async function runMode(requested: PlanMode, options: CommonOptions, deps: CliDeps): Promise<void> {
  const mode = requested === 'shutdown' && options.emergency ? 'emergency-shutdown' : requested;
  checkDryRun(options);
  const loaded = await loadContext(options, deps);
  const ctx = withRecordedSpec(mode, loaded, deps, true);
  const plan = compileMode(mode, ctx, options);
  if (options.dryRun === 'server') {
    const { runServerDryRun } = await import('../run/server-dry-run.js');
    return runServerDryRun(plan, ctx, options, deps);
  }
  if (!options.execute) {
    await requireApi(mode, ctx, options, deps);
    if (checksWayBack(mode)) showWayBack(mode, await wayBack(ctx, options, deps), options, deps);
    return printPlan(plan, ctx.plan.source, options, deps);
  }
  if (!ctx.kubeConfig) {
    throw new ExitError(ExitCode.Usage, '--execute needs a cluster: pass --kubeconfig (and not --offline)');
  }
  const { executePlan } = await import('../run/execute.js');
  const lock = await takeRunLock(requested, ctx, options, deps);
  let lease: KubeRunLease | undefined;
  // NOTE: from here on, Ctrl-C stops at a safe point and the lock and the Lease are released (../interrupt.ts)
  const release = deps.interrupts?.hold();
  try {
    const acting = await requireApi(mode, ctx, options, deps);
    const ignored = checksWayBack(mode) ? await requireWayBack(mode, ctx, options, deps) : undefined;
    lease = await takeRunLease(lock, ctx, deps);
    if (acting) deps.stderr(`${acting}\n`);
    const run = ignored ? { ...options, reason: [options.reason, ignored].filter(Boolean).join('; ') } : options;
    // NOTE: the state file may have changed between loadContext and the lock; compile from what is there now.
    const { saved: _before, ...rest } = loaded;
    const saved = await ctx.stateFile.load();
    const locked = withRecordedSpec(mode, saved ? { ...rest, saved } : rest, deps, ctx === loaded);
    const current = compileMode(mode, locked, run);
    printPlan(current, ctx.plan.source, run, deps);
    const passOn = async () => lease?.release();
    await executePlan(current, locked, run, deps, (latest) => compileMode('emergency-shutdown', latest, run), {
      beforeHandBack: passOn,
    });
    if (mode === 'prepare') await reportWayBack(options, deps);
  } finally {
    await lease?.release();
    await lock.release();
    release?.();
  }
}

/**
 * The run Lease the operator takes for the PowerEvent it runs, so that the CLI and the operator never act at
 * once: held by the operator, this run exits 3 naming it. Taken only when the API answers (a cold-boot startup
 * begins without one, and then no operator runs either).
 */
async function takeRunLease(lock: RunLock, ctx: CommandContext, deps: CliDeps): Promise<KubeRunLease | undefined> {
  if (!ctx.kubeConfig || ctx.observed.api !== 'reachable') return undefined;
  const { describeRefusal, KubeRunLease, operatorRunEnded } = await import('../../adapters/kube/run-lease.js');
  const { host, pid, command } = lock.holder;
  const alive = processSeams(host).isAlive;
  const kc = ctx.kubeConfig;
  const lease = new KubeRunLease(ctx.kubeConfig, `cli/${host}/${pid}: ${command}`, {
    // a run of this host whose process is gone (killed, a power cut), or an operator run that is over, acts no more
    takeOverFrom: async (holder) => {
      const [, holderHost, holderPid] = /^cli\/([^/]+)\/(\d+):/.exec(holder) ?? [];
      if (holderHost === host && !alive(Number(holderPid))) return true;
      return kc ? operatorRunEnded(kc, holder) : false;
    },
  });
  const attempt = await lease.acquire().catch((error: Error) => ({ ok: true as const, note: error.message }));
  if (!attempt.ok) {
    throw new ExitError(
      ExitCode.RefusedByGate,
      `${describeRefusal(attempt)}: another run acts on this cluster. Nothing was changed. Wait for it to finish (kubectl get powerevents -A shows the operator's)`,
    );
  }
  if (attempt.note) deps.stderr(`Note: the run Lease ${lease.path} was not taken (${attempt.note})\n`);
  return lease;
}

/**
 * prepare is what closes the way back's gaps: after it, look again (snapshot and Flux as they are now), say, and
 * record the verdict in the PowerPlan's status, where the operator reads it before a shutdown it runs.
 */
async function reportWayBack(options: CommonOptions, deps: CliDeps): Promise<void> {
  const ctx = await loadContext(options, deps);
  const gaps = await wayBack(ctx, options, deps);
  if (gaps.length === 0) {
    deps.stderr('Way back verified: a shutdown now has what startup needs after the power is cut\n');
  } else {
    deps.stderr(
      `Way back: ${gaps.length} gap${gaps.length > 1 ? 's' : ''} left that prepare cannot close:\n${renderGaps(gaps).join('\n')}\n`,
    );
  }
  if (!ctx.kubeConfig || ctx.observed.api !== 'reachable') return;
  const record = wayBackRecordOf(gaps, {
    now: deps.now(),
    checkedBy: `cli/${hostname()}`,
    fluxRevision: ctx.observed.flux?.sourceRevision,
  });
  const plan = ctx.plan.name;
  const { recordWayBack } = await import('../../adapters/kube/way-back-record.js');
  const written = await recordWayBack(ctx.kubeConfig, plan, record).catch((error: Error) => error);
  if (written === true) {
    deps.stderr(`Recorded in PowerPlan ${plan} (status.wayBack): the operator's shutdowns read it\n`);
  } else if (written === false) {
    deps.stderr(
      `Note: the cluster has no PowerPlan "${plan}": the operator cannot run a shutdown of it (kubectl apply the plan, then hecate prepare --execute again)\n`,
    );
  } else {
    deps.stderr(`WARNING: could not record the way back in PowerPlan ${plan}: ${written.message}\n`);
  }
}

const checksWayBack = (mode: PlanMode) => mode === 'shutdown' || mode === 'emergency-shutdown';

/** The dry-run lists the gaps at the top: on stdout before a text plan, on stderr beside a JSON or YAML one. */
function showWayBack(mode: PlanMode, gaps: readonly WayBackGap[], options: CommonOptions, deps: CliDeps): void {
  const write = options.output === 'text' ? deps.stdout : deps.stderr;
  if (gaps.length === 0) {
    write('Way back: no gaps found: startup has what it needs after the power is cut\n\n');
    return;
  }
  const consequence =
    mode === 'emergency-shutdown'
      ? 'an emergency shutdown goes ahead anyway'
      : 'shutdown --execute refuses until they are closed, or --ignore-way-back';
  write(
    `Way back: ${gaps.length} gap${gaps.length > 1 ? 's' : ''} (${consequence}):\n${renderGaps(gaps).join('\n')}\n\n`,
  );
}

/**
 * Never a shutdown without a way back: a graceful shutdown with gaps refuses (exit 3, each gap with its fix), unless
 * --ignore-way-back, which is then recorded with the outage (returned as a note for its reason). An emergency only
 * warns: a UPS running out does not wait.
 */
async function requireWayBack(
  mode: PlanMode,
  ctx: CommandContext,
  options: CommonOptions,
  deps: CliDeps,
): Promise<string | undefined> {
  const gaps = await wayBack(ctx, options, deps);
  if (gaps.length === 0) return undefined;
  const listed = renderGaps(gaps).join('\n');
  if (mode === 'emergency-shutdown' || options.ignoreWayBack) {
    const why = options.ignoreWayBack ? '--ignore-way-back' : 'emergency';
    deps.stderr(`WARNING: going ahead without a verified way back (${why}):\n${listed}\n`);
    return `way back not verified (${why}): ${gaps.map((g) => g.what).join('; ')}`;
  }
  throw new ExitError(
    ExitCode.RefusedByGate,
    `refusing to shut down: startup could not bring the cluster back after the power cut (${gaps.length} gap${gaps.length > 1 ? 's' : ''}). Nothing was changed.\n${listed}\n` +
      'Close them (hecate prepare --execute closes most), or pass --ignore-way-back to shut down anyway (recorded in the outage record).',
  );
}

/**
 * Collects the status: the plan and paths (loadContext), then on every `collect()` the state file, the cluster,
 * the snapshot and the UPS, read afresh. `hecate status`, `--watch` and `hecate console` share it.
 */
import { snapshotRevision } from '../../adapters/git.js';
import { adapterLogger, systemClock } from '../../adapters/system.js';
import type { Clock } from '../../core/ports/index.js';
import type { UpsReading } from '../../core/ports/ups.js';
import type { CliDeps } from '../deps.js';
import type { CommonOptions } from '../options.js';
import { type CommandContext, loadContext } from '../run/context.js';
import { buildStatus } from './build.js';
import type { StatusReport } from './model.js';
import { type ClusterFacts, observeForStatus } from './observe.js';
import { readUps, upsStatus } from './ups.js';
import type { StatusPart } from './watch.js';

export { buildStatus, type StatusInputs } from './build.js';
export { type StatusReport, statusJsonSchema, statusReport } from './model.js';
export { type ClusterFacts, observeForStatus } from './observe.js';
export { type ChangeFeed, type StatusPart, startChangeFeed } from './watch.js';

export interface StatusCollector {
  readonly ctx: CommandContext;
  /** Reads `parts` again (default: all) and builds the status from them and the last reading of the rest. */
  collect(parts?: ReadonlySet<StatusPart>): Promise<StatusReport>;
}

const ALL: ReadonlySet<StatusPart> = new Set(['cluster', 'state', 'ups']);
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Loads the plan once; each `collect()` reads the changed parts again. */
export async function openStatus(options: CommonOptions, deps: CliDeps): Promise<StatusCollector> {
  // NOTE: loadContext also takes a short look at the cluster; the status reads it again, in more detail.
  const ctx = await loadContext(options, deps);
  const clock: Clock = { now: deps.now, sleep: systemClock.sleep };
  // UPS and adapter warnings must not garble a screen or a JSON document: what matters is in the model.
  const logger = adapterLogger({ stderr: () => undefined, env: deps.env });
  const { spec } = ctx.plan;
  let state: { saved?: Awaited<ReturnType<typeof ctx.stateFile.load>>; error?: string } = {};
  let facts: ClusterFacts = { api: 'unknown', unseen: [] };
  let snapshot: { present: boolean; revision?: string } | undefined;
  let reading: UpsReading | undefined;
  const readState = async () => {
    try {
      state = { saved: await ctx.stateFile.load() };
    } catch (error) {
      state = { error: `the state file ${ctx.paths.stateFile}: ${message(error)}` };
    }
  };
  const readCluster = async () => {
    [facts, snapshot] = await Promise.all([
      ctx.kubeConfig ? observeForStatus(ctx.kubeConfig, spec, undefined, ctx.plan.name) : facts,
      snapshotRevision(ctx.paths.repoSnapshot).catch(() => undefined),
    ]);
  };
  const readUpsNow = async () => {
    reading = await readUps(spec.ups, { clock, logger }).catch(() => undefined);
  };
  return {
    ctx,
    collect: async (parts = ALL) => {
      await Promise.all([
        parts.has('state') ? readState() : undefined,
        parts.has('cluster') ? readCluster() : undefined,
        parts.has('ups') ? readUpsNow() : undefined,
      ]);
      const report = buildStatus({
        plan: ctx.plan,
        paths: ctx.paths,
        ...(state.saved ? { saved: state.saved } : {}),
        facts,
        ...(snapshot ? { snapshot } : {}),
        ups: upsStatus(spec.ups, reading, deps.now()),
        now: deps.now(),
      });
      return state.error ? { ...report, unseen: [...report.unseen, state.error] } : report;
    },
  };
}

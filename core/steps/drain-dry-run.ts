import {
  type AttemptResult,
  decide,
  isGone,
  type PodAction,
  type PodObservation,
  podsForLevel,
} from '../drain/escalation.js';
import type { DrainOptions } from '../drain/options.js';
import { podKey } from '../drain/pod.js';
import type { PodPort } from '../ports/index.js';
import type { StepContext } from '../run/executor.js';
import { DrainFailedError, drainPodsOn, type Perform } from './drain-loop.js';

/**
 * A drain as a server-side dry run: each level in turn decides as the real drain would and sends its evictions or
 * deletes with dryRun=All, so the API server answers for RBAC, admission and PodDisruptionBudgets (a 429 shows
 * which pods would hold the drain until a later level). A pod whose request was accepted counts as gone for the
 * levels after. Nothing waits, nothing is persisted. Throws {@link DrainFailedError} when the real drain would
 * refuse before touching anything (e.g. emptyDir data without `deleteEmptyDirData`).
 */
export async function simulateDrain(
  node: string,
  pods: PodPort,
  options: DrainOptions,
  ctx: StepContext,
  perform: Perform,
): Promise<void> {
  const nowMs = ctx.clock.now().getTime();
  let observations: PodObservation[] = (await drainPodsOn(pods, node)).map((pod) => ({ target: pod, current: pod }));
  for (const [levelIndex, level] of options.escalation.entries()) {
    const decision = decide({ levelIndex, levelStartedAtMs: nowMs }, observations, nowMs, options);
    if (decision.kind === 'done') return ctx.report(`${node}: would be drained by ${level} (server dry run)`);
    if (decision.kind === 'fail') throw new DrainFailedError(node, decision.remaining, decision.reason);
    if (decision.kind !== 'act') continue;
    const results = await Promise.all(decision.actions.map((action) => perform(action)));
    ctx.report(`${node}: at ${level} ${describe(decision.actions, results)} (server dry run)`);
    observations = observations.map((o) => settle(o, decision.actions, results));
  }
  const last = options.escalation[options.escalation.length - 1] ?? 'evict';
  const stuck = observations.filter((o) => !isGone(o)).map((o) => o.target);
  const left = podsForLevel(stuck, options, last, nowMs).map(podKey);
  if (left.length > 0) ctx.report(`${node}: would still hold ${left.join(', ')} after ${last}`);
  else ctx.report(`${node}: would be drained (server dry run)`);
}

/** The pod's answer at this level; an accepted request makes it gone for the levels after. */
function settle(o: PodObservation, actions: readonly PodAction[], results: readonly AttemptResult[]): PodObservation {
  const i = actions.findIndex((a) => a.uid === o.target.uid);
  const result = results[i];
  if (result === undefined) return o;
  return { target: o.target, current: result.kind === 'accepted' ? null : o.current, last: result };
}

function describe(actions: readonly PodAction[], results: readonly AttemptResult[]): string {
  return actions
    .map((action, i) => {
      const verb = action.kind === 'evict' ? 'would evict' : 'would delete';
      const result = results[i];
      const answer = result?.kind === 'error' ? `error ${result.status}` : (result?.kind ?? 'no answer');
      return `${verb} ${podKey(action)} (${answer})`;
    })
    .join(', ');
}

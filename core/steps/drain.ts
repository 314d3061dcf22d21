import type { PlanStep } from '../api/plan.js';
import { selectPodsForDrain } from '../drain/filters.js';
import type { DrainOptions } from '../drain/options.js';
import { type DrainPod, podKey } from '../drain/pod.js';
import type { NodePort, PodPort } from '../ports/index.js';
import type { StepContext, StepExecutor } from '../run/executor.js';
import { cordonNode } from './cordon.js';
import { simulateDrain } from './drain-dry-run.js';
import { type DrainLoopSettings, drainPodsOn, NodeDrain, type Perform } from './drain-loop.js';

/** How one drain executor behaves besides the {@link DrainOptions}. */
export interface DrainNodeSettings extends DrainLoopSettings {
  /** Written into the node's `power.hecate.dev/cordoned-by` annotation (default `hecate`). */
  readonly owner?: string;
  /**
   * Server-side dry run: the cordon and one eviction (or delete) per pod and level go out with dryRun=All, so RBAC,
   * admission and PodDisruptionBudgets answer; nothing is persisted, recorded or waited for.
   */
  readonly dryRun?: boolean;
}

export { DrainFailedError } from './drain-loop.js';

/** The node a `drain/<node>` step drains. */
export function nodeOf(step: PlanStep): string {
  const node = step.params.node ?? step.targets[0];
  if (!node) throw new Error(`step ${step.id} names no node`);
  return node;
}

/**
 * Cordons and drains one node (kind `drain-node`), escalating evict → force → disable-eviction as
 * {@link DrainOptions} says; see core/drain/escalation.ts `decide` for the policy.
 *
 * - check: the node is cordoned and no pod is left that any level would delete (DaemonSet and mirror pods do not
 *   count); a node Hecate cordoned but has not recorded is not done, so that apply records it, nor is a node whose
 *   escalation level is still recorded (a crash after its last pod went), so that wait removes the entry.
 * - apply: records the node in `cordonedByHecate` BEFORE cordoning it, unless someone else had already cordoned it
 *   (./cordon.ts); in a shutdown, `cordon-nodes` has done both for every worker already.
 * - wait: evicts, escalates and waits (watch-driven, bounded by `ctx.deadline`) until every pod is gone (404 or a new
 *   uid), or throws {@link DrainFailedError} / DeadlineExceededError naming every pod left and why.
 *
 * NOTE: the escalation survives a crash: each node's level and when it was entered are recorded in the outage record
 * (`drainLevels`) before the drain acts at that level, and a rerun resumes there with the time already spent counted
 * (core/drain/resume.ts), never at a gentler level.
 */
export function drainNode(
  nodes: NodePort,
  pods: PodPort,
  options: DrainOptions,
  settings: DrainNodeSettings = {},
): StepExecutor {
  const owner = settings.owner ?? 'hecate';
  const dryRun = settings.dryRun ?? false;
  /** Per node: its pods as check() listed them on the cordoned node, for the drain that follows (listed once). */
  const listedByCheck = new Map<string, DrainPod[]>();
  return {
    check: async (step, ctx) => {
      const name = nodeOf(step);
      listedByCheck.delete(name);
      const node = await nodes.get(name);
      if (!node?.unschedulable) return false;
      if (node.cordonedBy === owner && !ctx.outage().cordonedByHecate.includes(name)) return false;
      if (ctx.outage().drainLevels?.[name] !== undefined) return false;
      const listed = await drainPodsOn(pods, name);
      if (leftToDrain(listed, options, ctx.clock.now().getTime()).length === 0) return true;
      listedByCheck.set(name, listed); // cordoned when listed: no pod the drain must see is scheduled after it
      return false;
    },
    apply: async (step, ctx) => {
      const name = nodeOf(step);
      const node = await nodes.get(name);
      if (!node) return ctx.report(`${name}: no such node, nothing to cordon or drain`);
      await cordonNode(node, nodes, ctx, { owner, dryRun });
    },
    wait: async (step, ctx) => {
      const name = nodeOf(step);
      const listed = listedByCheck.get(name);
      listedByCheck.delete(name);
      if (dryRun) return simulateDrain(name, pods, options, ctx, perform(pods, ctx, true));
      await new NodeDrain(name, pods, options, ctx, settings, perform(pods, ctx, false)).run(listed);
    },
  };
}

/** Pods on `node` that a drain at its harshest level would delete, or that block it (errors). */
function leftToDrain(listed: DrainPod[], options: DrainOptions, nowMs: number): DrainPod[] {
  const last = options.escalation[options.escalation.length - 1];
  if (last === undefined) return [];
  const selection = selectPodsForDrain(listed, options, last, nowMs);
  return [...selection.toDelete, ...selection.errors.map((v) => v.pod)];
}

function perform(pods: PodPort, ctx: StepContext, dryRun: boolean): Perform {
  return async (action) => {
    const ref = { namespace: action.namespace, name: action.name, uid: action.uid };
    const request = action.kind === 'evict' ? pods.evict.bind(pods) : pods.delete.bind(pods);
    const fields = { pod: podKey(action), level: action.level, dryRun };
    try {
      const kind = await request(ref, action.gracePeriodSeconds, { dryRun, signal: ctx.signal });
      ctx.logger.info(`${action.kind === 'evict' ? 'Evicting' : 'Deleting'} pod ${podKey(action)}: ${kind}`, fields);
      return { kind, level: action.level, atMs: ctx.clock.now().getTime() };
    } catch (error) {
      const status = (error as { code?: unknown }).code;
      const message = error instanceof Error ? error.message : String(error);
      ctx.logger.warn(`Could not ${action.kind} pod ${podKey(action)}`, { ...fields, error: message });
      const atMs = ctx.clock.now().getTime();
      return { kind: 'error', level: action.level, atMs, status: typeof status === 'number' ? status : 0, message };
    }
  };
}

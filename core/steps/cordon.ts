/**
 * Cordoning, Hecate's way: a node is recorded in `cordonedByHecate` BEFORE it is cordoned, so that startup uncordons
 * exactly what Hecate cordoned; a node someone else had cordoned is left out of the record (startup must leave it
 * cordoned) and the report says so. Used by the drain of one node (./drain.ts) and by `cordon-nodes`, which cordons
 * every worker before the first eviction of a shutdown.
 */
import type { NodePort, NodeView } from '../ports/index.js';
import type { StepContext, StepExecutor } from '../run/executor.js';

export interface CordonSettings {
  /** Written into the node's `power.hecate.dev/cordoned-by` annotation (default `hecate`). */
  readonly owner?: string;
  /** Server-side dry run: the cordons go out with dryRun=All; nothing is recorded. */
  readonly dryRun?: boolean;
}

/** Cordon requests in flight at once for `cordon-nodes`. */
const CORDONS_AT_ONCE = 8;

/** Hecate recorded the node, or its annotation says Hecate cordoned it: startup may uncordon it. */
function isMine(node: NodeView, ctx: StepContext, owner: string): boolean {
  return ctx.outage().cordonedByHecate.includes(node.name) || node.cordonedBy === owner;
}

/** Cordoned by someone else: reported, never recorded. */
function cordonedByOther(node: NodeView, ctx: StepContext, owner: string): boolean {
  if (!node.unschedulable || isMine(node, ctx, owner)) return false;
  const by = node.cordonedBy ? ` (by ${node.cordonedBy})` : '';
  ctx.report(`${node.name} was already cordoned by someone else${by}: not recorded, so startup leaves it cordoned`);
  return true;
}

/** Sends the cordon unless Hecate's own cordon is already in place. The node must be recorded already. */
async function sendCordon(node: NodeView, nodes: NodePort, ctx: StepContext, owner: string, dryRun: boolean) {
  if (node.unschedulable && node.cordonedBy === owner) return;
  await nodes.cordon(node.name, owner, { dryRun });
  ctx.report(`Cordoned ${node.name}${dryRun ? ' (server dry run)' : ''}`);
}

/** Records (unless recorded or a dry run), then cordons one node. */
export async function cordonNode(node: NodeView, nodes: NodePort, ctx: StepContext, settings: CordonSettings = {}) {
  const owner = settings.owner ?? 'hecate';
  const dryRun = settings.dryRun ?? false;
  if (cordonedByOther(node, ctx, owner)) return;
  if (!ctx.outage().cordonedByHecate.includes(node.name) && !dryRun) {
    await ctx.record((outage) => outage.cordonedByHecate.push(node.name));
  }
  await sendCordon(node, nodes, ctx, owner, dryRun);
}

/**
 * cordon-nodes: cordons every node in the step's targets before any of them is drained, so that a pod evicted from
 * one worker is never rescheduled onto a worker drained later (each such move would cost another escalation). The
 * nodes are recorded in one write before the first cordon, then cordoned a few at a time.
 *
 * - check: every target is gone, or cordoned and either recorded or someone else's (not annotated as Hecate's).
 */
export function cordonNodes(nodes: NodePort, settings: CordonSettings = {}): StepExecutor {
  const owner = settings.owner ?? 'hecate';
  const dryRun = settings.dryRun ?? false;
  return {
    check: async (step, ctx) => {
      const seen = await Promise.all(step.targets.map((name) => nodes.get(name)));
      const recorded = ctx.outage().cordonedByHecate;
      return seen.every((n) => !n || (n.unschedulable && (recorded.includes(n.name) || n.cordonedBy !== owner)));
    },
    apply: async (step, ctx) => {
      const seen = await Promise.all(step.targets.map(async (name) => ({ name, node: await nodes.get(name) })));
      for (const { name, node } of seen) if (!node) ctx.report(`${name}: no such node, nothing to cordon`);
      const ours = seen.flatMap(({ node }) => (node && !cordonedByOther(node, ctx, owner) ? [node] : []));
      const unrecorded = ours.map((n) => n.name).filter((name) => !ctx.outage().cordonedByHecate.includes(name));
      if (unrecorded.length > 0 && !dryRun) {
        await ctx.record((outage) => void outage.cordonedByHecate.push(...unrecorded));
      }
      const queue = [...ours];
      const worker = async () => {
        for (let node = queue.shift(); node; node = queue.shift()) await sendCordon(node, nodes, ctx, owner, dryRun);
      };
      await Promise.all(Array.from({ length: Math.min(CORDONS_AT_ONCE, queue.length) }, worker));
    },
  };
}

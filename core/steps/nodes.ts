import type { ApiPort, NodePort } from '../ports/index.js';
import type { StepExecutor } from '../run/executor.js';
import { waitUntil, waitWatching } from './wait.js';

/** Waits until `params.quorum` nodes of the plan report Ready. */
export function waitNodes(nodes: NodePort, intervalMs = 2_000): StepExecutor {
  const probe = async (targets: string[], quorum: number) => {
    const ready = (await nodes.list()).filter((n) => targets.includes(n.name) && n.ready).map((n) => n.name);
    return { done: ready.length >= quorum, status: `${ready.length} of ${quorum} needed nodes Ready` };
  };
  return {
    check: async (step) => (await probe(step.targets, Number(step.params.quorum ?? 1))).done,
    apply: async () => {},
    wait: async (step, ctx) => {
      const watch = nodes.watch?.bind(nodes);
      const quorum = Number(step.params.quorum ?? 1);
      await waitWatching(ctx, () => probe(step.targets, quorum), intervalMs, watch && (() => watch([])));
    },
  };
}

/**
 * Uncordons only the nodes Hecate recorded as cordoned, removing each from the record after it is done. A node found
 * schedulable already (a rerun after a crash between the uncordon and its record) is not sent a second one.
 */
export function uncordonNodes(nodes: NodePort): StepExecutor {
  return {
    check: async (_step, ctx) => ctx.outage().cordonedByHecate.length === 0,
    apply: async (_step, ctx) => {
      for (const name of ctx.outage().cordonedByHecate) {
        const node = await nodes.get(name);
        const cordoned = node !== undefined && (node.unschedulable || node.cordonedBy !== undefined);
        if (cordoned) await nodes.uncordon(name);
        ctx.report(
          !node ? `${name} no longer exists` : cordoned ? `uncordoned ${name}` : `${name} was already uncordoned`,
        );
        await ctx.record((outage) => {
          outage.cordonedByHecate = outage.cordonedByHecate.filter((n) => n !== name);
        });
      }
    },
  };
}

/** Waits for the API server to answer, with backoff up to 10 s between tries, until the step's deadline. */
export function waitApi(api: ApiPort): StepExecutor {
  return {
    check: async () =>
      api.ping().then(
        () => true,
        () => false,
      ),
    apply: async () => {},
    wait: async (_step, ctx) => {
      let interval = 500;
      await waitUntil(
        ctx,
        async () => {
          interval = Math.min(interval * 2, 10_000);
          await api.ping(ctx.signal);
          return { done: true, status: 'API ready' };
        },
        interval,
      );
    },
  };
}

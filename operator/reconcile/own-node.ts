/**
 * The operator's own node is powered off last, after the final status is written (issue 8, item 3).
 *
 * The plan puts the operator's node last (core/plan `selfNode`). When that step runs, the power-off executor first
 * records the node in `outage.poweredOff` (saved to status), then delivers. Between the two, the reconciler writes
 * its last status ({@link lastWords} in operator/status.ts) and seals the store: nothing this process does after
 * that (the runner's `done`, the SIGTERM the host's shutdown sends) writes status again.
 *
 * NOTE: record before act. A crash between the last status and the delivery leaves a status that says the power-off
 * was sent; the next operator confirms it without sending it again. That is the safe side: by then power may have
 * come back, and a second power-off would take a recovered node down. A node left up that way is visible (it never
 * went NotReady) and the confirmation says the power-off was not sent again.
 */
import {
  ConditionType,
  type OutageRecord,
  type PlanStep,
  type PowerEvent,
  type PowerEventStatus,
  type RenderedPlan,
} from '../../core/api/index.js';
import { StepKind } from '../../core/plan/index.js';
import type { Executors, StepContext } from '../../core/run/executor.js';
import { getCondition } from '../../core/status/conditions.js';
import { Reason } from '../../core/status/reasons.js';
import { Outcome } from '../runtime/outcome.js';
import * as next from '../status.js';
import { emit, factsOf, liveEvent } from './context.js';
import type { PowerEventReconcilerDeps, StatusStore } from './deps.js';
import type { EventRun } from './run.js';
import { hasStopFinalizer } from './stop.js';

/**
 * The run's executors, with the last status written between the record and the delivery of the own node's power-off
 * when the plan ends with it: the finalizer goes, the last status is written and the store sealed; when the delivery
 * fails the store is unsealed, so that the failure is written.
 */
export function ownNodeLast(deps: PowerEventReconcilerDeps, run: EventRun): Executors {
  const { key, event, store, plan } = run;
  const executors = run.wiring.executors;
  const step = ownNodeStep(plan, deps.selfNode);
  if (!step) return executors;
  const uid = event.metadata.uid ?? '';
  const lastWords = async () => {
    const raw = liveEvent(deps.events, event);
    if (deps.finalizer && hasStopFinalizer(raw)) await deps.finalizer.release(raw);
    await store.update((s) => next.lastWords(s, step, factsOf(deps.clock, event)));
    store.seal();
    run.silenced.add(uid);
    deps.logger.info("Wrote the last status; powering off the operator's own node", {
      powerEvent: key,
      step: step.id,
      node: deps.selfNode,
    });
  };
  const retract = () => {
    store.unseal();
    run.silenced.delete(uid);
  };
  return withLastWords(executors, step, lastWords, retract);
}

/** The last status said the own node was being powered off: that step is done, and is never sent again. */
export async function confirmOwnNode(
  deps: PowerEventReconcilerDeps,
  key: string,
  raw: unknown,
  event: PowerEvent,
  store: StatusStore,
): Promise<Outcome> {
  await store.update((s) => next.ownNodeConfirmed(s, factsOf(deps.clock, event)));
  if (deps.finalizer && hasStopFinalizer(raw)) await deps.finalizer.release(raw);
  deps.metrics?.phase(key, 'Succeeded');
  const ready = getCondition(store.current.conditions, ConditionType.Ready);
  emit(deps.recorder, event, 'Normal', Reason.Succeeded, ready?.message ?? 'finished');
  deps.logger.info("Confirmed the power-off of the operator's own node; not sending it again", {
    powerEvent: key,
    poweredOff: store.current.outage?.poweredOff,
  });
  return Outcome.done();
}

/** The plan's last step when it powers off `selfNode`; a plan compiled elsewhere may not end with it. */
export function ownNodeStep(plan: RenderedPlan, selfNode: string | undefined): PlanStep | undefined {
  const last = plan.steps.at(-1);
  if (!selfNode || last?.kind !== StepKind.PowerOffNode) return undefined;
  return (last.params.node ?? last.targets[0]) === selfNode ? last : undefined;
}

/**
 * The power-off executor with `lastWords` called between the record of `step`'s node and its delivery (or before
 * the delivery when an earlier run already recorded the node). When the delivery fails, `retract` is called: the
 * node is still up and the failure must be written.
 */
export function withLastWords(
  executors: Executors,
  step: PlanStep,
  lastWords: () => Promise<void>,
  retract: () => void,
): Executors {
  const inner = executors[StepKind.PowerOffNode];
  if (!inner) return executors;
  return {
    ...executors,
    [StepKind.PowerOffNode]: {
      check: (s, ctx) => inner.check(s, ctx),
      apply: async (s, ctx) => {
        if (s.id !== step.id) return inner.apply(s, ctx);
        let spoken = false;
        const speak = async () => {
          if (spoken) return;
          await lastWords();
          spoken = true;
        };
        // an earlier run recorded the node (and crashed before its last status): the executor will not record again
        if (ctx.outage().poweredOff.includes(s.params.node ?? '')) await speak();
        const record = async (change: (outage: OutageRecord) => void) => {
          await ctx.record(change);
          await speak();
        };
        const wrapped: StepContext = { ...ctx, outage: () => ctx.outage(), report: (m) => ctx.report(m), record };
        try {
          await inner.apply(s, wrapped);
        } catch (error) {
          if (spoken) retract();
          throw error;
        }
      },
      ...(inner.wait ? { wait: (s, ctx) => inner.wait?.(s, ctx) ?? Promise.resolve() } : {}),
    },
  };
}

/** A status store that writes nothing once sealed (the last status was written); `current` stays the last one. */
export class SealableStore implements StatusStore {
  private sealed = false;

  constructor(private readonly inner: StatusStore) {}

  get current(): PowerEventStatus {
    return this.inner.current;
  }

  get isSealed(): boolean {
    return this.sealed;
  }

  seal(): void {
    this.sealed = true;
  }

  unseal(): void {
    this.sealed = false;
  }

  update(change: (status: PowerEventStatus) => PowerEventStatus): Promise<void> {
    return this.sealed ? Promise.resolve() : this.inner.update(change);
  }

  load(): ReturnType<StatusStore['load']> {
    return this.inner.load();
  }

  save(state: Parameters<StatusStore['save']>[0]): Promise<void> {
    return this.sealed ? Promise.resolve() : this.inner.save(state);
  }
}

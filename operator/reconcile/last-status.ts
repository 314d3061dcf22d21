/**
 * The last status: the status this operator writes before power-offs it cannot report.
 *
 * Two situations call for it, and they are one concept here:
 * - The plan powers off two or more control-plane nodes. With embedded etcd (k3s servers), the API loses its quorum
 *   once the majority of them is off, and from then on it answers nothing: no record of the next power-off, no
 *   final status. So once every worker step is done, BEFORE the first control-plane power-off, the operator writes
 *   the status a finished run would have, with every remaining power-off (the control plane in the plan's order,
 *   then this operator's own node) recorded in it.
 * - Otherwise, the plan ends with the operator's own node (core/plan `selfNode`): the last status is written just
 *   before that power-off, as the own node's power-off takes the operator with it.
 *
 * After the write the store is sealed: nothing this process does later (the runner's records, `done`, the SIGTERM
 * the host's shutdown sends) writes status again, and no Kubernetes Event is sent. NOTE: sealed rather than
 * best-effort: a write to an API server without quorum does not fail fast, it hangs until the request times out,
 * and the runner awaits its records between power-offs; best-effort writes would delay the remaining power-offs by
 * a timeout each while the UPS drains, and one that did land would replace the status the next operator relies on.
 * The announced power-offs are then delivered in the plan's order whatever happens to the process's lease or stop
 * signal (./run.ts): the status already says they were sent. A delivery that fails unseals the store, so that the
 * failure is written (when the API still answers).
 *
 * NOTE: record before act. A crash between the last status and a delivery leaves a status that says the power-off
 * was sent. The next operator, within REDELIVERY_BUDGET_MS of that status, sends it to every announced node that has
 * been Ready since before the status (it has not gone down since: it never got the request, or is about to go down
 * with it, which the executor's resend waits for) and is on the boot the status recorded for it, and to no other: a
 * node that went down and came back since is never powered off again. Later than that, it sends nothing (power may
 * be long back) and confirms each step.
 */
import type { PlanStep, PowerEvent, PowerEventStatus, PowerPlanSpec, RenderedPlan } from '../../core/api/index.js';
import { ConditionType } from '../../core/api/index.js';
import { StepKind } from '../../core/plan/index.js';
import type { Executors, StepContext } from '../../core/run/executor.js';
import { getCondition } from '../../core/status/conditions.js';
import * as next from '../../core/status/powerevent.js';
import { Reason } from '../../core/status/reasons.js';
import { Outcome } from '../runtime/outcome.js';
import { emit, factsOf, liveEvent } from './context.js';
import type { ExecutorWiring, PowerEventReconcilerDeps, StatusStore } from './deps.js';
import { hasStopFinalizer } from './stop.js';

/**
 * The power-off steps the last status announces, in the plan's order; empty when the plan needs none.
 * - Two or more control-plane power-offs: every step from the first of them to the end of the plan (the control
 *   plane, then the operator's own node when it goes last whatever its role).
 * - Else the last step when it powers off `selfNode`.
 * A plan compiled elsewhere whose control-plane power-offs are not its last steps falls back to the own node.
 */
export function lastStatusSteps(plan: RenderedPlan, selfNode: string | undefined): PlanStep[] {
  const powerOffs = plan.steps.filter((s) => s.kind === StepKind.PowerOffNode);
  const controlPlane = powerOffs.filter((s) => s.params.role === 'control-plane');
  const first = controlPlane[0];
  if (first && controlPlane.length >= 2) {
    const tail = plan.steps.slice(plan.steps.indexOf(first));
    if (tail.every((s) => s.kind === StepKind.PowerOffNode)) return tail;
  }
  const own = ownNodeStep(plan, selfNode);
  return own ? [own] : [];
}

/** The plan's last step when it powers off `selfNode`. */
export function ownNodeStep(plan: RenderedPlan, selfNode: string | undefined): PlanStep | undefined {
  const last = plan.steps.at(-1);
  if (!selfNode || last?.kind !== StepKind.PowerOffNode) return undefined;
  return (last.params.node ?? last.targets[0]) === selfNode ? last : undefined;
}

/**
 * The run's executors, with the last status written before the first announced power-off acts: the finalizer goes,
 * the last status is written and the store sealed; a failed delivery is tried again, and when it still fails the
 * store is unsealed, so that the failure is written.
 */
/** What {@link withLastStatus} needs of a run (./run.ts). */
export interface LastStatusRun {
  key: string;
  event: PowerEvent;
  store: SealableStore;
  plan: RenderedPlan;
  wiring: ExecutorWiring;
  silenced: Pick<Set<string>, 'add' | 'delete'>;
}

export function withLastStatus(deps: PowerEventReconcilerDeps, run: LastStatusRun): Executors {
  const { key, event, store, plan } = run;
  const steps = lastStatusSteps(plan, deps.selfNode);
  if (steps.length === 0) return run.wiring.executors;
  const uid = event.metadata.uid ?? '';
  const lastWords = async () => {
    const raw = liveEvent(deps.events, event);
    if (deps.finalizer && hasStopFinalizer(raw)) await deps.finalizer.release(raw);
    const boots = await bootsNow(deps, store.current.progress?.planSpec);
    await store.update((s) => next.lastWords(s, steps, factsOf(deps.clock, event), deps.selfNode, boots));
    store.seal();
    run.silenced.add(uid);
    deps.logger.info('Wrote the last status; powering off what it announces', {
      powerEvent: key,
      steps: steps.map((s) => s.id),
      selfNode: deps.selfNode,
    });
  };
  const retract = () => {
    store.unseal();
    run.silenced.delete(uid);
  };
  return withLastWords(run.wiring.executors, steps, lastWords, retract);
}

/**
 * Each node's boot ID as the API reports it now, for the last status (the boot its announced power-off is for: the
 * next leader never sends it to another); empty when the API does not answer within the observation's timeout.
 */
async function bootsNow(
  deps: PowerEventReconcilerDeps,
  spec: PowerPlanSpec | undefined,
): Promise<Record<string, string>> {
  if (!spec) return {};
  const nodes = (await deps.observe(spec).catch(() => undefined))?.nodes ?? [];
  return Object.fromEntries(nodes.flatMap((n) => (n.bootId ? [[n.name, n.bootId]] : [])));
}

/**
 * The power-off executor with `lastWords` called once, before the first of `steps` that acts (before its record and
 * its delivery); nothing is said when the process is stopping by then. When one of `steps` fails after it was said,
 * `retract` is called: that node is still up and the failure must be written.
 */
export function withLastWords(
  executors: Executors,
  steps: readonly PlanStep[],
  lastWords: () => Promise<void>,
  retract: () => void,
): Executors {
  const inner = executors[StepKind.PowerOffNode];
  if (!inner) return executors;
  const announced = new Set(steps.map((s) => s.id));
  let spoken = false;
  return {
    ...executors,
    [StepKind.PowerOffNode]: {
      check: (s, ctx) => inner.check(s, ctx),
      apply: async (s: PlanStep, ctx: StepContext) => {
        if (!announced.has(s.id)) return inner.apply(s, ctx);
        if (!spoken) {
          if (ctx.signal.aborted) throw ctx.signal.reason; // stopping: resumed later, nothing announced
          await lastWords();
          spoken = true;
        }
        try {
          await deliverAgainOnFailure(() => inner.apply(s, ctx), ctx);
        } catch (error) {
          retract();
          throw error;
        }
      },
      ...(inner.wait ? { wait: (s, ctx) => inner.wait?.(s, ctx) ?? Promise.resolve() } : {}),
    },
  };
}

/** How long an announced power-off is tried again after a failed delivery, when its step has no deadline. */
export const REDELIVERY_BUDGET_MS = 120_000;
const REDELIVERY_PAUSE_MS = 5_000;

/**
 * After the last status nobody else sends an announced power-off (a new leader confirms it without sending), so a
 * failed delivery is tried again every 5 s until the step's deadline (else 2 min) before it counts as failed. The
 * usual cause is the API blinking while etcd elects a new leader, the previous one having just been powered off; the
 * helper pod then cannot be created or read. Each try is the power-off executor's own resend: the node is recorded
 * as sent, so it first waits for the node to go down and sends again only when it stays up on the boot it had when
 * first sent (one that went down and booted again was delivered, and is not powered off a second time).
 */
async function deliverAgainOnFailure(deliver: () => Promise<void>, ctx: StepContext): Promise<void> {
  const until = ctx.deadline ?? ctx.clock.now().getTime() + REDELIVERY_BUDGET_MS;
  for (;;) {
    try {
      return await deliver();
    } catch (error) {
      if (ctx.signal.aborted || ctx.clock.now().getTime() + REDELIVERY_PAUSE_MS > until) throw error;
      ctx.report(`delivery failed (${error instanceof Error ? error.message : String(error)}); trying again in 5 s`);
      await ctx.clock.sleep(REDELIVERY_PAUSE_MS);
    }
  }
}

/**
 * The last status announced power-offs: each is done. A new leader within {@link REDELIVERY_BUDGET_MS} of that status
 * first delivers those its predecessor did not ({@link deliverLeftovers}); later, none is sent again.
 */
export async function confirmLastStatus(
  deps: PowerEventReconcilerDeps,
  key: string,
  raw: unknown,
  event: PowerEvent,
  store: StatusStore,
): Promise<Outcome> {
  await deliverLeftovers(deps, key, event, store.current);
  const announced = store.current.conditions.find((c) => c.type === ConditionType.Ready)?.message;
  await store.update((s) => next.lastStatusConfirmed(s, factsOf(deps.clock, event), deps.selfNode));
  if (deps.finalizer && hasStopFinalizer(raw)) await deps.finalizer.release(raw);
  deps.metrics?.phase(key, 'Succeeded');
  const ready = getCondition(store.current.conditions, ConditionType.Ready);
  emit(deps.recorder, event, 'Normal', Reason.Succeeded, ready?.message ?? 'finished');
  deps.logger.info('Confirmed the power-offs announced in the last status; not sending them again', {
    powerEvent: key,
    announced,
    poweredOff: store.current.outage?.poweredOff,
  });
  return Outcome.done();
}

/**
 * A leader killed between its last status and a power-off it announced leaves that node up, and its status says the
 * request was sent. A new leader that finds that status within {@link REDELIVERY_BUDGET_MS} of it delivers, in the
 * plan's order, the announced power-off of every node that has been Ready since before that status: such a node has
 * not gone down since, so it either never got the request or is about to go down with it, and the power-off
 * executor's resend first waits for the latter (a node recorded as sent is sent the request again only when it stays
 * up). A node that went down and came back since (Ready only since after the status, or on another boot than the
 * status recorded: the power returned) is never sent it; each node is looked at again before its turn, and its
 * request names the boot found (void on any other). Later than the budget nothing is sent: the outage may be long
 * over. Writes nothing; each delivery is logged.
 */
async function deliverLeftovers(
  deps: PowerEventReconcilerDeps,
  key: string,
  event: PowerEvent,
  status: PowerEventStatus,
): Promise<void> {
  const lastAt = Date.parse(getCondition(status.conditions, ConditionType.Ready)?.lastTransitionTime ?? '');
  const now = deps.clock.now().getTime();
  const spec = status.progress?.planSpec;
  const plan = status.plan;
  if (!spec || !plan || !status.outage || !event.spec.execute || Number.isNaN(lastAt)) return;
  if (now - lastAt > REDELIVERY_BUDGET_MS) {
    deps.logger.info('The last status is older than the redelivery budget: not sending its power-offs again', {
      powerEvent: key,
      writtenAt: new Date(lastAt).toISOString(),
    });
    return;
  }
  const records = status.progress?.steps ?? [];
  const pending = plan.steps.filter(
    (s) => s.kind === StepKind.PowerOffNode && records.find((r) => r.id === s.id)?.state === 'running',
  );
  if (pending.length === 0) return;
  const nodeOf = (s: PlanStep) => s.params.node ?? s.targets[0] ?? '';
  /**
   * The nodes Ready since before the last status (none has gone down since), by name, with their boot; undefined
   * when the API does not answer (a control plane that lost its quorum to the nodes before).
   */
  const upSinceBefore = async () => {
    const observed = await deps.observe(spec);
    if (!observed.nodes) return undefined;
    const recorded = status.outage?.poweredOffBoots ?? {};
    const sameBoot = (n: { name: string; bootId?: string }) => !recorded[n.name] || recorded[n.name] === n.bootId;
    const up = observed.nodes.filter(
      (n) => n.ready && n.readySince !== undefined && Date.parse(n.readySince) < lastAt && sameBoot(n),
    );
    return new Map(up.map((n) => [n.name, n.bootId]));
  };
  const boots = (await upSinceBefore()) ?? new Map<string, string | undefined>();
  const upSinceBeforeSteps = pending.filter((s) => boots.has(nodeOf(s)));
  // this operator's own node last, whatever the plan's order: it goes down with the operator
  const leftover = [
    ...upSinceBeforeSteps.filter((s) => nodeOf(s) !== deps.selfNode),
    ...upSinceBeforeSteps.filter((s) => nodeOf(s) === deps.selfNode),
  ];
  if (leftover.length === 0) return;
  const wiring = deps.executors({ name: event.spec.planRef.name, spec, mode: plan.mode });
  try {
    const executor = wiring.executors[StepKind.PowerOffNode];
    if (!executor) return;
    // NOTE: each node's power-off is meant for the boot it had at the check: one that goes down and comes back while
    // this runs is never sent it, and a request that arrives late is void on it (see the outage's poweredOffBoots)
    let outage = structuredClone(status.outage);
    const known = Object.fromEntries([...boots].filter((e): e is [string, string] => e[1] !== undefined));
    outage.poweredOffBoots = { ...known, ...outage.poweredOffBoots };
    const base = {
      plan,
      clock: deps.clock,
      logger: deps.logger,
      signal: deps.signal,
      outage: () => outage,
      record: async (change: (o: typeof outage) => void) => {
        outage = structuredClone(outage);
        change(outage);
      },
      report: (message: string) => deps.logger.info(message, { powerEvent: key }),
    };
    for (const step of leftover) {
      // looked at again before each node, as the ones before it may have taken minutes; when the API no longer
      // answers, the request goes out as found at first: it is void on any boot but that one
      const now = step === leftover[0] ? boots : ((await upSinceBefore()) ?? boots);
      if (!now.has(nodeOf(step)) || now.get(nodeOf(step)) !== boots.get(nodeOf(step))) {
        deps.logger.info('An announced power-off whose node is no longer up since the last status: not delivering it', {
          powerEvent: key,
          step: step.id,
        });
        continue;
      }
      deps.logger.warn('An announced power-off whose node has been up since the last status: delivering it', {
        powerEvent: key,
        step: step.id,
      });
      // NOTE: no check(): it counts a recorded control-plane node as done once the API stops answering, and this node
      // was found up; each node has its own deadline, as a step has
      const ctx = { ...base, deadline: deps.clock.now().getTime() + REDELIVERY_BUDGET_MS };
      try {
        await executor.apply(step, ctx);
        if (step !== leftover.at(-1)) await executor.wait?.(step, ctx);
      } catch (error) {
        deps.logger.error('Could not deliver an announced power-off', {
          powerEvent: key,
          step: step.id,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  } finally {
    await wiring.close?.().catch(() => undefined);
  }
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

  note(change: (status: PowerEventStatus) => PowerEventStatus): void {
    if (!this.sealed) this.inner.note(change);
  }

  load(): ReturnType<StatusStore['load']> {
    return this.inner.load();
  }

  save(state: Parameters<StatusStore['save']>[0]): Promise<void> {
    return this.sealed ? Promise.resolve() : this.inner.save(state);
  }
}

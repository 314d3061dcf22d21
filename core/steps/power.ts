import type { PlanStep, PowerPlanSpec } from '../api/index.js';
import { parseDuration } from '../api/meta.js';
import { StepKind } from '../plan/stages.js';
import type { NodePort, PowerControlPort } from '../ports/index.js';
import { DeadlineExceededError } from '../run/errors.js';
import type { StepContext, StepExecutor } from '../run/executor.js';
import { waitWatching } from './wait.js';

export interface PowerOffOptions {
  /** Send with dryRun: nothing is recorded and nothing is waited for (default false). */
  dryRun?: boolean;
  /** How long to wait for a node to stop being Ready when the step has no timeout (default 5 min; method none 30). */
  defaultWaitMs?: number;
  intervalMs?: number;
  /**
   * A node recorded by an earlier run (that crashed) but still Ready: how long to wait for it to go down before the
   * request is sent again (default 60 s, beyond the node-monitor grace period that hides a host already going down).
   * Not in an emergency: there the request is sent again at once.
   */
  resendAfterMs?: number;
  /**
   * A node that looked down before its first request and refused it: how long it must stay down, never Ready, before
   * it counts as already off (default 40 s, Kubernetes' node-monitor grace period). After an API server outage every
   * node reads NotReady until its kubelet reports again, within its 10 s status interval; one that turns Ready in this
   * time is sent the request again. Not in an emergency: there a refused request on a node that looks down is left.
   */
  confirmDownMs?: number;
}

/** The plan's node: its address for SSH and its role. */
function planNode(spec: PowerPlanSpec, step: PlanStep) {
  const name = step.params.node ?? step.targets[0] ?? '';
  const node = spec.nodes.find((n) => n.name === name);
  return { name, address: node?.address ?? name, role: step.params.role ?? node?.role ?? 'worker' };
}

/** The power-off steps of the plan, in order. */
function powerOffSteps(ctx: StepContext): PlanStep[] {
  return ctx.plan.steps.filter((s) => s.kind === StepKind.PowerOffNode);
}

/**
 * The last node powered off takes the API with it: nothing can be observed after it, so it is not waited for.
 * Nor is any node in an emergency shutdown: there is no time, and the record alone keeps a rerun from repeating it.
 */
function waitsForNode(step: PlanStep, ctx: StepContext): boolean {
  if (ctx.plan.mode === 'emergency-shutdown') return false;
  return powerOffSteps(ctx).at(-1)?.id !== step.id;
}

/**
 * `powerOff.delayBetweenNodes` comes before a node that goes on its own after another that went on its own: between
 * control-plane nodes (and before Hecate's own node), never among the workers, which go together.
 */
function pausesBefore(step: PlanStep, ctx: StepContext): boolean {
  if (step.params.group) return false;
  const all = powerOffSteps(ctx);
  const previous = all[all.findIndex((s) => s.id === step.id) - 1];
  return previous !== undefined && !previous.params.group;
}

/**
 * Down: NotReady/Unknown or gone, or booted since `bootAtSend` (it went down and came back). `undefined` when the API
 * cannot tell (unreachable).
 */
async function isDown(nodes: NodePort, name: string, bootAtSend?: string): Promise<boolean | undefined> {
  return (await observe(nodes, name, bootAtSend)).down;
}

interface Seen {
  down: boolean | undefined;
  rebooted?: boolean;
  bootId?: string;
  /** Since the node's Ready condition last changed to not True, when it is down and the API says when. */
  downSince?: string;
}

/** The node as the API sees it now: down (see {@link isDown}), since when, and its boot ID. */
async function observe(nodes: NodePort, name: string, bootAtSend?: string): Promise<Seen> {
  try {
    const node = await nodes.get(name);
    if (node === undefined) return { down: true };
    const rebooted = bootAtSend !== undefined && node.bootId !== undefined && node.bootId !== bootAtSend;
    return {
      down: !node.ready || rebooted,
      rebooted,
      ...(node.bootId ? { bootId: node.bootId } : {}),
      ...(!node.ready && node.downSince ? { downSince: node.downSince } : {}),
    };
  } catch {
    return { down: undefined };
  }
}

/** How long a node must have been NotReady to count as off without a request of this run (see confirmDownMs). */
const CONFIRM_DOWN_MS = 40_000;

/**
 * Down for good, as far as the API can tell: gone, booted since `bootAtSend`, or NotReady for `confirmMs` at least.
 * NotReady for less may be every node's state for a while after an API server outage, until its kubelet reports
 * again. A node whose NotReady has no transition time counts as down at once.
 */
function settledDown(seen: Seen, nowMs: number, confirmMs: number): boolean {
  if (seen.rebooted) return true;
  if (seen.down !== true) return false;
  return seen.downSince === undefined || nowMs - Date.parse(seen.downSince) >= confirmMs;
}

/**
 * Polls until the node is down for good (true: see {@link settledDown}), or `ms` has passed with the node up (false).
 * A node NotReady but not yet for good when `ms` runs out is watched on until it is (a request delivered just before
 * a crash: NotReady after the node-monitor grace, for good some time later) or reads Ready again (an API blink). The
 * step's deadline bounds it all.
 */
async function goesDownForGood(
  nodes: NodePort,
  name: string,
  ctx: StepContext,
  ms: number,
  intervalMs: number,
  confirmMs: number,
  bootAtSend?: string,
) {
  const until = ctx.clock.now().getTime() + ms;
  const deadline = ctx.deadline ?? Number.POSITIVE_INFINITY;
  for (;;) {
    const seen = await observe(nodes, name, bootAtSend);
    const now = ctx.clock.now().getTime();
    if (settledDown(seen, now, confirmMs)) return true;
    if (now >= deadline || (now >= until && seen.down !== true)) return false;
    await ctx.clock.sleep(intervalMs, ctx.signal);
  }
}

/**
 * Powers off one node (kind power-off-node): the node is recorded in `outage.poweredOff` BEFORE the request is
 * sent, then the executor waits until the node stops being Ready (its heartbeats stop and the node-lifecycle
 * controller marks it NotReady/Unknown), except for the last node (the API goes with it) and in an emergency.
 *
 * - check(): recorded AND down. A recorded control-plane node is also done when the API no longer answers (a
 *   control plane that lost its quorum cannot report it, and cannot run another helper).
 * - Workers go together (the runner starts the steps of their group at once); `powerOff.delayBetweenNodes` is the
 *   pause between the nodes that go one at a time (the control plane, then Hecate's own node).
 * - method `none`: records, asks a person (report) and waits for the node to go down.
 *
 * NOTE: recorded but still Ready means a crash came between the record and the delivery, or the host is still
 * going down (the API notices only after the node-monitor grace period). The executor first waits up to
 * `resendAfterMs` for the node to go down, so a delivered power-off is not repeated; then it sends the request
 * again: powering off is idempotent (a second `systemctl poweroff` on a host that
 * is already stopping changes nothing). If that second send fails (the host no longer accepts SSH, or its kubelet
 * is gone and the helper cannot start), the failure is reported and the executor waits for the node to go down
 * instead; only past the deadline does it fail, with the send error as the cause. The same holds for a node that
 * was already NotReady before its first request (a dead kubelet cannot run a helper pod; SSH may still work), with
 * one difference: NotReady is also what every node reads for a while after an API server outage, until its kubelet
 * reports again. So a refused first request on a node that reads down is sent again as soon as the node reads Ready,
 * and the node counts as already off only once it has stayed down for `confirmDownMs` (see {@link sendOnceReady}).
 *
 * A node is never sent the request again once it booted since it was recorded: the boot ID the node had then is
 * recorded with it (`outage.poweredOffBoots`, before the request: a rerun after a crash has it too), and a node Ready
 * with another boot ID went down and came back, so the request was delivered. The request itself carries that boot
 * (`NodeAddress.bootId`): a host that has booted since ignores it, so a request that arrives late (a helper pod
 * that a booting kubelet starts, a second deliverer's) never powers off a node that has recovered.
 */
export function powerOffNode(
  access: PowerControlPort,
  nodes: NodePort,
  spec: PowerPlanSpec,
  options: PowerOffOptions = {},
): StepExecutor {
  const dryRun = options.dryRun ?? false;
  const sendErrors = new Map<string, unknown>();
  /** The boot the node's power-off is meant for, as recorded with it (see the outage record's `poweredOffBoots`). */
  const bootAtSend = (ctx: StepContext, name: string) => ctx.outage().poweredOffBoots?.[name];
  const confirmMs = options.confirmDownMs ?? CONFIRM_DOWN_MS;
  return {
    check: async (step, ctx) => {
      const node = planNode(spec, step);
      if (!ctx.outage().poweredOff.includes(node.name)) return false;
      const seen = await observe(nodes, node.name, bootAtSend(ctx, node.name));
      if (seen.down === undefined) return node.role === 'control-plane';
      // NOTE: a node NotReady only since moments ago may be one the API server's restart made so: apply looks again
      return settledDown(seen, ctx.clock.now().getTime(), confirmMs);
    },
    apply: async (step, ctx) => {
      const node = planNode(spec, step);
      const method = step.params.method ?? spec.powerOff.method;
      const resent = ctx.outage().poweredOff.includes(node.name);
      if (pausesBefore(step, ctx)) await ctx.clock.sleep(parseDuration(spec.powerOff.delayBetweenNodes), ctx.signal);
      if (resent && ctx.plan.mode !== 'emergency-shutdown' && !dryRun) {
        const grace = options.resendAfterMs ?? 60_000;
        ctx.report(
          `${node.name} was sent the power-off by an earlier run: waiting up to ${grace / 1000}s for it to go down`,
        );
        const booted = bootAtSend(ctx, node.name);
        if (await goesDownForGood(nodes, node.name, ctx, grace, options.intervalMs ?? 2_000, confirmMs, booted)) {
          ctx.report(`${node.name} went down: the earlier request was delivered, not sending it again`);
          return;
        }
      }
      // A node already down (or an API that cannot tell) may not take the request: try, and tolerate a failure.
      const now = await observe(nodes, node.name, bootAtSend(ctx, node.name));
      if (now.rebooted) {
        ctx.report(`${node.name} booted again since it was sent the power-off: delivered, not sending it again`);
        return;
      }
      const tolerant = resent || now.down !== false;
      const bootId = bootAtSend(ctx, node.name) ?? now.bootId;
      if (!dryRun && (!resent || (now.bootId && !bootAtSend(ctx, node.name)))) {
        await ctx.record((outage) => {
          if (!outage.poweredOff.includes(node.name)) outage.poweredOff.push(node.name);
          if (now.bootId && !outage.poweredOffBoots?.[node.name]) {
            outage.poweredOffBoots = { ...outage.poweredOffBoots, [node.name]: now.bootId };
          }
        });
      }
      if (method === 'none') {
        ctx.report(`Power off ${node.name} by hand now (method none): waiting for it to stop reporting`);
        return;
      }
      try {
        const target = { name: node.name, address: node.address, ...(bootId ? { bootId } : {}) };
        await access.powerOff(target, spec.powerOff.command, {
          dryRun,
          signal: ctx.signal,
        });
        ctx.report(`${dryRun ? 'would power off' : 'power-off sent to'} ${node.name} (${method})`);
      } catch (error) {
        if (!tolerant || dryRun) throw error;
        // NOTE: looked at again: the record and the refused request may have taken a while
        const later = await observe(nodes, node.name, bootAtSend(ctx, node.name));
        const unsettled = !settledDown(later, ctx.clock.now().getTime(), confirmMs);
        if (!resent && unsettled && ctx.plan.mode !== 'emergency-shutdown') {
          const why =
            later.down === undefined
              ? 'the API server does not answer'
              : later.down
                ? 'NotReady only since moments ago'
                : 'it reads Ready again';
          ctx.report(
            `sending to ${node.name} failed (${(error as Error).message}); ${why}: sending again if it reads Ready within ${confirmMs / 1000}s`,
          );
          const sent = await sendOnceReady(access, nodes, spec, node, ctx, error, {
            ...options,
            confirmDownMs: confirmMs,
          });
          if (sent) return;
        }
        sendErrors.set(step.id, error);
        const why = resent ? 'an earlier run may have delivered it' : 'the node was already down';
        ctx.report(
          `sending to ${node.name} failed (${(error as Error).message}); ${why}: waiting for the node to stop`,
        );
      }
    },
    wait: async (step, ctx) => {
      const node = planNode(spec, step);
      if (dryRun) return;
      if (!waitsForNode(step, ctx)) {
        ctx.report(
          `not waiting for ${node.name}: ${ctx.plan.mode === 'emergency-shutdown' ? 'emergency' : 'last node, the API goes with it'}`,
        );
        return;
      }
      const method = step.params.method ?? spec.powerOff.method;
      const fallback = options.defaultWaitMs ?? (method === 'none' ? 30 : 5) * 60_000;
      const bounded = { ...ctx, deadline: ctx.deadline ?? ctx.clock.now().getTime() + fallback };
      const probe = async () => {
        const down = await isDown(nodes, node.name, bootAtSend(ctx, node.name));
        if (down === undefined && node.role === 'control-plane') return { done: true, status: 'the API went away' };
        if (down === undefined) throw new Error(`cannot read node ${node.name}`);
        return { done: down, status: down ? `${node.name} is down` : `${node.name} is still Ready` };
      };
      const watch = nodes.watch?.bind(nodes);
      try {
        await waitWatching(bounded, probe, options.intervalMs ?? 2_000, watch && (() => watch([node.name])));
      } catch (error) {
        const cause = sendErrors.get(step.id);
        if (error instanceof DeadlineExceededError && cause) {
          throw new DeadlineExceededError(`${error.message}; sending the power-off failed`, { cause });
        }
        throw error;
      }
    },
  };
}

/**
 * A first request refused while the node read NotReady (a helper pod cannot start on a NotReady node), or while the API
 * server did not answer. NotReady is what the node-lifecycle controller writes when heartbeats stop: a host that went
 * off, but also every node for a while after an API server outage, until its kubelet reports again. So the node is
 * watched: each time it reads Ready the request is sent again (true once one is accepted); NotReady for
 * `confirmDownMs`, it was already off (false). An API server that does not answer for `confirmDownMs` may be a
 * control plane that lost its quorum with the nodes before: the node is left as it is (false), as before this
 * watch, with a report. Past the step's deadline the refusal is thrown.
 */
async function sendOnceReady(
  access: PowerControlPort,
  nodes: NodePort,
  spec: PowerPlanSpec,
  node: { name: string; address: string },
  ctx: StepContext,
  refusal: unknown,
  options: PowerOffOptions,
): Promise<boolean> {
  const confirmMs = options.confirmDownMs ?? CONFIRM_DOWN_MS;
  const deadline = ctx.deadline ?? ctx.clock.now().getTime() + (options.defaultWaitMs ?? 5 * 60_000);
  let lastRefusal = refusal;
  let silentSince = ctx.clock.now().getTime();
  for (;;) {
    await ctx.clock.sleep(options.intervalMs ?? 2_000, ctx.signal);
    const seen = await observe(nodes, node.name);
    const now = ctx.clock.now().getTime();
    if (seen.down === undefined) {
      if (now - silentSince >= confirmMs) {
        ctx.report(
          `the API server has not answered for ${Math.round((now - silentSince) / 1000)}s: ${node.name} was not sent the power-off (power it off by hand if it is still on)`,
        );
        return false;
      }
      continue;
    }
    silentSince = now;
    if (settledDown(seen, now, confirmMs)) {
      const how = seen.downSince
        ? `has been NotReady for ${Math.round((now - Date.parse(seen.downSince)) / 1000)}s`
        : 'is down';
      ctx.report(`${node.name} ${how}: it was already off`);
      return false;
    }
    if (seen.down) {
      if (now >= deadline) throw lastRefusal;
      continue;
    }
    try {
      // NOTE: a node that was off when refused and has booted since is on the plan's way to off too: the request is
      // for the boot it reads Ready on, recorded first
      const bootId = seen.bootId;
      if (bootId && ctx.outage().poweredOffBoots?.[node.name] !== bootId) {
        await ctx.record((outage) => {
          outage.poweredOffBoots = { ...outage.poweredOffBoots, [node.name]: bootId };
        });
      }
      const target = { name: node.name, address: node.address, ...(bootId ? { bootId } : {}) };
      await access.powerOff(target, spec.powerOff.command, { signal: ctx.signal });
      ctx.report(`${node.name} reads Ready: power-off sent`);
      return true;
    } catch (error) {
      lastRefusal = error;
      if (now >= deadline) throw lastRefusal;
    }
  }
}

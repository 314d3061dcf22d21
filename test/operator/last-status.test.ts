/**
 * The last status with two or more control-plane nodes: with embedded etcd the API loses its quorum
 * once the majority of the control plane is off, so the operator writes its last status BEFORE the first
 * control-plane power-off, with every remaining power-off recorded in it, and delivers them in the plan's order
 * without writing again. In the fake world of ./reconciler-world.ts; the decision itself is pure
 * (lastStatusSteps, the status transitions).
 */
import { describe, expect, it } from 'vitest';
import type { RenderedPlan } from '../../core/api/index.js';
import { compilePlan, StepKind } from '../../core/plan/index.js';
import { getCondition } from '../../core/status/conditions.js';
import type { ExecutorFactory } from '../../operator/reconcile/deps.js';
import { lastStatusSteps } from '../../operator/reconcile/last-status.js';
import { atlasInput } from '../helpers/atlas.js';
import { FakeClock } from '../helpers/fakes.js';
import {
  api,
  delivered,
  executors,
  KEY,
  lastStatusAt,
  operator,
  shutdownEvent,
  singleControlPlane,
  WORKERS,
} from './reconciler-world.js';

const SELF = 'titan-03';
const CONTROL_PLANE = ['titan-02', 'titan-01', SELF]; // the plan's order with the operator on titan-03
const LAST_WORDS =
  "powering off the control plane: titan-02, titan-01, then titan-03 (this operator's node); the API loses quorum on the way, so this is the last status this operator writes";
const LAST = 'status Succeeded PoweringOffControlPlane';

const ids = (plan: RenderedPlan, selfNode?: string) => lastStatusSteps(plan, selfNode).map((s) => s.id);
const shutdown = (selfNode?: string, spec = atlasInput().spec) =>
  compilePlan('shutdown', atlasInput({ execute: true, spec, ...(selfNode ? { selfNode } : {}) }));
/** What the last status announces in the shutdown compiled for an operator on `selfNode`. */
const announced = (selfNode?: string, spec = atlasInput().spec) => ids(shutdown(selfNode, spec), selfNode);

describe('which power-offs the last status announces (pure)', () => {
  it('three control-plane nodes: from the first control-plane power-off to the end, the own node last', () => {
    expect(announced(SELF)).toEqual(CONTROL_PLANE.map((n) => `power-off/${n}`));
    expect(announced()).toEqual(['titan-03', 'titan-02', 'titan-01'].map((n) => `power-off/${n}`));
    expect(ids(compilePlan('emergency-shutdown', atlasInput({ execute: true, selfNode: SELF })), SELF)).toEqual(
      CONTROL_PLANE.map((n) => `power-off/${n}`),
    );
  });

  it('the operator on a worker: that worker goes last, after the control plane, and is announced too', () => {
    expect(announced('titan-05')).toEqual(
      ['titan-03', 'titan-02', 'titan-01', 'titan-05'].map((n) => `power-off/${n}`),
    );
  });

  it('two control-plane nodes are enough: the API goes with the first', () => {
    const spec = { ...atlasInput().spec, nodes: atlasInput().spec.nodes.filter((n) => n.name !== 'titan-01') };
    expect(announced(undefined, spec)).toEqual(['power-off/titan-03', 'power-off/titan-02']);
  });

  it('one control-plane node: only the own node, when the plan ends with it (today’s behaviour)', () => {
    const spec = singleControlPlane.spec;
    expect(announced(SELF, spec)).toEqual(['power-off/titan-03']);
    expect(announced('titan-05', spec)).toEqual(['power-off/titan-05']);
    expect(announced(undefined, spec)).toEqual([]);
  });

  it('a plan whose control-plane power-offs are not its last steps falls back to the own node', () => {
    const plan = shutdown(SELF);
    const odd = { ...plan, steps: [...plan.steps.slice(0, -1), { ...plan.steps[0]!, id: 'later' }] };
    expect(odd.steps.at(-1)?.kind).not.toBe(StepKind.PowerOffNode);
    expect(ids(odd, SELF)).toEqual([]);
  });

  it('no power-off at all (startup, prepare): nothing', () => {
    expect(ids(compilePlan('startup', atlasInput({ selfNode: SELF })), SELF)).toEqual([]);
    expect(ids(compilePlan('prepare', atlasInput({ selfNode: SELF })), SELF)).toEqual([]);
  });
});

describe('three control-plane nodes: the last status comes before the first control-plane power-off', () => {
  it('is written once every worker step is done, records every control-plane power-off, and nothing follows it', async () => {
    const w = api(shutdownEvent());
    const op = operator(w, executors(w), { selfNode: SELF });
    expect(await op.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });

    expect(delivered(w.timeline)).toEqual([...WORKERS, ...CONTROL_PLANE]); // the plan's order
    const last = w.timeline.indexOf(LAST);
    expect(last).toBeGreaterThan(w.timeline.indexOf('deliver titan-07')); // every worker step before it
    expect(last).toBeLessThan(w.timeline.indexOf('deliver titan-02')); // before the first control-plane one
    expect(last).toBe(lastStatusAt(w.timeline)); // no status write after it
    expect(w.timeline.indexOf('finalizer removed')).toBeLessThan(last); // a finished event never blocks deletion
    // no Kubernetes Event after it either: that too would be a write to the API
    expect(w.timeline.slice(last).filter((t) => t.startsWith('event '))).toEqual([]);

    const status = w.objects[KEY]?.status;
    expect(status?.phase).toBe('Succeeded');
    expect(status?.observedGeneration).toBe(1);
    expect(getCondition(status?.conditions, 'Ready')).toMatchObject({
      status: 'True',
      reason: 'PoweringOffControlPlane',
      message: LAST_WORDS,
    });
    expect(getCondition(status?.conditions, 'NodesPoweredOff')?.reason).toBe('PoweringOffControlPlane');
    // record before act: all three are in outage.poweredOff before the first is sent (a superset of the truth)
    expect(status?.outage?.poweredOff).toEqual([...WORKERS, ...CONTROL_PLANE]);
    const states = Object.fromEntries((status?.progress?.steps ?? []).map((s) => [s.id, s.state]));
    for (const node of CONTROL_PLANE) expect(states[`power-off/${node}`], node).toBe('running');
    expect(Object.values(states).filter((s) => s !== 'done')).toHaveLength(CONTROL_PLANE.length);
    expect(status?.plan?.steps.map((s) => s.id)).toEqual(Object.keys(states).sort((a, b) => order(a) - order(b)));
    expect(w.violations).toEqual([]);

    // the same process, looking again, writes nothing
    const before = w.timeline.length;
    expect(await op.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.timeline.slice(before)).toEqual([]);

    function order(id: string) {
      return status?.plan?.steps.findIndex((s) => s.id === id) ?? -1;
    }
  });

  it('the API goes away after the second control-plane power-off: the last one is still sent, no write is tried', async () => {
    const w = api(shutdownEvent());
    const op = operator(
      w,
      executors(w, {
        afterDelivery: (node) => {
          if (node === 'titan-01') w.state.down = true; // quorum lost: two of three are off
        },
      }),
      { selfNode: SELF },
    );
    expect(await op.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(delivered(w.timeline).slice(-3)).toEqual(CONTROL_PLANE);
    expect(w.refused).toEqual([]); // sealed: not even attempted
    expect(getCondition(w.objects[KEY]?.status?.conditions, 'Ready')?.message).toBe(LAST_WORDS);
  });

  it('the process stops (lease lost, SIGTERM) after the last status: what it announced is still delivered', async () => {
    const w = api(shutdownEvent());
    const stopping = new AbortController();
    const op = operator(
      w,
      executors(w, {
        afterDelivery: (node) => {
          if (node === 'titan-02') stopping.abort(new Error('lost the leader lease'));
        },
      }),
      { selfNode: SELF, signal: stopping.signal },
    );
    const run = op.reconciler.reconcile(KEY);
    expect(await run).toEqual({ kind: 'done' });
    expect(delivered(w.timeline).slice(-3)).toEqual(CONTROL_PLANE);
    expect(w.timeline.at(-1)).toBe('deliver titan-03');
    expect(lastStatusAt(w.timeline)).toBe(w.timeline.indexOf(LAST)); // no "interrupted" write
    expect(op.reconciler.afterLastStatus()).toBeUndefined(); // the run is over: nothing left to wait for
  });

  it('while the announced power-offs are being delivered, the process has something to wait for', async () => {
    const w = api(shutdownEvent());
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const op = operator(
      w,
      executors(w, { beforeDelivery: (node) => (node === 'titan-01' ? held : Promise.resolve()) }),
      { selfNode: SELF },
    );
    const run = op.reconciler.reconcile(KEY);
    for (let i = 0; i < 500 && !w.timeline.includes('deliver titan-02'); i++)
      await new Promise((r) => setTimeout(r, 1));
    const waiting = op.reconciler.afterLastStatus();
    expect(waiting).toBeDefined();
    let finished = false;
    void waiting?.then(() => {
      finished = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(finished).toBe(false);
    release();
    await run;
    await waiting;
    expect(delivered(w.timeline).at(-1)).toBe(SELF);
  });

  it('a stop before the last status: nothing is announced, the event stays Running to be resumed', async () => {
    const w = api(shutdownEvent());
    const stopping = new AbortController();
    const op = operator(
      w,
      executors(w, {
        afterDelivery: (node) => {
          if (node === 'titan-07') stopping.abort(new Error('SIGTERM'));
        },
      }),
      { selfNode: SELF, signal: stopping.signal },
    );
    expect(await op.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.timeline).not.toContain(LAST);
    expect(delivered(w.timeline)).toEqual(WORKERS);
    const status = w.objects[KEY]?.status;
    expect(status?.phase).toBe('Running');
    expect(getCondition(status?.conditions, 'Ready')?.reason).toBe('Interrupted');
    expect(status?.outage?.poweredOff).toEqual(WORKERS);
  });

  it('after power returns, a restarted operator marks every announced step done and sends none again', async () => {
    const w = api(shutdownEvent());
    await operator(w, executors(w), { selfNode: SELF }).reconciler.reconcile(KEY);
    const mark = w.timeline.length;

    const restarted = operator(w, executors(w), { selfNode: SELF });
    expect(await restarted.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.timeline.slice(mark)).toEqual(['status Succeeded Succeeded', 'event Succeeded']);
    const status = w.objects[KEY]?.status;
    for (const node of CONTROL_PLANE) {
      expect(
        status?.progress?.steps.find((s) => s.id === `power-off/${node}`),
        node,
      ).toMatchObject({
        state: 'done',
        message: expect.stringContaining('not sent again'),
      });
    }
    expect(status?.progress?.steps.every((s) => s.state === 'done')).toBe(true);
    expect(getCondition(status?.conditions, 'Ready')?.message).toContain(
      "titan-02, titan-01, then titan-03 (the operator's own node) were powered off after the final status, and are not powered off again",
    );
    expect(getCondition(status?.conditions, 'NodesPoweredOff')).toMatchObject({ status: 'True', reason: 'Succeeded' });
    expect(await restarted.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(delivered(w.timeline)).toEqual([...WORKERS, ...CONTROL_PLANE]); // each once
    expect(w.violations).toEqual([]);
  });

  it('a crash right after the last status: the next operator sends none of them (record before act)', async () => {
    const w = api(shutdownEvent());
    const crashed = new Promise<void>(() => undefined); // the process dies here: nothing is delivered
    const first = operator(
      w,
      executors(w, { beforeDelivery: (n) => (n === 'titan-02' ? crashed : Promise.resolve()) }),
      { selfNode: SELF },
    );
    void first.reconciler.reconcile(KEY);
    for (let i = 0; i < 500 && !w.timeline.includes(LAST); i++) await new Promise((r) => setTimeout(r, 1));
    expect(w.timeline).toContain(LAST);

    const second = operator(w, executors(w), { selfNode: SELF });
    expect(await second.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(delivered(w.timeline)).toEqual(WORKERS);
    const steps = w.objects[KEY]?.status?.progress?.steps ?? [];
    expect(steps.filter((s) => s.id.startsWith('power-off/titan-0') && s.state === 'done')).toHaveLength(7);
  });

  describe('a leader killed after the last status, before titan-01 was sent its power-off', () => {
    /** The first leader delivers titan-02, then dies; `later` ms after, a new leader sees the nodes as `nodes`. */
    async function killedThenRestarted(
      later: number,
      nodes: Record<string, { ready: boolean; readySince?: string; bootId?: string }>,
      newLeaderNode = SELF,
      onDeliver: (node: string) => void = () => undefined,
      /** The boot of each node as the first leader sees it when it writes the last status. */
      bootsAtLastStatus: Record<string, string> = {},
    ) {
      const boots: Record<string, string | undefined> = {};
      const w = api(shutdownEvent());
      const crashed = new Promise<void>(() => undefined);
      const seenFirst = async () => ({
        api: 'reachable' as const,
        nodes: Object.entries(bootsAtLastStatus).map(([name, bootId]) => ({
          name,
          ready: true,
          unschedulable: true,
          bootId,
        })),
      });
      const first = operator(
        w,
        executors(w, { beforeDelivery: (n) => (n === 'titan-01' ? crashed : Promise.resolve()) }),
        { selfNode: SELF, observe: seenFirst },
      );
      void first.reconciler.reconcile(KEY);
      for (let i = 0; i < 500 && !delivered(w.timeline).includes('titan-02'); i++) {
        await new Promise((r) => setTimeout(r, 1));
      }
      const lastAt = Date.parse(getCondition(w.objects[KEY]?.status?.conditions, 'Ready')?.lastTransitionTime ?? '');
      const clock = new FakeClock(lastAt + later);
      const down = (node: string) => nodes[node]?.ready === false;
      // as the real executor: a recorded node is done once it is down; else the request goes (again)
      const factory: ExecutorFactory = (plan) => {
        const inner = executors(w)(plan).executors;
        return {
          executors: {
            ...inner,
            [StepKind.PowerOffNode]: {
              check: async (step) => down(step.params.node ?? ''),
              apply: async (step, ctx) => {
                const node = step.params.node ?? '';
                boots[node] = ctx.outage().poweredOffBoots?.[node];
                w.timeline.push(`deliver ${node}`);
                onDeliver(node);
              },
            },
          },
        };
      };
      const observe = async () => ({
        api: 'reachable' as const,
        nodes: Object.entries(nodes).map(([name, n]) => ({ name, unschedulable: true, ...n })),
      });
      const second = operator(w, factory, { selfNode: newLeaderNode, clock, observe });
      expect(await second.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
      return { w, lastAt, boots };
    }
    const before = '2026-11-25T01:00:00.000Z';

    it('within two minutes, the next leader sends it to the node up since before that status, and to no other', async () => {
      const { w } = await killedThenRestarted(30_000, {
        'titan-02': { ready: false }, // it took its request
        'titan-01': { ready: true, readySince: before }, // never sent
        [SELF]: { ready: true, readySince: '2026-11-25T02:59:00.000Z' }, // went down and came back since
      });
      expect(delivered(w.timeline)).toEqual([...WORKERS, 'titan-02', 'titan-01']);
      const steps = w.objects[KEY]?.status?.progress?.steps ?? [];
      expect(steps.every((s) => s.state === 'done')).toBe(true);
    });

    it('each delivery is meant for the boot the node had when found up, and a node that went down and came back meanwhile is not sent it', async () => {
      const nodes = {
        'titan-02': { ready: false },
        'titan-01': { ready: true, readySince: before, bootId: 'b-01' },
        [SELF]: { ready: true, readySince: before, bootId: 'b-self' },
      };
      // while titan-01 is delivered, the power comes back to this operator's node after an outage it had
      const rebooted = () =>
        Object.assign(nodes[SELF] as object, { readySince: '2026-11-25T03:00:30.000Z', bootId: 'b-self-2' });
      const { w, boots } = await killedThenRestarted(30_000, nodes, SELF, (n) =>
        n === 'titan-01' ? rebooted() : undefined,
      );
      expect(delivered(w.timeline)).toEqual([...WORKERS, 'titan-02', 'titan-01']);
      expect(boots).toEqual({ 'titan-01': 'b-01' });
    });

    it('the last status records the boot of each node it announces, and the next leader does not send to a node on another boot (a reboot quick enough never to read NotReady)', async () => {
      const { w } = await killedThenRestarted(
        30_000,
        {
          'titan-02': { ready: false },
          'titan-01': { ready: true, readySince: before, bootId: 'b-01-rebooted' },
          [SELF]: { ready: true, readySince: before, bootId: 'b-self' },
        },
        SELF,
        () => undefined,
        { 'titan-01': 'b-01', 'titan-02': 'b-02', [SELF]: 'b-self', 'titan-04': 'b-04' },
      );
      expect(delivered(w.timeline)).toEqual([...WORKERS, 'titan-02', SELF]);
      expect(w.objects[KEY]?.status?.outage?.poweredOffBoots).toMatchObject({
        'titan-01': 'b-01',
        'titan-02': 'b-02',
        [SELF]: 'b-self',
      });
    });

    it('the next leader on one of those nodes powers its own node off last, whatever the plan says', async () => {
      const { w } = await killedThenRestarted(
        30_000,
        {
          'titan-02': { ready: false },
          'titan-01': { ready: true, readySince: before },
          [SELF]: { ready: true, readySince: before },
        },
        'titan-01',
      );
      expect(delivered(w.timeline)).toEqual([...WORKERS, 'titan-02', SELF, 'titan-01']);
    });

    it('later than two minutes after that status, the next leader sends nothing: the outage may be over', async () => {
      const { w } = await killedThenRestarted(3 * 60_000, {
        'titan-02': { ready: false },
        'titan-01': { ready: true, readySince: before },
        [SELF]: { ready: true, readySince: before },
      });
      expect(delivered(w.timeline)).toEqual([...WORKERS, 'titan-02']);
    });
  });

  it('a failed delivery is written after all (the API still answers): Failed names it, the rest are not sent', async () => {
    const w = api(shutdownEvent());
    const op = operator(w, executors(w, { failDelivery: 'titan-01' }), { selfNode: SELF });
    expect((await op.reconciler.reconcile(KEY)).kind).toBe('stalled');
    expect(delivered(w.timeline).slice(-1)).toEqual(['titan-02']);
    const status = w.objects[KEY]?.status;
    expect(status?.phase).toBe('Failed');
    expect(getCondition(status?.conditions, 'Stalled')?.message).toContain('the helper pod on titan-01 failed');
    expect(w.timeline.indexOf(LAST)).toBeLessThan(lastStatusAt(w.timeline));
    // the retraction writes the runner's own record: titan-03 was never sent, and is not said to be
    expect(status?.outage?.poweredOff).toEqual([...WORKERS, 'titan-02', 'titan-01']);
    expect(status?.progress?.steps.find((s) => s.id === `power-off/${SELF}`)).toBeUndefined();
    expect(w.violations).toEqual([]);
  });

  it('a delivery that fails once (the API blinked) is tried again: every announced node is sent, nothing written', async () => {
    const w = api(shutdownEvent());
    const op = operator(w, executors(w, { failFirstDelivery: 'titan-01' }), { selfNode: SELF });
    expect(await op.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(delivered(w.timeline).slice(-3)).toEqual(CONTROL_PLANE);
    expect(w.timeline.indexOf('failed to deliver titan-01')).toBeGreaterThan(w.timeline.indexOf('deliver titan-02'));
    expect(w.timeline.indexOf(LAST)).toBe(lastStatusAt(w.timeline)); // still the last status: no failure written
    expect(w.objects[KEY]?.status?.phase).toBe('Succeeded');
    expect(w.violations).toEqual([]);
  });

  it('without a node name: the control plane in the plan’s order, none named as the operator’s', async () => {
    const w = api(shutdownEvent());
    await operator(w, executors(w)).reconciler.reconcile(KEY);
    expect(delivered(w.timeline).slice(-3)).toEqual(['titan-03', 'titan-02', 'titan-01']);
    expect(w.timeline.indexOf(LAST)).toBe(lastStatusAt(w.timeline));
    expect(getCondition(w.objects[KEY]?.status?.conditions, 'Ready')?.message).toBe(
      'powering off the control plane: titan-03, titan-02, then titan-01; the API loses quorum on the way, so this is the last status this operator writes',
    );
  });
});

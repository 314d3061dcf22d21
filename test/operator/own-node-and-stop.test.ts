/**
 * Two things the reconciler does at the edge of a run, in the fake world of ./reconciler-world.ts:
 * - with a single control-plane node, the operator's own node is powered off last, after the last status it writes;
 *   a restarted operator confirms that step and never sends it again (also after a crash between the status and
 *   the delivery). Two or more control-plane nodes: ./last-status.test.ts;
 * - deleting the running event stops it at the next safe point, records where, removes the finalizer, undoes nothing.
 */
import { describe, expect, it } from 'vitest';
import { getCondition } from '../../core/status/conditions.js';
import { STOP_FINALIZER } from '../../operator/reconcile/stop.js';
import {
  api,
  delivered,
  executors,
  KEY,
  lastStatusAt,
  type Obj,
  operator,
  shutdownEvent,
  singleControlPlane,
  WORKERS,
} from './reconciler-world.js';

/** The own-node tests: one control-plane node, titan-03, where the operator runs. */
const own = { selfNode: 'titan-03', plan: singleControlPlane };

describe("the operator's own node", () => {
  it('is powered off last, after the last status, which says so; every other node went before', async () => {
    const w = api(shutdownEvent());
    const op = operator(w, executors(w), own);
    expect(await op.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });

    expect(delivered(w.timeline)).toEqual([...WORKERS, 'titan-03']);
    const last = w.timeline.indexOf('status Succeeded PoweringOffOwnNode');
    expect(last).toBeGreaterThan(0);
    expect(last).toBeLessThan(w.timeline.indexOf('deliver titan-03'));
    expect(last).toBe(lastStatusAt(w.timeline)); // nothing written after it
    expect(w.timeline.indexOf('finalizer removed')).toBeLessThan(last); // a finished event never blocks deletion

    const status = w.objects[KEY]?.status;
    expect(getCondition(status?.conditions, 'Ready')?.message).toBe(
      "powering off titan-03, the operator's own node: this is the last status this operator writes; every other step is done",
    );
    expect(status?.outage?.poweredOff).toEqual([...WORKERS, 'titan-03']);
    const states = Object.fromEntries((status?.progress?.steps ?? []).map((s) => [s.id, s.state]));
    expect(states['power-off/titan-03']).toBe('running');
    expect(Object.entries(states).filter(([id, s]) => id !== 'power-off/titan-03' && s !== 'done')).toEqual([]);
    expect(w.objects[KEY]?.metadata.finalizers ?? []).toEqual([]);

    // the same process, looking again (its own writes enqueue the key), writes nothing
    const before = w.timeline.length;
    expect(await op.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.timeline.slice(before)).toEqual([]);
    expect(w.violations).toEqual([]);
  });

  it('after power returns, a restarted operator marks the step done and does not power the node off again', async () => {
    const w = api(shutdownEvent());
    await operator(w, executors(w), own).reconciler.reconcile(KEY);
    const mark = w.timeline.length;

    const restarted = operator(w, executors(w), own);
    expect(await restarted.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.timeline.slice(mark)).toEqual(['status Succeeded Succeeded', 'event Succeeded']);
    const status = w.objects[KEY]?.status;
    const step = status?.progress?.steps.find((s) => s.id === 'power-off/titan-03');
    expect(step).toMatchObject({ state: 'done', message: expect.stringContaining('not sent again') });
    expect(status?.progress?.finishedAt).toBeDefined();
    expect(getCondition(status?.conditions, 'Ready')?.message).toContain('titan-03 (the operator');
    expect(getCondition(status?.conditions, 'NodesPoweredOff')).toMatchObject({ status: 'True' });

    expect(await restarted.reconciler.reconcile(KEY)).toEqual({ kind: 'done' }); // handled: nothing more
    expect(w.timeline.filter((t) => t === 'deliver titan-03')).toHaveLength(1);
    expect(w.violations).toEqual([]);
  });

  it('a crash between the last status and the delivery: the next operator does not send it (record before act)', async () => {
    const w = api(shutdownEvent());
    const crashed = new Promise<void>(() => undefined); // the process dies here: the delivery never happens
    const first = operator(
      w,
      executors(w, { beforeDelivery: (n) => (n === 'titan-03' ? crashed : Promise.resolve()) }),
      own,
    );
    void first.reconciler.reconcile(KEY);
    for (let i = 0; i < 200 && !w.timeline.includes('status Succeeded PoweringOffOwnNode'); i++) {
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(w.timeline).toContain('status Succeeded PoweringOffOwnNode');

    const second = operator(w, executors(w), own);
    expect(await second.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.timeline.filter((t) => t === 'deliver titan-03')).toEqual([]);
    expect(w.objects[KEY]?.status?.progress?.steps.find((s) => s.id === 'power-off/titan-03')?.state).toBe('done');
  });

  it('a failed delivery is written after all: the node is still up and the event Failed names it', async () => {
    const w = api(shutdownEvent());
    const op = operator(w, executors(w, { failDelivery: 'titan-03' }), own);
    expect((await op.reconciler.reconcile(KEY)).kind).toBe('stalled');
    const status = w.objects[KEY]?.status;
    expect(status?.phase).toBe('Failed');
    expect(getCondition(status?.conditions, 'Stalled')?.message).toContain('the helper pod on titan-03 failed');
    expect(w.timeline.indexOf('status Succeeded PoweringOffOwnNode')).toBeLessThan(lastStatusAt(w.timeline));
    expect(w.violations).toEqual([]);
  });

  it('without a node name, the plan ends with the control-plane node and no last-status write happens', async () => {
    const w = api(shutdownEvent());
    await operator(w, executors(w), { plan: singleControlPlane }).reconciler.reconcile(KEY);
    expect(delivered(w.timeline).at(-1)).toBe('titan-03');
    expect(w.timeline).not.toContain('status Succeeded PoweringOffOwnNode');
    expect(w.objects[KEY]?.status?.progress?.steps.every((s) => s.state === 'done')).toBe(true);
  });
});

describe('deleting the running PowerEvent', () => {
  it('stops at the next safe point: the drain in flight finishes, nothing after it starts, the stop is recorded', async () => {
    const w = api(shutdownEvent());
    let deleteNow: () => void = () => undefined;
    const op = operator(
      w,
      executors(w, {
        onStart: async (id) => {
          if (id === 'drain/titan-04') deleteNow();
        },
      }),
    );
    deleteNow = () => {
      const obj = w.objects[KEY];
      if (obj) obj.metadata.deletionTimestamp = '2026-11-25T02:00:01Z';
      w.timeline.push('deleted');
      op.reconciler.noticeDeletion(KEY);
    };
    expect(await op.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    const ran = w.timeline.filter((t) => t.startsWith('ran ') || t.startsWith('deliver '));
    // the drain batch runs two at a time: both in flight finish; the next two never start
    expect(ran.slice(-2)).toEqual(['ran drain/titan-04', 'ran drain/titan-05']);
    expect(ran.some((t) => /drain\/titan-0[67]|power-off|storage/.test(t))).toBe(false);
    const status = w.objects[KEY]?.status;
    expect(status?.progress?.stopped).toMatchObject({ beforeStep: 'drain/titan-06', reason: 'PowerEvent deleted' });
    expect(getCondition(status?.conditions, 'Stalled')?.message).toBe(
      'Stopped before step drain/titan-06 (Cordon and drain titan-06): PowerEvent deleted. Nothing was undone: the cluster stays as it is',
    );
    expect(w.objects[KEY]?.metadata.finalizers).toEqual([STOP_FINALIZER]); // still held: not recorded yet

    // the queue handles the key again: the stop is recorded, then the finalizer goes and the object with it
    expect(await op.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.objects[KEY]).toBeUndefined();
    expect(w.records).toHaveLength(1);
    const record = w.records[0];
    expect(record?.stopped).toMatchObject({ beforeStep: 'drain/titan-06', title: 'Cordon and drain titan-06' });
    expect(record?.done.at(-1)).toBe('drain/titan-05');
    expect(record?.outage?.inOutage).toBeDefined();
    expect(op.recorded.filter((r) => r.startsWith('Warning Stopped'))).toEqual([
      'Warning Stopped: Stopped before step drain/titan-06 (Cordon and drain titan-06): PowerEvent deleted. Nothing was undone: the cluster stays as it is; the outage record is kept in ConfigMap hecate-system/hecate-stopped-ev',
    ]);
    const order = ['stop record drain/titan-06', 'event Stopped', 'finalizer removed'].map((t) =>
      w.timeline.lastIndexOf(t),
    );
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(w.violations).toEqual([]);
  });

  it('deleted while no operator ran it (Running after a crash): recorded from status, not resumed', async () => {
    const w = api(shutdownEvent());
    const crash = new AbortController();
    const first = operator(
      w,
      executors(w, { onStart: async (id) => void (id === 'drain/titan-06' && crash.abort(new Error('SIGKILL'))) }),
      { signal: crash.signal },
    );
    await first.reconciler.reconcile(KEY);
    const obj = w.objects[KEY];
    expect(obj?.status?.phase).toBe('Running');
    if (obj) obj.metadata.deletionTimestamp = '2026-11-25T02:00:09Z';
    const mark = w.timeline.length;
    await operator(w, executors(w)).reconciler.reconcile(KEY);
    expect(w.timeline.slice(mark).filter((t) => t.startsWith('ran ') || t.startsWith('deliver '))).toEqual([]);
    expect(w.records[0]?.stopped.beforeStep).toMatch(/^drain\/titan-0[67]$/);
    expect(w.objects[KEY]).toBeUndefined();
  });

  it('a dry-run event never carries the finalizer; a finished one has it removed', async () => {
    const dry = api({ ...shutdownEvent(), spec: { action: 'shutdown', planRef: { name: 'atlas' } } } as Obj);
    await operator(dry, executors(dry)).reconciler.reconcile(KEY);
    expect(dry.timeline.filter((t) => t.startsWith('finalizer'))).toEqual([]);

    const done = api(shutdownEvent());
    await operator(done, executors(done)).reconciler.reconcile(KEY);
    expect(done.objects[KEY]?.status?.phase).toBe('Succeeded');
    expect(done.timeline.filter((t) => t.startsWith('finalizer'))).toEqual(['finalizer added', 'finalizer removed']);
    expect(done.timeline.indexOf('finalizer added')).toBeLessThan(done.timeline.indexOf('ran outage/record'));
  });
});

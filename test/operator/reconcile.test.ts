/**
 * The PowerEvent reconciler's outcomes with in-memory caches and a status store that behaves like the API's
 * /status subresource (whole-status apply, 404 once the object is gone). The kstatus invariants are checked after
 * every status write.
 */
import { describe, expect, it } from 'vitest';
import { PowerEventGoneError, PowerEventStatusStore } from '../../adapters/kube/powerevents.js';
import { API_VERSION, type PowerEventStatus, type PowerPlanSpec } from '../../core/api/index.js';
import { StepKind } from '../../core/plan/index.js';
import type { Executors, StepExecutor } from '../../core/run/executor.js';
import { checkKstatusInvariants, getCondition } from '../../core/status/conditions.js';
import type { ExecutorFactory, PowerEventReconcilerDeps } from '../../operator/reconcile/deps.js';
import { PowerEventReconciler } from '../../operator/reconcile/powerevent.js';
import type { EventRecorder } from '../../operator/runtime/events.js';
import { WorkQueue } from '../../operator/runtime/workqueue.js';
import { atlasSpec, VERIFIED_WAY_BACK } from '../helpers/atlas.js';
import { FakeClock, silentLogger } from '../helpers/fakes.js';
import { singleControlPlane } from './reconciler-world.js';

interface Scenario {
  events: Record<string, Record<string, unknown>>;
  plans: Record<string, unknown>;
  executors?: ExecutorFactory;
  runLease?: PowerEventReconcilerDeps['runLease'];
  onActiveReleased?: PowerEventReconcilerDeps['onActiveReleased'];
}

/** The API server as the reconciler sees it: objects by key, status written whole, every write recorded. */
function world(scenario: Scenario) {
  const writes: Array<{ key: string; status: PowerEventStatus }> = [];
  const recorded: string[] = [];
  const violations: string[] = [];
  const objects = scenario.events;
  const recorder: EventRecorder = {
    record: (obj, type, reason) => recorded.push(`${obj.name} ${type} ${reason}`),
    flush: async () => {},
  };
  const reconciler = new PowerEventReconciler({
    events: {
      get: (ns, name) => objects[`${ns}/${name}`],
      list: () => Object.values(objects),
    },
    plans: { get: (name) => scenario.plans[name] },
    observe: async () => ({ api: 'reachable', nodes: [] }),
    executors: scenario.executors ?? (() => ({ executors: {} })),
    openStatus: (ref, current) =>
      new PowerEventStatusStore(ref, current, async (r, status) => {
        const key = `${r.namespace}/${r.name}`;
        const obj = objects[key] as { metadata: { generation: number }; status?: unknown } | undefined;
        if (!obj) throw new PowerEventGoneError(key);
        violations.push(...checkKstatusInvariants(status, obj.metadata.generation).map((p) => `${key}: ${p}`));
        obj.status = structuredClone(status);
        writes.push({ key, status: structuredClone(status) });
      }),
    recorder,
    clock: new FakeClock(),
    logger: silentLogger,
    signal: new AbortController().signal,
    waitRequeueMs: 1_000,
    ...(scenario.runLease ? { runLease: scenario.runLease } : {}),
    ...(scenario.onActiveReleased ? { onActiveReleased: scenario.onActiveReleased } : {}),
  });
  const status = (key: string) => (objects[key] as { status?: PowerEventStatus }).status;
  return { reconciler, writes, recorded, violations, status };
}

function event(name: string, spec: Record<string, unknown>, status?: unknown) {
  return {
    apiVersion: API_VERSION,
    kind: 'PowerEvent',
    metadata: {
      name,
      namespace: 'hecate-system',
      uid: `uid-${name}`,
      generation: 1,
      creationTimestamp: '2026-11-25T01:00:00Z',
    },
    spec: { planRef: { name: 'atlas' }, execute: false, ...spec },
    ...(status ? { status } : {}),
  };
}

const atlas = {
  apiVersion: API_VERSION,
  kind: 'PowerPlan',
  metadata: { name: 'atlas' },
  spec: atlasSpec(),
  status: { conditions: [], wayBack: VERIFIED_WAY_BACK },
};

/** Executors for every step kind that record what they ran; `failOn` makes one step fail. */
function recordingExecutors(ran: string[], failOn?: string): ExecutorFactory {
  const executor: StepExecutor = {
    check: async () => false,
    apply: async (step) => {
      ran.push(step.id);
      if (step.id === failOn) throw new Error('the node did not answer');
    },
  };
  const executors: Executors = Object.fromEntries(Object.values(StepKind).map((kind) => [kind, executor]));
  return () => ({ executors });
}

const KEY = 'hecate-system/ev';

describe('PowerEventReconciler', () => {
  it.each([
    { action: 'shutdown', mode: 'shutdown' },
    { action: 'startup', mode: 'startup' },
    { action: 'prepare', mode: 'prepare' },
    { action: 'harbor-seed', mode: 'harbor-seed' },
  ])('dry-run $action: renders the plan, Ready=True, done, one status write', async ({ action, mode }) => {
    const w = world({ events: { [KEY]: event('ev', { action }) }, plans: { atlas } });
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    const status = w.status(KEY);
    expect(status?.plan?.mode).toBe(mode);
    expect(getCondition(status?.conditions, 'Ready')).toMatchObject({ status: 'True', reason: 'DryRun' });
    expect(status?.observedGeneration).toBe(1);
    expect(w.writes).toHaveLength(1);
    expect(w.recorded).toEqual(['ev Normal DryRun']);
    expect(w.violations).toEqual([]);
  });

  it('does not look at a handled generation again', async () => {
    const w = world({ events: { [KEY]: event('ev', { action: 'shutdown' }) }, plans: { atlas } });
    await w.reconciler.reconcile(KEY);
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.writes).toHaveLength(1);
  });

  it.each([
    { given: 'a missing PowerPlan', plans: {}, reason: 'PlanNotFound', says: 'PowerPlan "atlas" not found' },
    {
      given: 'an invalid PowerPlan',
      plans: { atlas: { ...atlas, spec: { ...atlas.spec, nodes: 'titan-01' } } },
      reason: 'InvalidPlan',
      says: 'nodes',
    },
  ])('stalls on $given with a clear message', async ({ plans, reason, says }) => {
    const w = world({ events: { [KEY]: event('ev', { action: 'startup' }) }, plans });
    const outcome = await w.reconciler.reconcile(KEY);
    expect(outcome.kind).toBe('stalled');
    const stalled = getCondition(w.status(KEY)?.conditions, 'Stalled');
    expect(stalled).toMatchObject({ status: 'True', reason });
    expect(stalled?.message).toContain(says);
    expect(getCondition(w.status(KEY)?.conditions, 'Ready')).toMatchObject({ status: 'False', reason });
    expect(w.recorded).toEqual([`ev Warning ${reason}`]);
    expect(w.violations).toEqual([]);
    await w.reconciler.reconcile(KEY);
    expect(w.recorded).toHaveLength(1); // the same stall is not announced twice
  });

  it('stalls an executing event whose plan has step kinds without an executor, naming them, running nothing', async () => {
    const ran: string[] = [];
    const partial: ExecutorFactory = () => ({
      executors: { [StepKind.RecordOutage]: { check: async () => false, apply: async (s) => void ran.push(s.id) } },
    });
    const w = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      plans: { atlas },
      executors: partial,
    });
    const outcome = await w.reconciler.reconcile(KEY);
    expect(outcome.kind).toBe('stalled');
    const message = getCondition(w.status(KEY)?.conditions, 'Stalled')?.message ?? '';
    expect(message).toMatch(/suspend-flux.*drain-node.*power-off-node/);
    expect(message).not.toContain('record-outage');
    expect(ran).toEqual([]);
    expect(w.status(KEY)?.progress).toBeUndefined();
    expect(w.status(KEY)?.phase).toBe('Pending');
  });

  it('runs an executing event through every step, stage conditions True, Ready=True, Events per step', async () => {
    const ran: string[] = [];
    const w = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      // one control-plane node: with more, the run ends with the last status (./last-status.test.ts)
      plans: { atlas: singleControlPlane },
      executors: recordingExecutors(ran),
    });
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    const status = w.status(KEY);
    expect(status?.phase).toBe('Succeeded');
    expect(ran).toEqual(status?.plan?.steps.map((s) => s.id));
    for (const type of ['NodesDrained', 'NodesPoweredOff', 'FluxSuspended']) {
      expect(getCondition(status?.conditions, type)).toMatchObject({ status: 'True', reason: 'Succeeded' });
    }
    expect(getCondition(status?.conditions, 'Reconciling')).toBeUndefined();
    expect(w.recorded.filter((r) => r.includes('StepStarted'))).toHaveLength(ran.length);
    expect(w.violations).toEqual([]);
    // progress was written between steps, and Running before the first one
    expect(w.writes[0]?.status.phase).toBe('Running');
    expect(w.writes.length).toBeGreaterThan(ran.length);
  });

  it('fails on a step error: Stalled, phase Failed, and the failed plan is not run again', async () => {
    const ran: string[] = [];
    const w = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      plans: { atlas },
      executors: recordingExecutors(ran, 'outage/record'),
    });
    const outcome = await w.reconciler.reconcile(KEY);
    expect(outcome.kind).toBe('stalled');
    expect(w.status(KEY)?.phase).toBe('Failed');
    expect(getCondition(w.status(KEY)?.conditions, 'Stalled')?.reason).toBe('StepFailed');
    expect(getCondition(w.status(KEY)?.conditions, 'Stalled')?.message).toContain('the node did not answer');
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(ran).toEqual(['outage/record']);
    expect(w.violations).toEqual([]);
  });

  it('a step that met the API server unavailable is not a failure: the event stays Running and the retry resumes at that step', async () => {
    const ran: string[] = [];
    let down = true;
    const executor: StepExecutor = {
      check: async () => false,
      apply: async (step) => {
        ran.push(step.id);
        if (step.id === 'flux-suspend/root' && down) {
          down = false; // the API server restarts meanwhile
          const cause = Object.assign(
            new Error('request to https://127.0.0.1:6443/apis failed, reason: connect ECONNREFUSED'),
            {
              code: 'ECONNREFUSED',
            },
          );
          throw new Error('suspending flux-system/flux-system', { cause });
        }
      },
    };
    const executors: Executors = Object.fromEntries(Object.values(StepKind).map((kind) => [kind, executor]));
    const w = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      plans: { atlas },
      executors: () => ({ executors }),
    });
    const first = await w.reconciler.reconcile(KEY);
    expect(first.kind).toBe('retry');
    expect(w.status(KEY)?.phase).toBe('Running');
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.status(KEY)?.phase).toBe('Succeeded');
    expect(ran.filter((id) => id === 'outage/record')).toHaveLength(1); // resumed, not started again
    expect(ran.filter((id) => id === 'flux-suspend/root')).toHaveLength(2);
    expect(w.violations).toEqual([]);
  });

  it('a 503 from the API server is the same; a refusal (403) is a failure', async () => {
    const fail = (code: number): ExecutorFactory => {
      let thrown = false;
      const executor: StepExecutor = {
        check: async () => false,
        apply: async (step) => {
          if (step.id !== 'outage/record' || thrown) return;
          thrown = true;
          throw Object.assign(new Error(`HTTP-Code: ${code}`), { code });
        },
      };
      return () => ({ executors: Object.fromEntries(Object.values(StepKind).map((kind) => [kind, executor])) });
    };
    const unavailable = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      plans: { atlas },
      executors: fail(503),
    });
    expect((await unavailable.reconciler.reconcile(KEY)).kind).toBe('retry');
    expect(unavailable.status(KEY)?.phase).toBe('Running');
    const refused = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      plans: { atlas },
      executors: fail(403),
    });
    expect((await refused.reconciler.reconcile(KEY)).kind).toBe('stalled');
    expect(refused.status(KEY)?.phase).toBe('Failed');
  });

  it('makes an executing event wait while another is Running, naming it, then run once it finished', async () => {
    const running = event('active', { action: 'startup', execute: true }, { conditions: [], phase: 'Running' });
    const ran: string[] = [];
    const w = world({
      events: { 'hecate-system/active': running, [KEY]: event('ev', { action: 'prepare', execute: true }) },
      plans: { atlas },
      executors: recordingExecutors(ran),
    });
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'requeueAfter', ms: 1_000 });
    const reconciling = getCondition(w.status(KEY)?.conditions, 'Reconciling');
    expect(reconciling).toMatchObject({ reason: 'WaitingForActiveEvent' });
    expect(reconciling?.message).toContain('hecate-system/active');
    expect(w.status(KEY)?.phase).toBe('Waiting');
    expect(w.status(KEY)?.observedGeneration).toBeUndefined();
    expect(ran).toEqual([]);

    (running.status as { phase: string }).phase = 'Succeeded';
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.status(KEY)?.phase).toBe('Succeeded');
    expect(w.violations).toEqual([]);
  });

  it('retries an event whose run Lease cannot be taken (the API server down) after its backoff: its release enqueues the other events, not itself', async () => {
    const OTHER = 'hecate-system/other';
    const calls: string[] = [];
    const released: (readonly string[])[] = [];
    let queue: WorkQueue | undefined;
    const w = world({
      events: {
        [KEY]: event('ev', { action: 'prepare', execute: true }),
        [OTHER]: event('other', { action: 'prepare' }),
      },
      plans: { atlas },
      executors: recordingExecutors([]),
      runLease: () => ({
        acquire: async () => {
          throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
        },
        release: async () => {},
      }),
      // wired as the operator wires it (operator/hecate.ts)
      onActiveReleased: (others) => {
        released.push(others);
        for (const key of others) queue?.add(key);
      },
    });
    queue = new WorkQueue(
      async (key) => {
        calls.push(key);
        // bounded: were the event enqueued by its own release, it would run again at once, without end
        if (calls.filter((k) => k === KEY).length > 20) return { kind: 'done' };
        return w.reconciler.reconcile(key);
      },
      { backoff: { baseMs: 60_000, maxMs: 60_000 } },
    );
    queue.start();
    queue.add(KEY);
    await queue.idle();
    await queue.shutdown();
    // one attempt, then the retry waits its 60 s backoff; the other event was looked at once
    expect(calls.filter((k) => k === KEY)).toHaveLength(1);
    expect(released).toEqual([[OTHER]]);
    expect(calls).toEqual([KEY, OTHER]);
  });

  it('makes an executing event wait while a CLI run holds the run Lease, naming it, then hold the Lease for its run', async () => {
    const ran: string[] = [];
    const lease = { holder: 'cli/control/4242: hecate shutdown --execute', log: [] as string[] };
    const w = world({
      events: { [KEY]: event('ev', { action: 'prepare', execute: true }) },
      plans: { atlas },
      executors: recordingExecutors(ran),
      runLease: (key) => ({
        acquire: async () => {
          lease.log.push(`acquire ${key}`);
          if (lease.holder) return { ok: false, holder: lease.holder, lease: 'hecate-system/hecate-run' };
          lease.holder = `operator: ${key}`;
          return { ok: true };
        },
        release: async () => {
          lease.log.push(`release ${key} (ran ${ran.length} step(s))`);
          lease.holder = '';
        },
      }),
    });
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'requeueAfter', ms: 1_000 });
    const reconciling = getCondition(w.status(KEY)?.conditions, 'Reconciling');
    expect(reconciling?.message).toBe(
      'Waiting for cli/control/4242: hecate shutdown --execute to finish: one run acts at a time (the run Lease hecate-system/hecate-run)',
    );
    expect(w.status(KEY)?.phase).toBe('Waiting');
    expect(w.recorded).toContain('ev Normal WaitingForActiveEvent');
    expect(ran).toEqual([]);

    lease.holder = ''; // the CLI run finished
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.status(KEY)?.phase).toBe('Succeeded');
    expect(ran.length).toBeGreaterThan(0);
    expect(lease.log).toEqual([
      `acquire ${KEY}`,
      `release ${KEY} (ran 0 step(s))`,
      `acquire ${KEY}`,
      `release ${KEY} (ran ${ran.length} step(s))`,
    ]);
    expect(w.violations).toEqual([]);
  });

  it('resumes a Running event from its recorded progress without repeating done steps', async () => {
    const ran: string[] = [];
    const w1 = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      plans: { atlas },
      executors: recordingExecutors(ran, 'drain/titan-05'),
    });
    await w1.reconciler.reconcile(KEY);
    const failedAt = ran.length;
    // a restarted operator finds the event Running with the progress of the first one
    const status = { ...w1.status(KEY), phase: 'Running' } as PowerEventStatus;
    const again: string[] = [];
    const w2 = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }, status) },
      plans: { atlas },
      executors: recordingExecutors(again),
    });
    expect(await w2.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    const done = new Set(ran.slice(0, failedAt).filter((id) => id !== 'drain/titan-05'));
    expect(again.filter((id) => done.has(id))).toEqual([]);
    expect(again).toContain('drain/titan-05');
  });

  it('finishes, without running a step again, a run whose end was recorded but not its Succeeded (a crash between)', async () => {
    const ran: string[] = [];
    const w1 = world({
      events: { [KEY]: event('ev', { action: 'startup', execute: true }) },
      plans: { atlas },
      executors: recordingExecutors(ran),
    });
    expect(await w1.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(ran.length).toBeGreaterThan(0);
    // the runner's last progress write (finishedAt) landed, the process died before the phase write (a startup: a
    // shutdown's last status seals the store before its end)
    const { finishedAt: _end, ...ended } = w1.status(KEY) as PowerEventStatus;
    expect(ended.progress?.finishedAt).toBeDefined();
    const again: string[] = [];
    const w2 = world({
      events: { [KEY]: event('ev', { action: 'startup', execute: true }, { ...ended, phase: 'Running' }) },
      plans: { atlas },
      executors: recordingExecutors(again),
    });
    expect(await w2.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(again).toEqual([]);
    expect(w2.status(KEY)?.phase).toBe('Succeeded');
    expect(w2.status(KEY)?.progress).toEqual(ended.progress);
    expect(w2.violations).toEqual([]);
  });

  it('resumes a begun run that had to wait (the run Lease held) from its recorded plan, not a fresh one', async () => {
    const ran: string[] = [];
    const w1 = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      plans: { atlas },
      executors: recordingExecutors(ran, 'drain/titan-05'),
    });
    await w1.reconciler.reconcile(KEY);
    const failedAt = ran.length;
    // a restarted operator finds the run begun (as a CLI hand-off leaves it) while someone else holds the run Lease;
    // its recorded plan ends one step earlier than a plan compiled now would
    const begun = w1.status(KEY) as PowerEventStatus;
    const recorded = begun.plan ? { ...begun.plan, steps: begun.plan.steps.slice(0, -1) } : undefined;
    const dropped = begun.plan?.steps.at(-1)?.id ?? '';
    const status = { ...begun, plan: recorded, phase: 'Running' } as PowerEventStatus;
    const again: string[] = [];
    let holder = 'cli/control/4242: hecate startup --execute';
    const w2 = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }, status) },
      plans: { atlas },
      executors: recordingExecutors(again),
      runLease: () => ({
        acquire: async () => (holder ? { ok: false, holder, lease: 'hecate-system/hecate-run' } : { ok: true }),
        release: async () => {},
      }),
    });
    expect(await w2.reconciler.reconcile(KEY)).toEqual({ kind: 'requeueAfter', ms: 1_000 });
    expect(w2.status(KEY)?.phase).toBe('Waiting');
    holder = '';
    expect(await w2.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    const done = new Set(ran.slice(0, failedAt).filter((id) => id !== 'drain/titan-05'));
    expect(again.filter((id) => done.has(id))).toEqual([]);
    expect(again).toContain('drain/titan-05');
    expect(dropped).not.toBe('');
    expect(again).not.toContain(dropped);
    expect(w2.status(KEY)?.progress?.startedAt).toBe(status.progress?.startedAt);
  });

  it('resumes from the PowerPlan spec the run started with, and says what changed in the live one', async () => {
    const w1 = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      plans: { atlas },
      executors: recordingExecutors([], 'drain/titan-05'),
    });
    await w1.reconciler.reconcile(KEY);
    const status = { ...w1.status(KEY), phase: 'Running' } as PowerEventStatus;
    expect(status.progress?.planSpec).toEqual(atlas.spec);
    // the PowerPlan is edited while the event is Running; the operator restarts
    const edited = { ...atlas, spec: { ...atlas.spec, drain: { ...atlas.spec.drain, timeout: '10m' } } };
    const given: PowerPlanSpec[] = [];
    const ran: string[] = [];
    const executors: ExecutorFactory = (plan) => {
      given.push(plan.spec);
      return recordingExecutors(ran)(plan);
    };
    const w2 = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }, status) },
      plans: { atlas: edited },
      executors,
    });
    expect(await w2.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(given).toEqual([atlas.spec]);
    expect(ran).toContain('drain/titan-05');
    const changed = getCondition(w2.status(KEY)?.conditions, 'PlanChanged');
    expect(changed).toMatchObject({ status: 'True', reason: 'PlanChangedDuringEvent' });
    expect(changed?.message).toContain(`spec.drain.timeout: "${atlas.spec.drain.timeout}" → "10m"`);
    expect(changed?.message).toContain('the run keeps the plan it started with until it ends');
    expect(w2.recorded).toContain('ev Warning PlanChangedDuringEvent');
    expect(w2.status(KEY)?.progress?.planSpec).toEqual(atlas.spec);
    expect(w2.violations).toEqual([]);
  });

  it('a new run acts from the live PowerPlan, with no PlanChanged condition', async () => {
    const given: PowerPlanSpec[] = [];
    const w = world({
      events: { [KEY]: event('ev', { action: 'shutdown', execute: true }) },
      plans: { atlas },
      executors: (plan) => {
        given.push(plan.spec);
        return recordingExecutors([])(plan);
      },
    });
    await w.reconciler.reconcile(KEY);
    expect(given).toEqual([atlas.spec]);
    expect(getCondition(w.status(KEY)?.conditions, 'PlanChanged')).toBeUndefined();
  });

  it('forgets an event that is gone from the cache', async () => {
    const w = world({ events: {}, plans: { atlas } });
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'done' });
    expect(w.writes).toEqual([]);
  });
});

describe('a hand-off in progress (the CLI writes the status in a second request)', () => {
  const handedOff = (began: string) => {
    const e = event('ev', { action: 'startup', execute: true });
    return { ...e, metadata: { ...e.metadata, annotations: { 'power.hecate.dev/handoff-pending': began } } };
  };

  it('given the pending annotation, then the operator writes nothing, runs nothing and looks again soon', async () => {
    const ran: string[] = [];
    const w = world({
      events: { [KEY]: handedOff('2026-11-25T01:59:50Z') },
      plans: { atlas },
      executors: recordingExecutors(ran),
    });
    expect(await w.reconciler.reconcile(KEY)).toEqual({ kind: 'requeueAfter', ms: 30_000 });
    expect(w.writes).toEqual([]);
    expect(ran).toEqual([]);
    expect(w.recorded).toEqual([]);
  });

  it('given a pending annotation older than 10 minutes (the CLI died mid-hand-off), then the operator goes on', async () => {
    const ran: string[] = [];
    const w = world({
      events: { [KEY]: handedOff('2026-11-25T01:49:00Z') },
      plans: { atlas },
      executors: recordingExecutors(ran),
    });
    await w.reconciler.reconcile(KEY);
    expect(w.writes.length).toBeGreaterThan(0);
  });
});

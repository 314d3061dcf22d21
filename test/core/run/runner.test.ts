import { describe, expect, it } from 'vitest';
import { outageRecord, type PlanStep, type RenderedPlan } from '../../../core/api/index.js';
import { step } from '../../../core/plan/step.js';
import { MissingExecutorError, RunStoppedError, StepFailedError } from '../../../core/run/errors.js';
import type { Executors, StepExecutor } from '../../../core/run/executor.js';
import { runPlan } from '../../../core/run/runner.js';
import { atlasSpec } from '../../helpers/atlas.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

function plan(steps: PlanStep[]): RenderedPlan {
  return { mode: 'shutdown', planName: 'test', execute: true, steps, notes: [] };
}
const s = (id: string, extra: Partial<PlanStep> = {}) =>
  step({ id, stage: 'test', kind: 'act', title: `do ${id}`, why: 'test', ...extra });

/** An executor that logs what it does into `log`, and can be told to fail or report done. */
function recording(log: string[], opts: { failOn?: Set<string>; done?: Set<string> } = {}): StepExecutor {
  return {
    check: async (st) => opts.done?.has(st.id) ?? false,
    apply: async (st, ctx) => {
      log.push(`apply ${st.id}`);
      if (opts.failOn?.has(st.id)) throw new Error(`boom at ${st.id}`);
      await ctx.record((o) => o.poweredOff.push(st.id));
    },
  };
}

async function run(steps: PlanStep[], executors: Executors, store = new MemoryStore(), guard?: () => Promise<boolean>) {
  return runPlan({
    plan: plan(steps),
    action: 'shutdown',
    executors,
    store,
    clock: new FakeClock(),
    logger: silentLogger,
    ...(guard ? { guard } : {}),
  });
}

describe('runPlan', () => {
  it('given a plan, records each step running before it acts and done after, in order', async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    await run([s('a'), s('b')], { act: recording(log) }, store);
    expect(log).toEqual(['apply a', 'apply b']);
    const states = store.history.map((h) => h.progress?.steps.map((r) => `${r.id}:${r.state}`).join(','));
    expect(states).toEqual([
      '',
      'a:running',
      'a:running',
      'a:done',
      'a:done,b:running',
      'a:done,b:running',
      'a:done,b:done',
      'a:done,b:done',
    ]);
    expect(store.latest?.progress?.finishedAt).toBeDefined();
    expect(store.latest?.outage.poweredOff).toEqual(['a', 'b']);
  });

  it('given a crash at step b, when rerun, then a is not repeated and b and c run', async () => {
    const store = new MemoryStore();
    const first: string[] = [];
    await expect(
      run([s('a'), s('b'), s('c')], { act: recording(first, { failOn: new Set(['b']) }) }, store),
    ).rejects.toBeInstanceOf(StepFailedError);
    expect(first).toEqual(['apply a', 'apply b']);
    expect(store.latest?.progress?.steps.find((r) => r.id === 'b')).toMatchObject({
      state: 'failed',
      message: expect.stringContaining('boom at b'),
    });
    const second: string[] = [];
    await run([s('a'), s('b'), s('c')], { act: recording(second) }, store);
    expect(second).toEqual(['apply b', 'apply c']);
  });

  it('given a new run, then the spec it was compiled from is recorded; a resumed run keeps the one it started with', async () => {
    const store = new MemoryStore();
    const first = atlasSpec();
    const options = { action: 'shutdown' as const, store, clock: new FakeClock(), logger: silentLogger };
    await expect(
      runPlan({
        ...options,
        plan: plan([s('a'), s('b')]),
        executors: { act: recording([], { failOn: new Set(['b']) }) },
        planSpec: first,
      }),
    ).rejects.toBeInstanceOf(StepFailedError);
    expect(store.history[0]?.progress?.planSpec).toEqual(first);
    const later = { ...first, drain: { ...first.drain, timeout: '10m' } };
    await runPlan({ ...options, plan: plan([s('a'), s('b')]), executors: { act: recording([]) }, planSpec: later });
    expect(store.latest?.progress?.planSpec).toEqual(first);
  });

  it('given a step recorded running that the resuming plan no longer has, then it is recorded skipped, saying why, before any step runs', async () => {
    const store = new MemoryStore();
    const log: string[] = [];
    await expect(
      run([s('a'), s('chain/gitea')], { act: recording(log, { failOn: new Set(['chain/gitea']) }) }, store),
    ).rejects.toBeInstanceOf(StepFailedError);
    // as after a kill mid-step: the record says running
    const saved = store.latest;
    const steps = saved?.progress?.steps.map((r) =>
      r.id === 'chain/gitea'
        ? { id: r.id, state: 'running' as const, startedAt: r.startedAt }
        : { ...r, state: 'done' as const },
    );
    const killed = new MemoryStore(
      saved && { ...saved, progress: saved.progress && { ...saved.progress, steps: steps ?? [] } },
    );
    await run([s('a'), s('close')], { act: recording(log) }, killed);
    const dropped = killed.history[0]?.progress?.steps.find((r) => r.id === 'chain/gitea');
    expect(dropped).toMatchObject({
      state: 'skipped',
      message: expect.stringContaining('the plan this run resumed with no longer has it'),
    });
    expect(dropped?.finishedAt).toBeDefined();
    expect(killed.latest?.progress?.steps.map((r) => `${r.id}:${r.state}`)).toEqual([
      'a:done',
      'chain/gitea:skipped',
      'close:done',
    ]);
  });

  it('given a step whose effect is already in place, then it is recorded done without acting', async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    await run([s('a'), s('b')], { act: recording(log, { done: new Set(['a']) }) }, store);
    expect(log).toEqual(['apply b']);
    expect(store.latest?.progress?.steps.find((r) => r.id === 'a')).toMatchObject({
      state: 'done',
      message: 'already done',
    });
  });

  it('given a guard that does not hold, then the guarded step is skipped', async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    await run([s('a'), s('b', { when: 'flux-source-not-ready' })], { act: recording(log) }, store, async () => false);
    expect(log).toEqual(['apply a']);
    expect(store.latest?.progress?.steps.find((r) => r.id === 'b')?.state).toBe('skipped');
  });

  it('given a step kind with no executor, then it refuses before saving anything', async () => {
    const store = new MemoryStore();
    await expect(run([s('a'), s('b', { kind: 'unknown' })], { act: recording([]) }, store)).rejects.toBeInstanceOf(
      MissingExecutorError,
    );
    expect(store.history).toHaveLength(0);
  });

  it('given a finished run of the same mode, then a rerun starts afresh', async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    await run([s('a')], { act: recording(log) }, store);
    await run([s('a')], { act: recording(log) }, store);
    expect(log).toEqual(['apply a', 'apply a']);
  });

  it('given a group of steps, then at most `parallelism` run at once, and every one finishes', async () => {
    let running = 0;
    let peak = 0;
    const executor: StepExecutor = {
      check: async () => false,
      apply: async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running -= 1;
      },
    };
    const group = { params: { group: 'drain', parallelism: '2' } };
    const store = new MemoryStore();
    await run([s('n1', group), s('n2', group), s('n3', group), s('n4', group), s('after')], { act: executor }, store);
    expect(peak).toBe(2);
    expect(store.latest?.progress?.steps.map((r) => r.state)).toEqual(['done', 'done', 'done', 'done', 'done']);
  });

  it('keeps an existing outage record and adds to it', async () => {
    const outage = outageRecord.parse({ inOutage: true, poweredOff: ['x'] });
    const store = new MemoryStore({ outage });
    await run([s('a')], { act: recording([]) }, store);
    expect(store.latest?.outage.poweredOff).toEqual(['x', 'a']);
    expect(store.latest?.outage.inOutage).toBe(true);
  });
});

describe('stopping at a safe point', () => {
  it('given a stop asked during step b, then b finishes, c never starts, and progress records where and why', async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    const stop = new AbortController();
    const inner = recording(log);
    const executors: Executors = {
      act: {
        ...inner,
        apply: async (st, ctx) => {
          if (st.id === 'b') stop.abort('the UPS is on battery at 20%');
          await inner.apply(st, ctx);
        },
      },
    };
    const error = await runPlan({
      plan: plan([s('a'), s('b'), s('c')]),
      action: 'shutdown',
      executors,
      store,
      clock: new FakeClock(),
      logger: silentLogger,
      stop: stop.signal,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunStoppedError);
    expect((error as RunStoppedError).message).toBe('stopped before step c (do c): the UPS is on battery at 20%');
    expect(log).toEqual(['apply a', 'apply b']);
    const saved = store.latest?.progress;
    expect(saved?.steps.map((r) => `${r.id}:${r.state}`)).toEqual(['a:done', 'b:done']);
    expect(saved?.stopped).toEqual({ beforeStep: 'c', at: expect.any(String), reason: 'the UPS is on battery at 20%' });
    expect(saved?.finishedAt).toBeUndefined();
  });

  it('given a run stopped before c, when rerun without a stop, then only c runs and the stop record is cleared', async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    const stop = new AbortController();
    stop.abort('operator deleted the PowerEvent');
    await runPlan({
      plan: plan([s('a'), s('b')]),
      action: 'shutdown',
      executors: { act: recording(log) },
      store,
      clock: new FakeClock(),
      logger: silentLogger,
      stop: stop.signal,
    }).catch(() => undefined);
    expect(log).toEqual([]);
    expect(store.latest?.progress?.stopped?.beforeStep).toBe('a');
    await run([s('a'), s('b')], { act: recording(log) }, store);
    expect(log).toEqual(['apply a', 'apply b']);
    expect(store.latest?.progress?.stopped).toBeUndefined();
    expect(store.latest?.progress?.finishedAt).toBeDefined();
  });

  it('given a stop during a parallel group, then steps in flight finish and the first unstarted one is recorded', async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    const stop = new AbortController();
    const grouped = (id: string) => s(id, { params: { group: 'g', parallelism: '2' } });
    const executors: Executors = {
      act: {
        check: async () => false,
        apply: async (st) => {
          log.push(`start ${st.id}`);
          if (st.id === 'w1') stop.abort('stop');
          await new Promise((r) => setTimeout(r, 5));
          log.push(`end ${st.id}`);
        },
      },
    };
    const error = await runPlan({
      plan: plan([grouped('w1'), grouped('w2'), grouped('w3'), grouped('w4'), s('after')]),
      action: 'shutdown',
      executors,
      store,
      clock: new FakeClock(),
      logger: silentLogger,
      stop: stop.signal,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunStoppedError);
    expect(log.sort()).toEqual(['end w1', 'end w2', 'start w1', 'start w2']);
    expect(store.latest?.progress?.stopped?.beforeStep).toBe('w3');
  });
});

describe('stopping inside a step', () => {
  const stopped = (stop: AbortController, executors: Executors, store: MemoryStore, steps: PlanStep[]) =>
    runPlan({
      plan: plan(steps),
      action: 'startup',
      executors,
      store,
      clock: new FakeClock(),
      logger: silentLogger,
      stop: stop.signal,
    }).catch((e: unknown) => e);

  it('given a stop asked while a step is being checked, then the step does not act and the run stops before it', async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    const stop = new AbortController();
    const executors: Executors = {
      act: {
        check: async (st) => {
          if (st.id === 'b') stop.abort('UPS on battery at 20%');
          return false;
        },
        apply: async (st) => {
          log.push(`apply ${st.id}`);
        },
      },
    };
    const error = await stopped(stop, executors, store, [s('a'), s('b'), s('c')]);
    expect(error).toBeInstanceOf(RunStoppedError);
    expect(log).toEqual(['apply a']);
    expect(store.latest?.progress?.stopped?.beforeStep).toBe('b');
    expect(store.latest?.progress?.steps.map((r) => r.id)).toEqual(['a']);
  });

  it('given a stop during a wait, then the wait is cut, the step stays running, and a rerun checks it again', async () => {
    const log: string[] = [];
    const store = new MemoryStore();
    const stop = new AbortController();
    let ready = false;
    const executors: Executors = {
      act: {
        check: async () => ready,
        apply: async (st) => {
          log.push(`apply ${st.id}`);
          if (st.id === 'a') setTimeout(() => stop.abort('UPS low'), 5);
        },
        wait: (st, ctx) =>
          new Promise<void>((_resolve, reject) => {
            log.push(`wait ${st.id}`);
            if (ctx.signal.aborted) return reject(ctx.signal.reason);
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
          }),
      },
    };
    const error = await stopped(stop, executors, store, [s('a'), s('b')]);
    expect(error).toBeInstanceOf(RunStoppedError);
    expect(log).toEqual(['apply a', 'wait a']);
    const record = store.latest?.progress?.steps.find((r) => r.id === 'a');
    expect(record).toMatchObject({ state: 'running', message: expect.stringContaining('cut short by a stop') });
    expect(store.latest?.progress?.stopped).toMatchObject({ beforeStep: 'a', waitCut: true });
    expect((error as RunStoppedError).message).toBe('stopped while waiting on step a (do a), which had acted: UPS low');

    ready = true;
    const rerun = await runPlan({
      plan: plan([s('a'), s('b')]),
      action: 'startup',
      executors,
      store,
      clock: new FakeClock(),
      logger: silentLogger,
    });
    expect(rerun.steps.map((r) => `${r.id}:${r.state}:${r.message ?? ''}`)).toEqual([
      'a:done:already done',
      'b:done:already done',
    ]);
  });

  it('given the process signal (not a stop) aborting a wait, then the step fails as before', async () => {
    const store = new MemoryStore();
    const stop = new AbortController();
    const shutdown = new AbortController();
    const executors: Executors = {
      act: {
        check: async () => false,
        apply: async () => {
          setTimeout(() => shutdown.abort(new Error('SIGTERM')), 5);
        },
        wait: (_st, ctx) =>
          new Promise<void>((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
          }),
      },
    };
    const error = await runPlan({
      plan: plan([s('a')]),
      action: 'startup',
      executors,
      store,
      clock: new FakeClock(),
      logger: silentLogger,
      stop: stop.signal,
      signal: shutdown.signal,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailedError);
    expect(store.latest?.progress?.steps[0]?.state).toBe('failed');
  });
});

describe('closing the outage', () => {
  it('clears the per-outage lists once startup closes it, keeping the Flux revision', async () => {
    const { coreExecutors } = await import('../../../core/steps/index.js');
    const outage = outageRecord.parse({
      inOutage: true,
      poweredOff: ['titan-04'],
      alreadySuspended: ['Kustomization/flux-system/apps'],
      fluxRevision: 'main@sha1:abc',
    });
    const store = new MemoryStore({ outage });
    const close = s('outage/close', { kind: 'close-outage' });
    await runPlan({
      plan: plan([close]),
      action: 'startup',
      executors: coreExecutors(),
      store,
      clock: new FakeClock(),
      logger: silentLogger,
    });
    expect(store.latest?.outage).toMatchObject({
      inOutage: false,
      poweredOff: [],
      alreadySuspended: [],
      fluxRevision: 'main@sha1:abc',
    });
  });
});

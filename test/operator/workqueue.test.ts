import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Outcome } from '../../operator/runtime/outcome.js';
import { WorkQueue } from '../../operator/runtime/workqueue.js';

/** A handler whose runs are recorded and whose results are scripted per key. */
function scripted(results: Record<string, Array<Outcome | Error>> = {}) {
  const calls: string[] = [];
  const gates = new Map<string, () => void>();
  let concurrent = 0;
  let maxConcurrent = 0;
  const handler = async (key: string): Promise<Outcome> => {
    calls.push(key);
    concurrent += 1;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    try {
      if (key.startsWith('slow')) await new Promise<void>((resolve) => gates.set(key, resolve));
      const next = results[key]?.shift() ?? Outcome.done();
      if (next instanceof Error) throw next;
      return next;
    } finally {
      concurrent -= 1;
    }
  };
  return { handler, calls, release: (key: string) => gates.get(key)?.(), maxConcurrent: () => maxConcurrent };
}

describe('WorkQueue', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('deduplicates a key added several times before it runs', async () => {
    const h = scripted();
    const queue = new WorkQueue(h.handler);
    queue.add('a');
    queue.add('a');
    queue.add('b');
    queue.start();
    await queue.idle();
    expect(h.calls).toEqual(['a', 'b']);
  });

  it('runs a key added while it runs exactly once more, never twice at the same time', async () => {
    const h = scripted();
    const queue = new WorkQueue(h.handler, { concurrency: 4 });
    queue.start();
    queue.add('slow-a');
    await vi.advanceTimersByTimeAsync(0);
    queue.add('slow-a');
    queue.add('slow-a');
    expect(queue.inFlight).toBe(1);
    h.release('slow-a');
    await vi.advanceTimersByTimeAsync(0);
    h.release('slow-a');
    await queue.idle();
    expect(h.calls).toEqual(['slow-a', 'slow-a']);
    expect(h.maxConcurrent()).toBe(1);
  });

  it('handles different keys concurrently up to the limit', async () => {
    const h = scripted();
    const queue = new WorkQueue(h.handler, { concurrency: 2 });
    queue.start();
    for (const key of ['slow-1', 'slow-2', 'slow-3']) queue.add(key);
    await vi.advanceTimersByTimeAsync(0);
    expect(queue.inFlight).toBe(2);
    expect(queue.depth).toBe(1);
    for (const key of ['slow-1', 'slow-2']) h.release(key);
    await vi.advanceTimersByTimeAsync(0);
    h.release('slow-3');
    await queue.idle();
    expect(h.maxConcurrent()).toBe(2);
  });

  it.each([
    { given: 'retry outcomes', result: Outcome.retry(new Error('boom')) },
    { given: 'thrown errors', result: new Error('boom') },
  ])('backs off exponentially per key after $given, and forgets on success', async ({ result }) => {
    const h = scripted({ a: [result, result, result, Outcome.done()] });
    const queue = new WorkQueue(h.handler, { backoff: { baseMs: 100, maxMs: 1_000 } });
    queue.start();
    queue.add('a');
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // 100 ms
    expect(h.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(199);
    expect(h.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1); // 200 ms
    expect(h.calls).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(400); // 400 ms, then done
    expect(h.calls).toHaveLength(4);
    expect(queue.backoffFor(1)).toBe(100);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.calls).toHaveLength(4);
  });

  it('caps the backoff', () => {
    const queue = new WorkQueue(async () => Outcome.done(), { backoff: { baseMs: 5, maxMs: 1_000 } });
    expect([1, 2, 3, 10, 30].map((n) => queue.backoffFor(n))).toEqual([5, 10, 20, 1_000, 1_000]);
  });

  it('requeues after the requested delay, and an earlier pending timer wins', async () => {
    const h = scripted({ a: [Outcome.requeueAfter(1_000), Outcome.done()] });
    const queue = new WorkQueue(h.handler);
    queue.start();
    queue.add('a');
    await vi.advanceTimersByTimeAsync(0);
    queue.addAfter('a', 5_000); // later than the pending 1 s: ignored
    await vi.advanceTimersByTimeAsync(999);
    expect(h.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.calls).toHaveLength(2);
  });

  it('does not requeue a stalled key until it is added again', async () => {
    const h = scripted({ a: [Outcome.stalled('no plan')] });
    const queue = new WorkQueue(h.handler);
    queue.start();
    queue.add('a');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.calls).toEqual(['a']);
    queue.add('a');
    await queue.idle();
    expect(h.calls).toEqual(['a', 'a']);
  });

  it('reports every outcome, and on shutdown drops queued keys and waits for running ones', async () => {
    const h = scripted();
    const outcomes: string[] = [];
    const queue = new WorkQueue(h.handler, {
      concurrency: 1,
      onOutcome: (key, o) => outcomes.push(`${key}:${o.kind}`),
    });
    queue.start();
    queue.add('slow-a');
    queue.add('b');
    await vi.advanceTimersByTimeAsync(0);
    const stopped = queue.shutdown();
    h.release('slow-a');
    await stopped;
    queue.add('c');
    await vi.advanceTimersByTimeAsync(1_000);
    expect(h.calls).toEqual(['slow-a']);
    expect(outcomes).toEqual(['slow-a:done']);
  });
});

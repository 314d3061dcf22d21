/**
 * Waits driven by watch events: waitUntil probes again as soon as its feed saw a change since the probe began, and
 * polls only as a safety net (the feed's counter: test/adapters/kube/watch-feed.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ChangeFeed } from '../../../core/ports/index.js';
import type { StepContext } from '../../../core/run/executor.js';
import { SAFETY_NET_MS, waitUntil } from '../../../core/steps/wait.js';
import { FakeClock, silentLogger } from '../../helpers/fakes.js';

function context(clock = new FakeClock(), deadline?: number): StepContext {
  return {
    clock,
    logger: silentLogger,
    signal: new AbortController().signal,
    report: () => {},
    ...(deadline !== undefined ? { deadline } : {}),
  } as unknown as StepContext;
}

describe('waitUntil with a change feed', () => {
  it('asks the feed for a change since the probe began, with the slow poll as the safety net, and never sleeps', async () => {
    const clock = new FakeClock();
    const asked: { since: number; ms: number }[] = [];
    let version = 0;
    const feed: ChangeFeed = {
      get version() {
        return version;
      },
      changedSince: async (since, ms) => void asked.push({ since, ms }),
      close: () => {},
    };
    let probes = 0;
    const start = clock.now().getTime();
    await waitUntil(
      context(clock),
      async () => {
        probes += 1;
        version += 2; // two watch events arrived while this probe ran
        return { done: probes === 3, status: `probe ${probes}` };
      },
      1_000,
      feed,
    );
    expect(probes).toBe(3);
    expect(asked).toEqual([
      { since: 0, ms: SAFETY_NET_MS },
      { since: 2, ms: SAFETY_NET_MS },
    ]);
    expect(clock.now().getTime()).toBe(start); // no clock sleep: the feed decides when to look again
  });

  it('bounds the safety-net wait by the step deadline', async () => {
    const clock = new FakeClock();
    const asked: number[] = [];
    const feed: ChangeFeed = {
      version: 0,
      changedSince: async (_since, ms) => {
        asked.push(ms);
        clock.advance(ms);
      },
      close: () => {},
    };
    const deadline = clock.now().getTime() + 7_000;
    await expect(
      waitUntil(context(clock, deadline), async () => ({ done: false, status: 'still Ready' }), 1_000, feed),
    ).rejects.toThrow('gave up after 7s: still Ready');
    expect(asked).toEqual([SAFETY_NET_MS, 2_000]);
  });
});

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../adapters/system.js';

describe('systemClock.sleep', () => {
  it('given many sleeps on one signal, then no abort listener is left behind', async () => {
    const controller = new AbortController();
    for (let i = 0; i < 30; i++) await systemClock.sleep(1, controller.signal);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('given an abort, then the sleep rejects with the signal reason at once', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const sleeping = systemClock.sleep(10_000, controller.signal);
    controller.abort(new Error('operator stopped'));
    await expect(sleeping).rejects.toThrow('operator stopped');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

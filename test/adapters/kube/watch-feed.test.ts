/** The change counter behind the watch feeds: wakes its waiters on a change, on close and on abort. */
import { describe, expect, it } from 'vitest';
import { ChangeCounter } from '../../../adapters/kube/watch-feed.js';

describe('ChangeCounter', () => {
  it('resolves at once for a change already seen, on the next change, on close and on abort', async () => {
    const counter = new ChangeCounter();
    counter.bump();
    await counter.changedSince(0, 60_000); // already past 0
    const woken: string[] = [];
    const next = counter.changedSince(1, 60_000).then(() => woken.push('change'));
    counter.bump();
    await next;
    const abort = new AbortController();
    const aborted = counter.changedSince(2, 60_000, abort.signal).then(() => woken.push('abort'));
    abort.abort();
    await aborted;
    let closed = false;
    const counterWithClose = new ChangeCounter(() => {
      closed = true;
    });
    const onClose = counterWithClose.changedSince(0, 60_000).then(() => woken.push('close'));
    counterWithClose.close();
    await onClose;
    expect(woken).toEqual(['change', 'abort', 'close']);
    expect(closed).toBe(true);
    expect(counter.version).toBe(2);
  });
});

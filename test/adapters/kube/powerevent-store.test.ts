/**
 * The operator's status store: what a resume needs is written before the caller goes on, but status writes never hold
 * the work: changes that come while a write is in flight go out together in the next one, and notes (progress for
 * people) ride along with the next write.
 */
import { describe, expect, it } from 'vitest';
import { PowerEventStatusStore, type StatusApply } from '../../../adapters/kube/powerevents.js';
import type { PowerEventStatus } from '../../../core/api/index.js';

const REF = { namespace: 'hecate-system', name: 'ev' };

/** An API that takes `ms` per write and keeps every status it was sent. */
function slowApi(ms: number) {
  const writes: PowerEventStatus[] = [];
  const apply: StatusApply = async (_ref, status) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    writes.push(structuredClone(status));
  };
  return { writes, apply };
}

const stage = (name: string) => (s: PowerEventStatus) => ({ ...s, stage: name });

describe('PowerEventStatusStore', () => {
  it('writes an update before it resolves, and writes the ones that came during a write together in one', async () => {
    const api = slowApi(20);
    const store = new PowerEventStatusStore(REF, { conditions: [] }, api.apply);
    const first = store.update(stage('a'));
    const rest = [store.update(stage('b')), store.update(stage('c')), store.update(stage('d'))];
    await first;
    expect(api.writes.map((w) => w.stage)).toEqual(['a']);
    await Promise.all(rest);
    expect(api.writes.map((w) => w.stage)).toEqual(['a', 'd']); // b, c and d in one write, applied in order
    expect(store.current.stage).toBe('d');
  });

  it('sends a note with the next update, or on its own after its delay', async () => {
    const api = slowApi(1);
    const store = new PowerEventStatusStore(REF, { conditions: [] }, api.apply, undefined, 50);
    store.note((s) => ({ ...s, phase: 'Running' }));
    await store.update(stage('drain'));
    expect(api.writes).toHaveLength(1);
    expect(api.writes[0]).toMatchObject({ phase: 'Running', stage: 'drain' });
    store.note(stage('power-off'));
    expect(api.writes).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(api.writes.map((w) => w.stage)).toEqual(['drain', 'power-off']);
    await store.flushed();
  });

  it('fails every update of a refused write, keeps the status as last written, and goes on with later ones', async () => {
    let refuse = true;
    const writes: PowerEventStatus[] = [];
    const store = new PowerEventStatusStore(REF, { conditions: [], stage: 'before' }, async (_ref, status) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (refuse) throw new Error('connect ECONNREFUSED');
      writes.push(status);
    });
    await expect(store.update(stage('lost'))).rejects.toThrow('ECONNREFUSED');
    expect(store.current.stage).toBe('before');
    refuse = false;
    await store.update(stage('after'));
    expect(writes.map((w) => w.stage)).toEqual(['after']);
  });

  it('rejects only the caller whose change throws', async () => {
    const api = slowApi(1);
    const store = new PowerEventStatusStore(REF, { conditions: [] }, api.apply);
    const bad = store.update(() => {
      throw new Error('bad change');
    });
    const good = store.update(stage('ok'));
    await expect(bad).rejects.toThrow('bad change');
    await good;
    expect(api.writes.map((w) => w.stage)).toEqual(['ok']);
  });

  it('skips a write that changes nothing', async () => {
    const api = slowApi(1);
    const store = new PowerEventStatusStore(REF, { conditions: [], stage: 'x' }, api.apply);
    await store.update(stage('x'));
    expect(api.writes).toEqual([]);
  });
});

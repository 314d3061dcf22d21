/**
 * The UPS watcher without I/O: the pure trigger (core/gates/watch.ts) table-driven over readings, and the watcher
 * loop with a fake clock, a scripted UPS and an in-memory PowerEvent list: one event per outage, across restarts.
 */
import { describe, expect, it } from 'vitest';
import type { ClosableUpsPort } from '../../adapters/ups/sources.js';
import { powerPlanSpec } from '../../core/api/index.js';
import { evaluateUps, upsPolicy } from '../../core/gates/ups.js';
import { NO_OUTAGE, type OutageWatch, upsWatchDelayMs, watchUps } from '../../core/gates/watch.js';
import type { UpsReading } from '../../core/ports/ups.js';
import { OUTAGE_ANNOTATION, UpsWatcher } from '../../operator/ups-watch.js';
import { atlasSpec } from '../helpers/atlas.js';
import { FakeClock, silentLogger } from '../helpers/fakes.js';

const spec = powerPlanSpec.parse({ ...atlasSpec(), ups: { source: 'static', staticCharge: 100, pollInterval: '1s' } });
const policy = upsPolicy(spec.ups);
const DELAY = upsWatchDelayMs(spec.ups);
const T0 = Date.parse('2026-11-25T02:00:00Z');

function reading(status: string, charge = 90, error?: UpsReading['error']): UpsReading {
  return {
    source: 'ups@127.0.0.1:3493',
    status: status ? status.split(' ') : [],
    charge,
    readAt: new Date(T0),
    ...(error ? { error } : {}),
  };
}
const verdict = (r: UpsReading, at = T0) => evaluateUps({ ...r, readAt: new Date(at) }, policy, new Date(at));

describe('watchUps: the shutdown trigger', () => {
  const onBattery: OutageWatch = { since: T0, fired: false };
  it.each([
    ['on line, no outage: nothing', NO_OUTAGE, reading('OL'), 0, NO_OUTAGE, undefined, undefined],
    [
      'first OB: the outage starts, no shutdown yet',
      NO_OUTAGE,
      reading('OB'),
      0,
      onBattery,
      'outage-started',
      undefined,
    ],
    ['OB for less than the delay: nothing', onBattery, reading('OB'), DELAY - 1, onBattery, undefined, undefined],
    [
      'OB for the delay: fires',
      onBattery,
      reading('OB'),
      DELAY,
      { since: T0, fired: true },
      undefined,
      'on-battery-delay',
    ],
    [
      'OB after firing: nothing more',
      { since: T0, fired: true },
      reading('OB'),
      DELAY * 5,
      { since: T0, fired: true },
      undefined,
      undefined,
    ],
    [
      'OB LB at once: fires critical',
      NO_OUTAGE,
      reading('OB LB'),
      0,
      { since: T0, fired: true },
      'outage-started',
      'critical',
    ],
    ['FSD: fires critical', onBattery, reading('FSD OB'), 1, { since: T0, fired: true }, undefined, 'critical'],
    [
      'OB under emergencyCharge: fires critical',
      onBattery,
      reading('OB', 10),
      1,
      { since: T0, fired: true },
      undefined,
      'critical',
    ],
    [
      'back on line: outage over',
      { since: T0, fired: true },
      reading('OL CHRG'),
      9,
      NO_OUTAGE,
      'power-restored',
      undefined,
    ],
    [
      'upsd dead outside an outage: nothing (NOCOMM)',
      NO_OUTAGE,
      reading('', 0, { fault: 'unreachable', message: 'refused' }),
      0,
      NO_OUTAGE,
      undefined,
      undefined,
    ],
    [
      'upsd dead while on battery: fires',
      onBattery,
      reading('', 0, { fault: 'unreachable', message: 'reset' }),
      1,
      { since: T0, fired: true },
      undefined,
      'lost-on-battery',
    ],
    [
      'wrong credentials while on battery: never fires',
      onBattery,
      reading('', 0, { fault: 'refused', message: 'ACCESS-DENIED' }),
      DELAY * 2,
      onBattery,
      undefined,
      undefined,
    ],
  ] as const)('%s', (_name, state, r, after, next, transition, fired) => {
    const step = watchUps(state, verdict(r, T0 + after), T0 + after, DELAY);
    expect(step.state).toEqual(next);
    expect(step.transition).toBe(transition);
    expect(step.fire?.reason).toBe(fired);
    if (fired) expect(step.fire?.outageStartedAt).toBe(T0);
  });
});

/** A UPS that answers with the next scripted status on each read (the last one repeats). */
function scriptedUps(clock: FakeClock, statuses: string[]): ClosableUpsPort {
  let i = 0;
  return {
    read: async () => {
      const status = statuses[Math.min(i++, statuses.length - 1)] ?? 'OL';
      return { source: 'ups', status: status.split(' '), charge: 90, readAt: clock.now() };
    },
    close: async () => undefined,
  };
}

interface Stored {
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: { action: string; execute: boolean; reason: string };
}

function memoryEvents(store: Stored[]) {
  return {
    list: () => store,
    create: async (body: object) => {
      const event = body as Stored;
      if (store.some((e) => e.metadata.name === event.metadata.name)) return false;
      store.push(structuredClone(event));
      return true;
    },
    close: async (name: string) => {
      const event = store.find((e) => e.metadata.name === name);
      if (event) event.metadata.annotations[OUTAGE_ANNOTATION] = 'closed';
    },
  };
}

/** The fake clock, except that the watcher's resync sleep waits for the abort (it must not move time). */
class PollClock extends FakeClock {
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms < 60_000) return super.sleep(ms, signal);
    await new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }));
  }
}

async function watchFor(statuses: string[], store: Stored[], polls: number): Promise<void> {
  const clock = new PollClock(T0);
  const stop = new AbortController();
  let reads = 0;
  const ups = scriptedUps(clock, statuses);
  const watcher = new UpsWatcher({
    namespace: 'hecate-system',
    plans: () => [{ apiVersion: 'power.hecate.dev/v1alpha1', kind: 'PowerPlan', metadata: { name: 'atlas' }, spec }],
    events: memoryEvents(store),
    source: () => ({
      read: async (signal) => {
        if (++reads >= polls) stop.abort();
        return ups.read(signal);
      },
      close: ups.close,
    }),
    clock,
    logger: silentLogger,
    resyncMs: 60_000,
  });
  await watcher.run(stop.signal);
}

describe('UpsWatcher', () => {
  it('creates one dry-run shutdown PowerEvent per outage, however many polls, and not again after a restart', async () => {
    const store: Stored[] = [];
    await watchFor(['OL', ...Array(20).fill('OB')], store, 21);
    expect(store).toHaveLength(1);
    expect(store[0]?.spec).toMatchObject({ action: 'shutdown', execute: false });
    expect(store[0]?.metadata.annotations[OUTAGE_ANNOTATION]).toBe('open');
    await watchFor(Array(10).fill('OB'), store, 10); // a new leader, mid-outage
    expect(store).toHaveLength(1);
    await watchFor(['OL'], store, 2); // power back: the outage closes
    expect(store[0]?.metadata.annotations[OUTAGE_ANNOTATION]).toBe('closed');
    await watchFor(['OB LB'], store, 2); // the next outage asks again
    expect(store).toHaveLength(2);
  });

  it('does not ask for a shutdown on a flicker shorter than the delay', async () => {
    const store: Stored[] = [];
    await watchFor(['OL', 'OB', 'OB', 'OL', 'OB', 'OL', 'OL'], store, 8);
    expect(store).toEqual([]);
  });
});

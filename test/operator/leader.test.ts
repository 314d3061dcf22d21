import { describe, expect, it } from 'vitest';
import type { Clock, Logger } from '../../core/ports/index.js';
import {
  LeaderElector,
  LeaseConflictError,
  type LeasePort,
  type LeaseRecord,
  type LeaseState,
} from '../../operator/runtime/leader.js';

/** One Lease with resourceVersion semantics: a write with a stale version is a conflict, as on the API server. */
class FakeLease {
  state: LeaseState | undefined;
  private version = 0;
  writes: string[] = [];
  failNext = 0;

  port(identity: string): LeasePort {
    return {
      get: async () => {
        if (this.failNext > 0) {
          this.failNext -= 1;
          throw new Error('connection refused');
        }
        return this.state && structuredClone(this.state);
      },
      create: async (record) => {
        if (this.state) throw new LeaseConflictError('exists');
        return this.write(identity, record);
      },
      update: async (record, resourceVersion) => {
        if (!this.state || this.state.resourceVersion !== resourceVersion) throw new LeaseConflictError('stale');
        return this.write(identity, record);
      },
    };
  }

  private write(identity: string, record: LeaseRecord): LeaseState {
    this.version += 1;
    this.state = { record: structuredClone(record), resourceVersion: String(this.version) };
    this.writes.push(`${identity}→${record.holderIdentity ?? ''}`);
    return structuredClone(this.state);
  }
}

class ManualClock implements Clock {
  constructor(public ms = 1_000_000) {}
  now = () => new Date(this.ms);
  sleep = async (ms: number) => {
    this.ms += ms;
  };
}

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

function elector(identity: string, lease: FakeLease, clock: ManualClock) {
  return new LeaderElector({
    identity,
    lease: lease.port(identity),
    clock,
    logger: quiet,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
  });
}

describe('LeaderElector', () => {
  it('creates the Lease when there is none, and renews its own', async () => {
    const lease = new FakeLease();
    const clock = new ManualClock();
    const a = elector('a', lease, clock);
    expect(await a.tryAcquireOrRenew()).toBe(true);
    clock.ms += 2_000;
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(lease.state?.record).toMatchObject({ holderIdentity: 'a', leaseTransitions: 0, leaseDurationSeconds: 15 });
    expect(lease.state?.record.renewTime?.getTime()).toBe(clock.ms);
  });

  it.each([
    { given: 'the holder renewed 14 s ago (as this follower observed it)', waitMs: 14_000, acquired: false },
    { given: 'the holder has not renewed for 16 s', waitMs: 16_000, acquired: true },
  ])('a follower takes over only after expiry: $given', async ({ waitMs, acquired }) => {
    const lease = new FakeLease();
    const clock = new ManualClock();
    const a = elector('a', lease, clock);
    const b = elector('b', lease, clock);
    await a.tryAcquireOrRenew();
    expect(await b.tryAcquireOrRenew()).toBe(false);
    clock.ms += waitMs;
    expect(await b.tryAcquireOrRenew()).toBe(acquired);
    expect(lease.state?.record.holderIdentity).toBe(acquired ? 'b' : 'a');
    if (acquired) expect(lease.state?.record.leaseTransitions).toBe(1);
  });

  it('judges expiry by when the follower saw the record change, not by the holder clock', async () => {
    const lease = new FakeLease();
    const clock = new ManualClock();
    const a = elector('a', lease, clock);
    await a.tryAcquireOrRenew();
    // the holder's clock is an hour behind: its renewTime looks ancient
    lease.state!.record.renewTime = new Date(clock.ms - 3_600_000);
    const b = elector('b', lease, clock);
    expect(await b.tryAcquireOrRenew()).toBe(false);
  });

  it('loses a race for the Lease without an error (optimistic update with resourceVersion)', async () => {
    const lease = new FakeLease();
    const clock = new ManualClock();
    const b = elector('b', lease, clock);
    const c = elector('c', lease, clock);
    await elector('a', lease, clock).tryAcquireOrRenew();
    await b.tryAcquireOrRenew();
    await c.tryAcquireOrRenew();
    clock.ms += 16_000;
    const [rb, rc] = await Promise.all([b.tryAcquireOrRenew(), c.tryAcquireOrRenew()]);
    expect([rb, rc].filter(Boolean)).toHaveLength(1);
  });

  it('takes over at once after the holder released the Lease', async () => {
    const lease = new FakeLease();
    const clock = new ManualClock();
    const a = elector('a', lease, clock);
    const b = elector('b', lease, clock);
    await a.tryAcquireOrRenew();
    await a.release();
    expect(lease.state?.record.holderIdentity).toBe('');
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });

  it('run: leads, then gives up after failing to renew past the renew deadline', async () => {
    const lease = new FakeLease();
    const clock = new ManualClock();
    const a = elector('a', lease, clock);
    const events: string[] = [];
    const stop = new AbortController();
    await a.run(stop.signal, {
      onStartedLeading: () => {
        events.push('started');
        lease.failNext = 100;
      },
      onStoppedLeading: (reason) => {
        events.push(`stopped: ${reason}`);
      },
    });
    expect(events).toEqual(['started', 'stopped: renew deadline exceeded']);
    expect(a.isLeader).toBe(false);
  });

  it('run: releases the Lease when stopped', async () => {
    const lease = new FakeLease();
    const clock = new ManualClock();
    const a = elector('a', lease, clock);
    const stop = new AbortController();
    await a.run(stop.signal, { onStartedLeading: () => stop.abort(), onStoppedLeading: () => {} });
    expect(lease.state?.record.holderIdentity).toBe('');
    expect(lease.writes).toEqual(['a→a', 'a→']);
  });
});

import { describe, expect, it } from 'vitest';
import { UpsMonitor } from '../../../core/gates/monitor.js';
import { type UpsPolicy, type UpsVerdict, upsGate } from '../../../core/gates/ups.js';
import type { UpsPort, UpsReading } from '../../../core/ports/ups.js';
import { FakeClock } from '../../helpers/fakes.js';

const policy: UpsPolicy = { minStartupCharge: 50, minStartupRuntimeSeconds: 0, emergencyCharge: 30, maxAgeMs: 15_000 };

/** A UPS that follows a script of readings, one per poll (the last one repeats). */
function scriptedUps(clock: FakeClock, script: Partial<UpsReading>[]): UpsPort & { reads: number } {
  const port = {
    reads: 0,
    read: async () => {
      const fields = script[Math.min(port.reads++, script.length - 1)];
      return { source: 'ups@test', charge: 100, status: ['OL'], readAt: clock.now(), ...fields };
    },
  };
  return port;
}

describe('UpsMonitor', () => {
  it('calls back on the first verdict and on each change, not on every new charge value', async () => {
    const clock = new FakeClock();
    const port = scriptedUps(clock, [
      { charge: 100 },
      { charge: 99 },
      { charge: 98, status: ['OB'] },
      { charge: 60, status: ['OB'] },
      { charge: 25, status: ['OB'] },
      { charge: 24, status: ['OB'] },
      { charge: 24, status: ['OL', 'CHRG'] },
    ]);
    const controller = new AbortController();
    const seen: string[] = [];
    const monitor = new UpsMonitor({
      gate: upsGate(port, policy, clock),
      clock,
      intervalMs: 15_000,
      alertIntervalMs: 5_000,
      onChange: (verdict: UpsVerdict) => {
        seen.push(
          `${clock.now().toISOString().slice(11, 19)} ${verdict.reading.charge}% ${verdict.emergency ? 'EMERGENCY' : verdict.onBattery ? 'OB' : 'OL'}`,
        );
        if (port.reads >= 7) controller.abort(new Error('done'));
      },
    });
    await monitor.run(controller.signal);
    expect(seen).toEqual(['02:00:00 100% OL', '02:00:30 98% OB', '02:00:40 25% EMERGENCY', '02:00:50 24% OL']);
    expect(monitor.latest()?.reading.charge).toBe(24);
  });

  it('rejects run() when the consumer’s onChange throws', async () => {
    const clock = new FakeClock();
    const monitor = new UpsMonitor({
      gate: upsGate(scriptedUps(clock, [{ status: ['OB', 'LB'] }]), policy, clock),
      clock,
      intervalMs: 1_000,
      onChange: () => {
        throw new Error('the consumer failed');
      },
    });
    await expect(monitor.run(new AbortController().signal)).rejects.toThrow('the consumer failed');
  });

  it('stops at once when the signal is already aborted', async () => {
    const clock = new FakeClock();
    const port = scriptedUps(clock, [{}]);
    const monitor = new UpsMonitor({
      gate: upsGate(port, policy, clock),
      clock,
      intervalMs: 1_000,
      onChange: () => {},
    });
    const controller = new AbortController();
    controller.abort();
    await monitor.run(controller.signal);
    expect(port.reads).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../core/api/meta.js';
import { compileEmergencyShutdownTuned, EMERGENCY, emergencySpec } from '../../../core/plan/emergency.js';
import { compileShutdown } from '../../../core/plan/shutdown.js';
import { atlasInput } from '../../helpers/atlas.js';

describe('the tuned emergency shutdown plan', () => {
  it('given the Atlas plan, then it is the shutdown plan in the same order with emergency budgets', () => {
    const input = atlasInput();
    const graceful = compileShutdown(input);
    const emergency = compileEmergencyShutdownTuned(input);
    expect(emergency.map((s) => s.id)).toEqual(graceful.map((s) => s.id));
    const drains = emergency.filter((s) => s.kind === 'drain-node');
    expect(drains.map((s) => s.params.parallelism)).toEqual(['4', '4', '4', '4']);
    expect(drains.every((s) => s.timeoutSeconds === 2 * EMERGENCY.drainLevelSeconds)).toBe(true);
    expect(emergency.find((s) => s.id === 'storage/quiesce')?.timeoutSeconds).toBe(EMERGENCY.storageDetachSeconds);
    const powerOffs = emergency.filter((s) => s.kind === 'power-off-node');
    expect(powerOffs.at(-1)?.id).toBe('power-off/titan-01');
    expect(powerOffs.every((s) => s.timeoutSeconds === EMERGENCY.powerOffSeconds)).toBe(true);
  });

  it('given the Atlas plan, then the graceful budget is a large multiple of the emergency one', () => {
    const sum = (steps: { timeoutSeconds?: number | undefined }[]) =>
      steps.reduce((total, s) => total + (s.timeoutSeconds ?? 0), 0);
    const input = atlasInput();
    const graceful = compileShutdown(input).filter((s) => s.kind !== 'power-off-node');
    const emergency = compileEmergencyShutdownTuned(input).filter((s) => s.kind !== 'power-off-node');
    expect(sum(graceful) / sum(emergency)).toBeGreaterThan(10);
  });

  it.each([
    [
      ['evict', 'force', 'disable-eviction'],
      ['evict', 'disable-eviction'],
    ],
    [
      ['evict', 'force'],
      ['evict', 'force'],
    ],
  ] as const)('given escalation %j, then the emergency uses %j', (levels, expected) => {
    const spec = atlasInput().spec;
    const tuned = emergencySpec({ ...spec, drain: { ...spec.drain, escalation: [...levels] } });
    expect(tuned.drain.escalation).toEqual(expected);
    expect(parseDuration(tuned.drain.timeout)).toBe(EMERGENCY.drainLevelSeconds * 1000);
  });
});

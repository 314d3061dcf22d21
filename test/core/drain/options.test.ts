import { describe, expect, it } from 'vitest';
import { drainSpec } from '../../../core/api/powerplan.js';
import { InvalidDrainOptionsError, reaches, toDrainOptions } from '../../../core/drain/options.js';

describe('toDrainOptions', () => {
  it('given the PowerPlan defaults, when derived, then durations are ms and skipping is off', () => {
    expect(toDrainOptions(drainSpec.parse({}))).toEqual({
      escalation: ['evict', 'force', 'disable-eviction'],
      levelTimeoutMs: 300_000,
      gracePeriodSeconds: -1,
      deleteEmptyDirData: true,
      ignoreDaemonSets: true,
      evictionRetryIntervalMs: 5_000,
      skipWaitForDeleteTimeoutMs: 0,
      parallelism: 4,
    });
  });

  it.each([
    ['a 100ms retry interval', { evictionRetryInterval: '100ms' }, {}, { evictionRetryIntervalMs: 1_000 }],
    ['a 1m30s timeout', { timeout: '1m30s' }, {}, { levelTimeoutMs: 90_000 }],
    ['a skip-wait timeout', {}, { skipWaitForDeleteTimeoutMs: 60_000 }, { skipWaitForDeleteTimeoutMs: 60_000 }],
    ['a negative skip-wait timeout', {}, { skipWaitForDeleteTimeoutMs: -5 }, { skipWaitForDeleteTimeoutMs: 0 }],
  ])('given %s, when derived, then %j', (_given, spec, extra, expected) => {
    expect(toDrainOptions(drainSpec.parse(spec), extra)).toMatchObject(expected);
  });

  it.each([[['force', 'evict']], [['evict', 'evict']], [['disable-eviction', 'force']]] as const)(
    'given escalation %j, when derived, then InvalidDrainOptionsError',
    (escalation) => {
      expect(() => toDrainOptions(drainSpec.parse({ escalation }))).toThrow(InvalidDrainOptionsError);
    },
  );

  it.each([
    ['evict', 'force', false],
    ['force', 'force', true],
    ['disable-eviction', 'force', true],
    ['disable-eviction', 'evict', true],
  ] as const)('given %s, when asked whether it reaches %s, then %s', (level, at, expected) => {
    expect(reaches(level, at)).toBe(expected);
  });
});

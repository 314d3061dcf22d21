import { describe, expect, it } from 'vitest';
import { upsSpec } from '../../../core/api/powerplan.js';
import { blockingReasons, describeReasons, isBlocked, type Verdict } from '../../../core/gates/index.js';
import { describeUpsVerdict, evaluateUps, type UpsPolicy, upsGate, upsPolicy } from '../../../core/gates/ups.js';
import type { UpsReading } from '../../../core/ports/ups.js';
import { FakeClock } from '../../helpers/fakes.js';

const NOW = new Date('2026-11-25T02:00:00Z');
const policy: UpsPolicy = {
  minStartupCharge: 50,
  minStartupRuntimeSeconds: 300,
  emergencyCharge: 30,
  maxAgeMs: 15_000,
};

const reading = (fields: Partial<UpsReading> = {}): UpsReading => ({
  source: 'ups@127.0.0.1:3493',
  charge: 90,
  runtimeSeconds: 1800,
  status: ['OL'],
  readAt: NOW,
  ...fields,
});

describe('upsPolicy', () => {
  it('takes the thresholds from the plan and keeps upsmon’s three-polls margin for staleness', () => {
    const spec = upsSpec.parse({ source: 'static', staticCharge: 80, minStartupRuntime: '5m', pollInterval: '10s' });
    expect(upsPolicy(spec)).toEqual({
      minStartupCharge: 50,
      minStartupRuntimeSeconds: 300,
      emergencyCharge: 30,
      maxAgeMs: 30_000,
    });
    expect(upsPolicy(upsSpec.parse({ pollInterval: '1s' })).maxAgeMs).toBe(15_000);
  });
});

describe('evaluateUps', () => {
  type Row = [
    string,
    Partial<UpsReading>,
    { blocked: boolean; onBattery: boolean; low: boolean; emergency: boolean },
    string[],
  ];
  const rows: Row[] = [
    ['on line, charged', {}, { blocked: false, onBattery: false, low: false, emergency: false }, []],
    [
      'on line, charging at 60%',
      { charge: 60, status: ['OL', 'CHRG'] },
      { blocked: false, onBattery: false, low: false, emergency: false },
      [],
    ],
    [
      'on line at 42%',
      { charge: 42, status: ['OL', 'CHRG'] },
      { blocked: true, onBattery: false, low: false, emergency: false },
      ['charge-below-minimum'],
    ],
    [
      'on line at 20%',
      { charge: 20 },
      { blocked: true, onBattery: false, low: true, emergency: false },
      ['charge-below-minimum'],
    ],
    [
      'on line, runtime 100 s',
      { runtimeSeconds: 100 },
      { blocked: true, onBattery: false, low: false, emergency: false },
      ['runtime-below-minimum'],
    ],
    [
      'on battery at 90%',
      { status: ['OB', 'DISCHRG'] },
      { blocked: true, onBattery: true, low: false, emergency: false },
      ['on-battery'],
    ],
    [
      'on battery at 25%',
      { charge: 25, status: ['OB'] },
      { blocked: true, onBattery: true, low: true, emergency: true },
      ['on-battery', 'charge-below-minimum'],
    ],
    [
      'on battery, low battery',
      { charge: 45, status: ['OB', 'LB'] },
      { blocked: true, onBattery: true, low: true, emergency: true },
      ['on-battery', 'low-battery', 'charge-below-minimum'],
    ],
    [
      'forced shutdown while charging',
      { charge: 95, status: ['OL', 'CHRG', 'FSD'] },
      { blocked: true, onBattery: true, low: true, emergency: true },
      ['forced-shutdown'],
    ],
    [
      'no charge reported',
      { charge: undefined },
      { blocked: true, onBattery: false, low: false, emergency: false },
      ['charge-unknown'],
    ],
    [
      'no runtime reported',
      { runtimeSeconds: undefined },
      { blocked: true, onBattery: false, low: false, emergency: false },
      ['runtime-unknown'],
    ],
    [
      'upsd unreachable',
      { error: { fault: 'unreachable', message: 'cannot connect (ECONNREFUSED)' } },
      { blocked: true, onBattery: true, low: true, emergency: true },
      ['unreachable'],
    ],
    [
      'driver data stale',
      { error: { fault: 'stale', message: 'ERR DATA-STALE' } },
      { blocked: true, onBattery: true, low: true, emergency: true },
      ['stale'],
    ],
    [
      'a hostile reply',
      { error: { fault: 'protocol', message: 'sent a line longer than 1024 bytes' } },
      { blocked: true, onBattery: true, low: true, emergency: true },
      ['protocol'],
    ],
    [
      'credentials refused',
      { error: { fault: 'refused', message: 'ERR ACCESS-DENIED' } },
      { blocked: true, onBattery: false, low: false, emergency: false },
      ['refused'],
    ],
    [
      'a reading 20 s old',
      { readAt: new Date(NOW.getTime() - 20_000) },
      { blocked: true, onBattery: true, low: true, emergency: true },
      ['stale'],
    ],
  ];

  it.each(rows)('given %s, then the verdict is %j with reasons %j', (_name, fields, flags, codes) => {
    const verdict = evaluateUps(reading(fields), policy, NOW);
    expect({
      blocked: verdict.blocked,
      onBattery: verdict.onBattery,
      low: verdict.low,
      emergency: verdict.emergency,
    }).toEqual(flags);
    expect(verdict.reasons.map((r) => r.code)).toEqual(codes);
    expect(verdict.reasons.every((r) => r.override === '--ignore-ups' && r.gate === 'ups')).toBe(true);
  });

  it('names the reading and the threshold in a refusal', () => {
    const verdict = evaluateUps(reading({ charge: 42, runtimeSeconds: 100 }), policy, NOW);
    expect(verdict.reasons).toEqual([
      expect.objectContaining({ code: 'charge-below-minimum', reading: '42%', threshold: '50%' }),
      expect.objectContaining({ code: 'runtime-below-minimum', reading: '100s', threshold: '300s' }),
    ]);
    expect(describeReasons(verdict.reasons)).toBe(
      'UPS charge 42% is below the startup minimum 50% (minStartupCharge); ' +
        'UPS runtime 100s is below the startup minimum 300s (minStartupRuntime) (override: --ignore-ups)',
    );
  });

  it('says that a dead UPS counts as on battery and low', () => {
    const verdict = evaluateUps(
      reading({ error: { fault: 'unreachable', message: 'upsd at 127.0.0.1:3493: cannot connect (ECONNREFUSED)' } }),
      policy,
      new Date(NOW.getTime() + 2_000),
    );
    expect(describeUpsVerdict(verdict)).toBe(
      'ups@127.0.0.1:3493: upsd at 127.0.0.1:3493: cannot connect (ECONNREFUSED), read 2s ago; on battery and low: ' +
        'UPS ups@127.0.0.1:3493: upsd at 127.0.0.1:3493: cannot connect (ECONNREFUSED); counted as on battery and low, as upsmon does',
    );
  });

  it('describes an allowed reading with its age', () => {
    const verdict = evaluateUps(reading({ status: ['OL', 'CHRG'] }), policy, new Date(NOW.getTime() + 3_000));
    expect(describeUpsVerdict(verdict)).toBe(
      'ups@127.0.0.1:3493: charge 90%, runtime 1800s, ups.status OL CHRG, read 3s ago; startup allowed',
    );
  });
});

describe('isBlocked', () => {
  const open: Verdict = { gate: 'a', blocked: false, reasons: [] };
  const shut: Verdict = { gate: 'b', blocked: true, reasons: [{ gate: 'b', code: 'x', message: 'no' }] };
  it.each([
    [[], false],
    [[open], false],
    [[open, shut], true],
    [[shut, shut], true],
  ])('given %j, then %s', (verdicts, blocked) => {
    expect(isBlocked(...verdicts)).toBe(blocked);
    expect(blockingReasons(...verdicts)).toHaveLength(verdicts.filter((v) => v.blocked).length);
  });
});

describe('upsGate', () => {
  it('reads the port and judges the reading at the clock’s now', async () => {
    const clock = new FakeClock(NOW.getTime());
    const gate = upsGate({ read: async () => reading({ charge: 42 }) }, policy, clock);
    clock.advance(1_000);
    const verdict = await gate.evaluate();
    expect(verdict.blocked).toBe(true);
    expect(verdict.ageMs).toBe(1_000);
  });
});

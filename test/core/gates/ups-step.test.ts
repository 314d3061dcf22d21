import { describe, expect, it } from 'vitest';
import { type OutageRecord, outageRecord } from '../../../core/api/index.js';
import { upsGate, upsPolicy } from '../../../core/gates/ups.js';
import { compilePlan } from '../../../core/plan/index.js';
import type { UpsReading } from '../../../core/ports/ups.js';
import { StepFailedError } from '../../../core/run/errors.js';
import { type RunEvent, runPlan } from '../../../core/run/runner.js';
import { EmergencyShutdownRequired, GateRefusedError, upsGateExecutor } from '../../../core/steps/ups.js';
import { atlasInput } from '../../helpers/atlas.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

const inOutage = (): OutageRecord => outageRecord.parse({ inOutage: true, startedAt: '2026-11-25T01:00:00Z' });

/** Runs only the startup plan's UPS gate step against a UPS that reports `fields`. */
async function runGate(fields: Partial<UpsReading>, options: { ignoreUps?: boolean; outage?: OutageRecord } = {}) {
  const clock = new FakeClock();
  const input = atlasInput({ ignoreUps: options.ignoreUps, outage: options.outage });
  const plan = compilePlan('startup', input);
  const steps = plan.steps.filter((s) => s.kind === 'ups-gate');
  const store = new MemoryStore(options.outage ? { outage: options.outage } : undefined);
  const read = async (): Promise<UpsReading> => ({
    source: 'atlas-ups@127.0.0.1:3493',
    charge: 90,
    runtimeSeconds: 1800,
    status: ['OL'],
    readAt: clock.now(),
    ...fields,
  });
  const events: RunEvent[] = [];
  const gate = upsGate({ read }, upsPolicy(input.spec.ups), clock);
  const outcome = await runPlan({
    plan: { ...plan, steps },
    action: 'startup',
    executors: { 'ups-gate': upsGateExecutor(gate) },
    store,
    clock,
    logger: silentLogger,
    onEvent: (e) => events.push(e),
  }).then(
    () => undefined,
    (error: unknown) => error,
  );
  const reports = events.flatMap((e) => (e.type === 'report' ? [e.message] : []));
  return { error: outcome, store, reports };
}

const causeOf = (error: unknown) => (error instanceof StepFailedError ? error.cause : error);

describe('the ups-gate step', () => {
  it('given a charged UPS on line, then startup continues and nothing is recorded', async () => {
    const { error, store, reports } = await runGate({});
    expect(error).toBeUndefined();
    expect(store.latest?.outage.ignoredUps).toBe(false);
    expect(reports).toEqual(['UPS ok: atlas-ups@127.0.0.1:3493: charge 90%, runtime 1800s, ups.status OL']);
  });

  it('given charge 42% under the 50% minimum, then it refuses with the reading, the threshold and the override', async () => {
    const { error, store } = await runGate({ charge: 42, status: ['OL', 'CHRG'] });
    const cause = causeOf(error);
    expect(cause).toBeInstanceOf(GateRefusedError);
    expect((cause as GateRefusedError).verdict.reasons.map((r) => r.code)).toEqual(['charge-below-minimum']);
    expect((cause as Error).message).toBe(
      'Startup refused by the UPS gate: UPS charge 42% is below the startup minimum 50% (minStartupCharge). ' +
        'Rerun with --ignore-ups to start anyway; the override is recorded in the state file and the PowerEvent',
    );
    expect(store.latest?.progress?.steps).toEqual([expect.objectContaining({ id: 'power-gate/ups', state: 'failed' })]);
  });

  it('given --ignore-ups and a refusing UPS, then ignoredUps is recorded before the step is done', async () => {
    const { error, store, reports } = await runGate({ charge: 42 }, { ignoreUps: true });
    expect(error).toBeUndefined();
    const firstWithOverride = store.history.findIndex((h) => h.outage.ignoredUps);
    const firstDone = store.history.findIndex((h) => h.progress?.steps.some((s) => s.state === 'done'));
    expect(firstWithOverride).toBeGreaterThan(0);
    expect(firstWithOverride).toBeLessThan(firstDone);
    expect(reports).toEqual([
      '--ignore-ups overrides the refusal: UPS charge 42% is below the startup minimum 50% (minStartupCharge)',
    ]);
  });

  it.each([
    ['on battery at 20%', { charge: 20, status: ['OB', 'DISCHRG'] }],
    ['on battery with low battery at 45%', { charge: 45, status: ['OB', 'LB'] }],
    ['upsd unreachable', { error: { fault: 'unreachable' as const, message: 'cannot connect (ECONNREFUSED)' } }],
    ['driver data stale', { error: { fault: 'stale' as const, message: 'answered ERR DATA-STALE' } }],
  ])('given an outage window and %s, then the emergency shutdown is required', async (_name, fields) => {
    const { error } = await runGate(fields, { outage: inOutage() });
    const cause = causeOf(error);
    expect(cause).toBeInstanceOf(EmergencyShutdownRequired);
    expect((cause as Error).message).toMatch(/^Power failed again during recovery: atlas-ups@127\.0\.0\.1:3493: /);
    expect((cause as Error).message).toMatch(/the emergency shutdown runs instead/);
  });

  it.each([
    ['no outage window, on battery at 20%', { charge: 20, status: ['OB'] }, undefined],
    [
      'an outage window, on battery at 40% (above the 30% emergency threshold)',
      { charge: 40, status: ['OB'] },
      inOutage(),
    ],
    [
      'an outage window and refused credentials',
      { error: { fault: 'refused' as const, message: 'ERR ACCESS-DENIED' } },
      inOutage(),
    ],
  ])('given %s, then startup is refused, not flipped to the emergency shutdown', async (_name, fields, outage) => {
    const { error } = await runGate(fields, { outage });
    expect(causeOf(error)).toBeInstanceOf(GateRefusedError);
  });

  it('given --ignore-ups in an outage window on battery and low, then it overrides the emergency shutdown and says so', async () => {
    const { error, store, reports } = await runGate(
      { charge: 10, status: ['OB', 'LB'] },
      { outage: inOutage(), ignoreUps: true },
    );
    expect(error).toBeUndefined();
    expect(store.latest?.outage.ignoredUps).toBe(true);
    expect(reports[0]).toMatch(
      /^--ignore-ups overrides the emergency shutdown: UPS atlas-ups@127\.0\.0\.1:3493 is on battery/,
    );
  });
});

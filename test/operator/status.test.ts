import { describe, expect, it } from 'vitest';
import type { Condition } from '../../core/api/index.js';
import { checkKstatusInvariants, setCondition, setKstatus } from '../../core/status/conditions.js';

const T0 = new Date('2026-11-25T01:00:00Z');
const T1 = new Date('2026-11-25T01:05:00Z');

const c = (type: string, status: Condition['status'], observedGeneration: number | null = 1): Condition => ({
  type,
  status,
  reason: 'Test',
  message: '',
  lastTransitionTime: T0.toISOString(),
  ...(observedGeneration === null ? {} : { observedGeneration }),
});

describe('checkKstatusInvariants', () => {
  it.each([
    { given: 'Ready alone', conditions: [c('Ready', 'True')], root: 1, problems: [] },
    {
      given: 'Ready and Reconciling',
      conditions: [c('Ready', 'False'), c('Reconciling', 'True')],
      root: undefined,
      problems: [],
    },
    { given: 'no Ready', conditions: [c('Planned', 'True')], root: 1, problems: ['condition Ready is missing'] },
    {
      given: 'Reconciling False',
      conditions: [c('Ready', 'True'), c('Reconciling', 'False')],
      root: 1,
      problems: ['condition Reconciling is present with status False'],
    },
    {
      given: 'Reconciling and Stalled together',
      conditions: [c('Ready', 'False'), c('Reconciling', 'True'), c('Stalled', 'True')],
      root: undefined,
      problems: ['conditions Reconciling and Stalled are both present'],
    },
    {
      given: 'a condition without observedGeneration',
      conditions: [c('Ready', 'True', null)],
      root: 1,
      problems: ['condition Ready has no observedGeneration'],
    },
    {
      given: 'a condition from the future',
      conditions: [c('Ready', 'True', 2)],
      root: 1,
      problems: ['condition Ready observedGeneration 2 > generation 1'],
    },
    {
      given: 'the root generation while Reconciling',
      conditions: [c('Ready', 'False'), c('Reconciling', 'True')],
      root: 1,
      problems: ['status.observedGeneration equals generation while Reconciling is True'],
    },
    {
      given: 'a duplicate type',
      conditions: [c('Ready', 'True'), c('Ready', 'True')],
      root: 1,
      problems: ['condition Ready appears more than once'],
    },
  ])('$given → $problems', ({ conditions, root, problems }) => {
    expect(checkKstatusInvariants({ conditions, observedGeneration: root }, 1)).toEqual(problems);
  });
});

describe('setCondition and setKstatus', () => {
  it('keeps lastTransitionTime while the status is unchanged, and moves it on a change', () => {
    const once = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, T0, 1);
    const same = setCondition(once, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, T1, 2);
    const flipped = setCondition(same, { type: 'Ready', status: 'True', reason: 'C', message: 'c' }, T1, 2);
    expect(same[0]).toMatchObject({ reason: 'B', lastTransitionTime: T0.toISOString(), observedGeneration: 2 });
    expect(flipped[0]?.lastTransitionTime).toBe(T1.toISOString());
  });

  it.each([
    { given: 'stalled and reconciling', stalled: true, reconciling: true, present: ['Ready', 'Stalled'] },
    { given: 'reconciling only', stalled: false, reconciling: true, present: ['Ready', 'Reconciling'] },
    { given: 'neither', stalled: false, reconciling: false, present: ['Ready'] },
  ])('setKstatus with $given keeps the invariants', ({ stalled, reconciling, present }) => {
    const start = [c('Ready', 'False'), c('Reconciling', 'True'), c('Planned', 'True')];
    const input = { type: 'X', status: 'True' as const, reason: 'R', message: 'm' };
    const out = setKstatus(
      start,
      {
        ready: { type: 'Ready', status: 'False', reason: 'R', message: 'm' },
        ...(stalled ? { stalled: input } : {}),
        ...(reconciling ? { reconciling: input } : {}),
      },
      T1,
      1,
    );
    expect(out.map((x) => x.type).filter((t) => t !== 'Planned')).toEqual(present);
    expect(checkKstatusInvariants({ conditions: out }, 1)).toEqual([]);
  });
});

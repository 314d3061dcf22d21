import { describe, expect, it } from 'vitest';
import type { DrainLevelRecord } from '../../../core/api/progress.js';
import type { Level } from '../../../core/drain/options.js';
import { levelRecord, resumeEscalation } from '../../../core/drain/resume.js';
import { options } from './fixtures.js';

const NOW = Date.parse('2026-11-25T02:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();
const saved = (level: string, index: number, secondsAgo: number): DrainLevelRecord => ({
  level,
  index,
  startedAt: ago(secondsAgo),
});
const minute = (escalation: Level[] = ['evict', 'force', 'disable-eviction']) =>
  options({ escalation, levelTimeoutMs: 60_000 });

describe('resumeEscalation', () => {
  it('given nothing saved, starts at the first level now and asks for that to be recorded', () => {
    const resumed = resumeEscalation(undefined, minute(), NOW);
    expect(resumed.state).toEqual({ levelIndex: 0, levelStartedAtMs: NOW });
    expect(resumed.record).toEqual({ level: 'evict', index: 0, startedAt: ago(0) });
    expect(resumed.message).toBeUndefined();
  });

  it.each([
    { at: 'evict', index: 0, secondsAgo: 50 },
    { at: 'force', index: 1, secondsAgo: 20 },
    { at: 'evict', index: 0, secondsAgo: 3600 }, // ran out while Hecate was down: the next decision escalates
  ])(
    'given $at saved $secondsAgo s ago, resumes there with that time counted and records nothing new',
    ({ at, index, secondsAgo }) => {
      const resumed = resumeEscalation(saved(at, index, secondsAgo), minute(), NOW);
      expect(resumed.state).toEqual({ levelIndex: index, levelStartedAtMs: NOW - secondsAgo * 1000 });
      expect(resumed.record).toBeUndefined();
      expect(resumed.message).toBe(`resuming the drain at ${at} (entered ${secondsAgo}s ago)`);
    },
  );

  it('given a saved level at another position in this escalation (plan changed), keeps its time, records the new position', () => {
    const resumed = resumeEscalation(saved('disable-eviction', 2, 5), minute(['evict', 'disable-eviction']), NOW);
    expect(resumed.state).toEqual({ levelIndex: 1, levelStartedAtMs: NOW - 5_000 });
    expect(resumed.record).toEqual({ level: 'disable-eviction', index: 1, startedAt: ago(5) });
  });

  it('given the last level saved and its time run out, tries it again with a fresh timer (never a gentler level)', () => {
    const resumed = resumeEscalation(saved('disable-eviction', 2, 90), minute(), NOW);
    expect(resumed.state).toEqual({ levelIndex: 2, levelStartedAtMs: NOW });
    expect(resumed.record).toEqual({ level: 'disable-eviction', index: 2, startedAt: ago(0) });
    expect(resumed.message).toMatch(/^resuming the drain at disable-eviction, the last level, whose time ran out/);
  });

  it('given a start in the future (the clock went back), counts it as now', () => {
    const resumed = resumeEscalation(saved('force', 1, -30), minute(), NOW);
    expect(resumed.state).toEqual({ levelIndex: 1, levelStartedAtMs: NOW });
    expect(resumed.record?.startedAt).toBe(ago(0));
  });

  it.each([
    {
      given: 'force saved at position 2, emergency levels evict → disable-eviction',
      record: saved('force', 1, 40),
      escalation: ['evict', 'disable-eviction'] as Level[],
      index: 1,
      why: 'the first level at or after its position 2 that is not gentler',
    },
    {
      given: 'force saved at position 1 (a plan starting at force), now evict → disable-eviction',
      record: saved('force', 0, 40),
      escalation: ['evict', 'disable-eviction'] as Level[],
      index: 1,
      why: 'the first level at or after its position 1 that is not gentler',
    },
    {
      given: 'force saved at position 2, now only disable-eviction',
      record: saved('force', 1, 40),
      escalation: ['disable-eviction'] as Level[],
      index: 0,
      why: 'the first level that is not gentler',
    },
    {
      given: 'disable-eviction saved, now a plan that never bypasses a PDB',
      record: saved('disable-eviction', 2, 40),
      escalation: ['evict', 'force'] as Level[],
      index: 1,
      why: 'the harshest level this plan allows (gentler than disable-eviction)',
    },
    {
      given: 'a level name Hecate does not know, at position 2',
      record: saved('drain-harder', 1, 40),
      escalation: ['evict', 'force', 'disable-eviction'] as Level[],
      index: 1,
      why: 'the first level at or after its position 2 that is not gentler',
    },
  ])('given $given, resumes at the substitute with a fresh timer and says so', ({ record, escalation, index, why }) => {
    const resumed = resumeEscalation(record, minute(escalation), NOW);
    const level = escalation[index];
    expect(resumed.state).toEqual({ levelIndex: index, levelStartedAtMs: NOW });
    expect(resumed.record).toEqual({ level, index, startedAt: ago(0) });
    expect(resumed.message).toBe(
      `the saved drain level ${record.level} (position ${record.index + 1}) is not in this plan's escalation ` +
        `(${escalation.join(' → ')}): resuming at ${level}, ${why}, with a fresh timer`,
    );
  });

  it('levelRecord writes the level name, its position and an ISO start', () => {
    expect(levelRecord({ levelIndex: 1, levelStartedAtMs: NOW }, minute())).toEqual({
      level: 'force',
      index: 1,
      startedAt: '2026-11-25T02:00:00.000Z',
    });
  });
});

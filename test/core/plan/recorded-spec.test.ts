import { describe, expect, it } from 'vitest';
import type { Progress } from '../../../core/api/index.js';
import { describeSpecChanges, specChanges, specForRun } from '../../../core/plan/recorded-spec.js';
import { atlasSpec } from '../../helpers/atlas.js';

const started = atlasSpec();
const edited = { ...started, drain: { ...started.drain, timeout: '10m' } };

function progress(extra: Partial<Progress> = {}): Progress {
  return {
    action: 'shutdown',
    mode: 'shutdown',
    planName: 'atlas',
    startedAt: '2026-12-07T01:00:00.000Z',
    updatedAt: '2026-12-07T01:01:00.000Z',
    steps: [],
    planSpec: started,
    ...extra,
  };
}

describe('specForRun: a run acts from the spec it started with', () => {
  it('given an unfinished run of the same mode, then the recorded spec, with what the live one changed', () => {
    const chosen = specForRun('shutdown', edited, progress());
    expect(chosen.spec).toEqual(started);
    expect(chosen.recorded).toBe(true);
    expect(chosen.changes).toEqual([`spec.drain.timeout: "${started.drain.timeout}" → "10m"`]);
  });

  it.each([
    ['finished', progress({ finishedAt: '2026-12-07T01:02:00.000Z' })],
    ['of another mode', progress({ mode: 'startup', action: 'startup' })],
    ['recorded before specs were recorded', progress({ planSpec: undefined })],
    ['absent', undefined],
  ])('given a previous run %s, then the live spec and no changes', (_, saved) => {
    expect(specForRun('shutdown', edited, saved)).toEqual({ spec: edited, recorded: false, changes: [] });
  });
});

describe('specChanges', () => {
  it('names each differing leaf with its path, recorded value first; unset fields say so', () => {
    const live = {
      ...started,
      nodes: started.nodes.map((n, i) => (i === 0 ? { ...n, order: 7 } : n)),
      powerOff: { ...started.powerOff, parallelism: 2 },
    };
    expect(specChanges(started, live)).toEqual([
      `spec.nodes[0].order: ${started.nodes[0]?.order} → 7`,
      'spec.powerOff.parallelism: (unset) → 2',
    ]);
  });

  it('reports a list whose length changed as one line', () => {
    const live = { ...started, nodes: started.nodes.slice(1) };
    expect(specChanges(started, live)).toHaveLength(1);
    expect(specChanges(started, live)[0]).toMatch(/^spec\.nodes: \[.*\.\.\. → \[/);
  });

  it('finds nothing between a spec and its copy', () => {
    expect(specChanges(started, structuredClone(started))).toEqual([]);
  });

  it('describes at most five changes, and how many more', () => {
    const lines = Array.from({ length: 7 }, (_, i) => `spec.x${i}: 1 → 2`);
    const text = describeSpecChanges('atlas', 'shutdown', lines);
    expect(text).toContain('PowerPlan atlas changed since this shutdown started (spec.x0: 1 → 2;');
    expect(text).toContain('spec.x4: 1 → 2; and 2 more)');
    expect(text).toContain('the run keeps the plan it started with until it ends');
  });
});

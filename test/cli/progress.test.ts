import { describe, expect, it } from 'vitest';
import { LineProgress } from '../../cli/render/progress-lines.js';
import type { RenderedPlan } from '../../core/api/index.js';
import { step } from '../../core/plan/step.js';
import { runPlan } from '../../core/run/runner.js';
import { FakeClock, MemoryStore, silentLogger } from '../helpers/fakes.js';

const plan: RenderedPlan = {
  mode: 'shutdown',
  planName: 'p',
  execute: true,
  notes: [],
  steps: [
    step({ id: 'outage/record', stage: 'outage', kind: 'ok', title: 'Record', why: 'w' }),
    step({ id: 'drain/a', stage: 'drain', kind: 'slow', title: 'Drain a', why: 'w' }),
    step({ id: 'drain/b', stage: 'drain', kind: 'fail', title: 'Drain b', why: 'w' }),
    step({ id: 'power-off/a', stage: 'power-off', kind: 'ok', title: 'Power off a', why: 'w' }),
  ],
};

describe('line progress', () => {
  it('prints stage headers, reports, outcomes and a summary naming what did not run', async () => {
    const clock = new FakeClock();
    let out = '';
    const progress = new LineProgress(
      plan,
      (t) => {
        out += t;
      },
      () => clock.now().getTime(),
    );
    const run = runPlan({
      plan,
      action: 'shutdown',
      store: new MemoryStore(),
      clock,
      logger: silentLogger,
      onEvent: (e) => progress.onEvent(e),
      executors: {
        ok: { check: async () => false, apply: async () => {} },
        slow: {
          check: async () => false,
          apply: async (_s, ctx) => {
            ctx.report('3 pods left, level evict');
            clock.advance(2500);
          },
        },
        fail: {
          check: async () => false,
          apply: async () => Promise.reject(new Error('PDB web/api allows no disruption')),
        },
      },
    });
    await expect(run).rejects.toThrow(/PDB web\/api/);
    expect(out + progress.summary()).toBe(
      [
        '[outage]',
        '  → 1. Record',
        '  ✓ 1. Record (0.0 s)',
        '[drain]',
        '  → 2. Drain a',
        '       3 pods left, level evict',
        '  ✓ 2. Drain a (2.5 s)',
        '  → 3. Drain b',
        '  ✗ 3. Drain b: step drain/b (Drain b) failed: PDB web/api allows no disruption',
        'Summary (shutdown):',
        '  outage/record                done in 0.0 s',
        '  drain/a                      done in 2.5 s',
        '  drain/b                      FAILED in 0.0 s',
        '  power-off/a                  not run',
        '',
      ].join('\n'),
    );
  });
});

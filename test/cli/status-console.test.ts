/**
 * The console without a terminal: the session's state machine (dry-run first, the typed plan name before
 * --execute, refusals) and the status panel's size (80 columns, a fixed number of rows).
 */
import { describe, expect, it } from 'vitest';
import { initialSession, type KeyInfo, onKey, onRunEnd, type SessionState } from '../../cli/console/session.js';
import { PANEL_ROWS, statusPanel } from '../../cli/console/view.js';
import type { StatusReport } from '../../cli/status/model.js';

type Step = [input: string, key?: KeyInfo] | ['end', number];

/** Plays keys and run ends; returns the last state and every effect asked for. */
function play(steps: Step[]): { state: SessionState; effects: unknown[] } {
  let state = initialSession('atlas');
  const effects: unknown[] = [];
  for (const step of steps) {
    if (step[0] === 'end') {
      state = onRunEnd(state, step[1] as number);
      continue;
    }
    const next = onKey(state, step[0], (step[1] as KeyInfo | undefined) ?? {});
    state = next.state;
    if (next.effect) effects.push(next.effect);
  }
  return { state, effects };
}

const enter: Step = ['', { return: true }];
const dry = (action: string) => ({ kind: 'run', action, execute: false });
const exec = (action: string) => ({ kind: 'run', action, execute: true });

describe('the console session', () => {
  it.each<[string, Step[], string, unknown[], RegExp]>([
    ['an action key', [['s']], 'dry-run', [dry('shutdown')], /Dry-run of shutdown/],
    ['a finished dry-run', [['u'], ['end', 0]], 'confirm', [dry('startup')], /Type "atlas" \+ Enter to run startup/],
    ['a failed dry-run', [['p'], ['end', 2]], 'idle', [dry('prepare')], /dry-run of prepare failed \(exit 2\)/],
    [
      'the plan name typed',
      [['s'], ['end', 0], ['atlas'], enter],
      'execute',
      [dry('shutdown'), exec('shutdown')],
      /Running/,
    ],
    [
      'the name and Enter in one read',
      [['h'], ['end', 0], ['atlas\r']],
      'execute',
      [dry('harbor-seed'), exec('harbor-seed')],
      /Running/,
    ],
    ['a wrong name', [['s'], ['end', 0], ['atlsa'], enter], 'idle', [dry('shutdown')], /Refused: you typed "atlsa"/],
    ['Enter alone', [['s'], ['end', 0], enter], 'idle', [dry('shutdown')], /Refused: you typed nothing/],
    ['Esc at the prompt', [['s'], ['end', 0], ['a'], ['', { escape: true }]], 'idle', [dry('shutdown')], /Cancelled/],
    [
      'backspace',
      [['s'], ['end', 0], ['atlass'], ['', { backspace: true }], enter],
      'execute',
      [dry('shutdown'), exec('shutdown')],
      /Running/,
    ],
    ['an action key while one runs', [['s'], ['p'], ['q']], 'dry-run', [dry('shutdown')], /running: wait/],
    [
      'an execute that ends',
      [['s'], ['end', 0], ['atlas'], enter, ['end', 0]],
      'idle',
      [dry('shutdown'), exec('shutdown')],
      /finished \(exit 0\)/,
    ],
    ['q when idle', [['q']], 'idle', [{ kind: 'quit' }], /Choose an action/],
  ])('given %s, then the phase, effects and notice follow', (_, steps, phase, effects, notice) => {
    const { state, effects: got } = play(steps);
    expect(state.phase.name).toBe(phase);
    expect(got).toEqual(effects);
    expect(state.notice).toMatch(notice);
  });
});

describe('the status panel', () => {
  it('given an unreachable cluster, then it fits 80 columns and PANEL_ROWS rows', () => {
    const report = {
      health: 'unreachable',
      plan: { name: 'atlas', source: 'x' },
      controlPlane: { api: 'unreachable', message: 'x'.repeat(200) },
      nodes: [{ name: 'titan-01', inPlan: true, seen: false, cordonedByHecate: false, poweredOffByHecate: true }],
      flux: {
        seen: false,
        source: { kind: 'GitRepository', namespace: 'f', name: 'f' },
        notReady: [],
        suspended: [],
        recordedSuspendedByHecate: [],
      },
      chain: [{ name: 'core', path: 'p', waitFor: [] }],
      ups: { source: 'none', summary: 'no UPS configured (ups.source: none)' },
      outage: { stateFile: '/s', present: true, inOutage: true },
      snapshot: { path: '/r' },
      powerEvent: { seen: false, message: 'not seen: the API is unreachable' },
      problems: [],
      unseen: [],
    } as unknown as StatusReport;
    const lines = statusPanel(report, 80, '02:00:00');
    expect(lines.length).toBeLessThanOrEqual(PANEL_ROWS);
    expect(lines.every((l) => l.length <= 80)).toBe(true);
    expect(lines[0]).toMatch(/^Hecate · atlas · UNREACHABLE · API UNREACHABLE +02:00:00$/);
    expect(lines).toContain('Nodes  1 in the plan, not seen; 1 powered off by Hecate');
  });
});

import { describe, expect, it } from 'vitest';
import { decide, isGone, type PodObservation, podsForLevel, startEscalation } from '../../../core/drain/escalation.js';
import { accepted, daemon, mirror, options, pod, present, r429, unmanaged } from './fixtures.js';

const T0 = 1_000_000;
const web = pod('web');
const debug = unmanaged('debug');

describe('isGone', () => {
  it.each([
    ['present with the same uid', false, present(web)],
    ['present after an accepted eviction', false, present(web, accepted('evict', T0))],
    ['answered 404', true, present(web, { kind: 'not-found', level: 'evict', atMs: T0 })],
    ['absent', true, { target: web, current: null }],
    ['replaced (new uid)', true, { target: web, current: { ...web, uid: 'other' } }],
  ] as const)('given a pod %s, when checked, then gone=%s', (_given, expected, observation) => {
    expect(isGone(observation)).toBe(expected);
  });
});

describe('podsForLevel', () => {
  const node = [web, debug, daemon('agent'), mirror('etcd')];
  it.each([
    ['evict', ['web']],
    ['force', ['web', 'debug']],
    ['disable-eviction', ['web', 'debug']],
  ] as const)('given a mixed node, when at %s, then it may touch %j', (level, names) => {
    expect(podsForLevel(node, options(), level, T0).map((p) => p.name)).toEqual(names);
  });
});

/** A node with one PDB-guarded pod that never allows an eviction: the whole escalation, step by step. */
describe('a drain blocked by a PodDisruptionBudget', () => {
  it('given a PDB that always answers 429, when driven to the end, then evict → force → disable-eviction → done', () => {
    const opts = options({ levelTimeoutMs: 12_000 });
    let state = startEscalation(0);
    let now = 0;
    let observation: PodObservation = present(web);
    const trace: string[] = [];
    for (let step = 0; step < 40; step++) {
      const decision = decide(state, [observation], now, opts);
      if (decision.kind === 'done' || decision.kind === 'fail') {
        trace.push(`${now / 1000}s ${decision.kind}`);
        break;
      }
      if (decision.kind === 'escalate') {
        trace.push(`${now / 1000}s escalate ${decision.to}`);
        state = decision.next;
      } else if (decision.kind === 'wait') {
        now = decision.untilMs;
      } else {
        const action = decision.actions[0]!;
        trace.push(`${now / 1000}s ${action.kind}@${action.level}`);
        observation =
          action.kind === 'evict'
            ? present(web, r429(action.level, now))
            : { target: web, current: null, last: accepted(action.level, now) };
        now += 1_000;
      }
    }
    expect(trace).toEqual([
      '0s evict@evict',
      '5s evict@evict',
      '10s evict@evict',
      '12s escalate force',
      '12s evict@force',
      '17s evict@force',
      '22s evict@force',
      '24s escalate disable-eviction',
      '24s delete@disable-eviction',
      '25s done',
    ]);
  });
});

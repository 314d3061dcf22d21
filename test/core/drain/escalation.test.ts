import { describe, expect, it } from 'vitest';
import {
  type Decision,
  decide,
  type EscalationState,
  type PodAction,
  type PodObservation,
} from '../../../core/drain/escalation.js';
import type { DrainOptions, Level } from '../../../core/drain/options.js';
import type { DrainPod } from '../../../core/drain/pod.js';
import { accepted, daemon, mirror, options, pod, present, r429, unmanaged } from './fixtures.js';

const T0 = 1_000_000;
const s = (seconds: number) => T0 + seconds * 1_000;
const TIMEOUT = 300; // seconds, the PowerPlan default

const web = pod('web');
const db = pod('db');
const debug = unmanaged('debug');
const UNMANAGED_WAIT =
  'cannot delete Pods that declare no controller (needs the force escalation level); waiting for a later level';

function at(level: Level, startedAtMs: number, opts: DrainOptions = options()): EscalationState {
  return { levelIndex: opts.escalation.indexOf(level), levelStartedAtMs: startedAtMs };
}
const evict = (p: DrainPod, level: Level): PodAction => ({
  kind: 'evict',
  namespace: 'apps',
  name: p.name,
  uid: p.uid,
  level,
});
const del = (p: DrainPod, extra: Partial<PodAction> = {}): PodAction => ({
  kind: 'delete',
  namespace: 'apps',
  name: p.name,
  uid: p.uid,
  level: 'disable-eviction',
  ...extra,
});
const waitingOn = (p: DrainPod, why: string) => ({ namespace: 'apps', name: p.name, uid: p.uid, why });
const WHY_429 = '429: a PodDisruptionBudget forbids the eviction';

interface Case {
  readonly given: string;
  readonly when?: string;
  readonly state: EscalationState;
  readonly observations: readonly PodObservation[];
  readonly now: number;
  readonly opts?: DrainOptions;
  readonly expected: Decision;
}

const cases: Case[] = [
  {
    given: 'a managed pod not yet acted on at evict',
    state: at('evict', T0),
    observations: [present(web)],
    now: s(0),
    expected: { kind: 'act', actions: [evict(web, 'evict')] },
  },
  {
    given: 'a PDB 429 at t=0s',
    when: 't=3s',
    state: at('evict', T0),
    observations: [present(web, r429('evict', s(0)))],
    now: s(3),
    expected: { kind: 'wait', untilMs: s(5), waiting: [waitingOn(web, WHY_429)] },
  },
  {
    given: 'a PDB 429 at t=0s',
    when: 't=5s (the retry interval)',
    state: at('evict', T0),
    observations: [present(web, r429('evict', s(0)))],
    now: s(5),
    expected: { kind: 'act', actions: [evict(web, 'evict')] },
  },
  {
    given: 'one pod never acted on and one 429 at t=1s',
    when: 't=2s',
    state: at('evict', T0),
    observations: [present(web), present(db, r429('evict', s(1)))],
    now: s(2),
    expected: { kind: 'act', actions: [evict(web, 'evict')] },
  },
  {
    given: 'a 429 persisting until the level timeout',
    when: `t=${TIMEOUT}s`,
    state: at('evict', T0),
    observations: [present(web, r429('evict', s(TIMEOUT - 2)))],
    now: s(TIMEOUT),
    expected: {
      kind: 'escalate',
      to: 'force',
      next: { levelIndex: 1, levelStartedAtMs: s(TIMEOUT) },
      reason: `1 pod(s) still present after ${TIMEOUT}s at evict: apps/web (${WHY_429})`,
    },
  },
  {
    given: 'force just entered and a 429 from evict',
    state: at('force', s(300)),
    observations: [present(web, r429('evict', s(298)))],
    now: s(300),
    expected: { kind: 'act', actions: [evict(web, 'force')] },
  },
  {
    given: 'a 429 at force (force does not bypass a PDB)',
    when: '3s later',
    state: at('force', s(300)),
    observations: [present(web, r429('force', s(300)))],
    now: s(303),
    expected: { kind: 'wait', untilMs: s(305), waiting: [waitingOn(web, WHY_429)] },
  },
  {
    given: 'a 429 persisting through force',
    when: 'the force timeout elapses',
    state: at('force', s(300)),
    observations: [present(web, r429('force', s(597)))],
    now: s(600),
    expected: {
      kind: 'escalate',
      to: 'disable-eviction',
      next: { levelIndex: 2, levelStartedAtMs: s(600) },
      reason: `1 pod(s) still present after ${TIMEOUT}s at force: apps/web (${WHY_429})`,
    },
  },
  {
    given: 'disable-eviction just entered and a 429 from force',
    state: at('disable-eviction', s(600)),
    observations: [present(web, r429('force', s(597)))],
    now: s(600),
    expected: { kind: 'act', actions: [del(web)] },
  },
  {
    given: 'disable-eviction with gracePeriodSeconds 0',
    state: at('disable-eviction', s(600)),
    observations: [present(web)],
    now: s(600),
    opts: options({ gracePeriodSeconds: 0 }),
    expected: { kind: 'act', actions: [del(web, { gracePeriodSeconds: 0 })] },
  },
  {
    given: 'an unmanaged pod and a managed pod at evict',
    state: at('evict', T0),
    observations: [present(debug), present(web)],
    now: s(0),
    expected: { kind: 'act', actions: [evict(web, 'evict')] },
  },
  {
    given: 'an unmanaged pod and a managed pod whose eviction was accepted',
    when: 't=10s',
    state: at('evict', T0),
    observations: [present(debug), present(web, accepted('evict', s(0)))],
    now: s(10),
    expected: {
      kind: 'wait',
      untilMs: s(TIMEOUT),
      waiting: [waitingOn(debug, UNMANAGED_WAIT), waitingOn(web, 'eviction accepted, still terminating')],
    },
  },
  {
    given: 'only an unmanaged pod left at evict',
    when: 't=10s (nothing at evict can move it)',
    state: at('evict', T0),
    observations: [present(debug), { target: web, current: null, last: accepted('evict', s(0)) }],
    now: s(10),
    expected: {
      kind: 'escalate',
      to: 'force',
      next: { levelIndex: 1, levelStartedAtMs: s(10) },
      reason: `1 pod(s) still present after 10s at evict: apps/debug (${UNMANAGED_WAIT})`,
    },
  },
  {
    given: 'an unmanaged pod at force',
    state: at('force', s(10)),
    observations: [present(debug)],
    now: s(10),
    expected: { kind: 'act', actions: [evict(debug, 'force')] },
  },
  {
    given: 'an eviction answered 404',
    state: at('evict', T0),
    observations: [present(web, { kind: 'not-found', level: 'evict', atMs: s(1) })],
    now: s(1),
    expected: { kind: 'done' },
  },
  {
    given: 'a pod the API server no longer has',
    state: at('evict', T0),
    observations: [{ target: web, current: null, last: accepted('evict', s(0)) }],
    now: s(4),
    expected: { kind: 'done' },
  },
  {
    given: 'a replacement with the same name and a new uid',
    state: at('evict', T0),
    observations: [{ target: web, current: { ...web, uid: 'uid-web-2' }, last: accepted('evict', s(0)) }],
    now: s(4),
    expected: { kind: 'done' },
  },
  {
    given: 'an accepted eviction and the pod still present',
    when: 't=10s',
    state: at('evict', T0),
    observations: [present({ ...web, deletionTimestampMs: s(0) }, accepted('evict', s(0)))],
    now: s(10),
    expected: { kind: 'wait', untilMs: s(TIMEOUT), waiting: [waitingOn(web, 'eviction accepted, still terminating')] },
  },
  {
    given: 'escalation without disable-eviction and a 429 persisting through force',
    when: 'the force timeout elapses',
    state: at('force', s(300), options({ escalation: ['evict', 'force'] })),
    observations: [present(web, r429('force', s(598))), present(db, accepted('force', s(300)))],
    now: s(600),
    opts: options({ escalation: ['evict', 'force'] }),
    expected: {
      kind: 'fail',
      reason:
        `2 pod(s) still present after ${TIMEOUT}s at force and no escalation level is left after force: ` +
        `apps/web (${WHY_429}), apps/db (eviction accepted, still terminating)`,
      remaining: [waitingOn(web, WHY_429), waitingOn(db, 'eviction accepted, still terminating')],
    },
  },
  {
    given: 'a pod deleted at disable-eviction that never goes',
    when: 'the last timeout elapses',
    state: at('disable-eviction', s(600)),
    observations: [present(web, accepted('disable-eviction', s(600)))],
    now: s(900),
    expected: {
      kind: 'fail',
      reason: `1 pod(s) still present after ${TIMEOUT}s at disable-eviction and no escalation level is left after disable-eviction: apps/web (deleted, still terminating)`,
      remaining: [waitingOn(web, 'deleted, still terminating')],
    },
  },
  {
    given: 'a pod deleted 61s ago with skipWaitForDeleteTimeout 60s',
    state: at('disable-eviction', s(600)),
    observations: [present({ ...web, deletionTimestampMs: s(600) }, accepted('disable-eviction', s(600)))],
    now: s(661),
    opts: options({ skipWaitForDeleteTimeoutMs: 60_000 }),
    expected: { kind: 'done' },
  },
  {
    given: 'an unmanaged pod and escalation [evict] only',
    state: at('evict', T0, options({ escalation: ['evict'] })),
    observations: [present(web), present(debug)],
    now: s(0),
    opts: options({ escalation: ['evict'] }),
    expected: {
      kind: 'fail',
      reason:
        'no escalation level may delete these pods: apps/debug (cannot delete Pods that declare no controller (needs the force escalation level))',
      remaining: [waitingOn(debug, 'cannot delete Pods that declare no controller (needs the force escalation level)')],
    },
  },
  {
    given: 'DaemonSet and mirror pods only (ignoreDaemonSets)',
    when: 'at disable-eviction',
    state: at('disable-eviction', T0),
    observations: [present(daemon('agent')), present(mirror('etcd'))],
    now: s(0),
    expected: { kind: 'done' },
  },
  {
    given: 'a DaemonSet pod without ignoreDaemonSets',
    state: at('evict', T0),
    observations: [present(web), present(daemon('agent'))],
    now: s(0),
    opts: options({ ignoreDaemonSets: false }),
    expected: {
      kind: 'fail',
      reason:
        'no escalation level may delete these pods: apps/agent (cannot delete DaemonSet-managed Pods (set drain.ignoreDaemonSets to ignore))',
      remaining: [
        waitingOn(daemon('agent'), 'cannot delete DaemonSet-managed Pods (set drain.ignoreDaemonSets to ignore)'),
      ],
    },
  },
  {
    given: 'a 500 (several PDBs select the pod) at t=0s',
    when: 't=2s',
    state: at('evict', T0),
    observations: [present(web, { kind: 'error', level: 'evict', atMs: s(0), status: 500, message: 'multiple PDBs' })],
    now: s(2),
    expected: { kind: 'wait', untilMs: s(5), waiting: [waitingOn(web, 'error 500: multiple PDBs')] },
  },
  {
    given: 'a 500 at t=0s',
    when: 't=5s',
    state: at('evict', T0),
    observations: [present(web, { kind: 'error', level: 'evict', atMs: s(0), status: 500, message: 'multiple PDBs' })],
    now: s(5),
    expected: { kind: 'act', actions: [evict(web, 'evict')] },
  },
  {
    given: 'a timeout of 0 (wait forever) and an accepted eviction',
    when: 'an hour later',
    state: at('evict', T0),
    observations: [present(web, accepted('evict', s(0)))],
    now: s(3600),
    opts: options({ levelTimeoutMs: 0 }),
    expected: { kind: 'wait', untilMs: Infinity, waiting: [waitingOn(web, 'eviction accepted, still terminating')] },
  },
  {
    given: 'a timeout of 0 and a 429 an hour in',
    when: '1s later',
    state: at('evict', T0),
    observations: [present(web, r429('evict', s(3600)))],
    now: s(3601),
    opts: options({ levelTimeoutMs: 0 }),
    expected: { kind: 'wait', untilMs: s(3605), waiting: [waitingOn(web, WHY_429)] },
  },
  {
    given: 'no pods at all',
    state: at('evict', T0),
    observations: [],
    now: s(0),
    expected: { kind: 'done' },
  },
];

describe('decide', () => {
  const named = cases.map(
    (c) => [`given ${c.given}, when ${c.when ?? 'deciding'}, then ${c.expected.kind}`, c] as const,
  );
  it.each(named)('%s', (_name, { state, observations, now, opts, expected }) => {
    expect(decide(state, observations, now, opts ?? options())).toEqual(expected);
  });

  it('given a level index outside the escalation list, when deciding, then RangeError', () => {
    expect(() => decide({ levelIndex: 3, levelStartedAtMs: T0 }, [], T0, options())).toThrow(RangeError);
  });
});

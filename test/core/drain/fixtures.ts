import { drainSpec } from '../../../core/api/powerplan.js';
import type { AttemptResult, PodObservation } from '../../../core/drain/escalation.js';
import { type DrainOptions, type Level, toDrainOptions } from '../../../core/drain/options.js';
import type { DrainPod } from '../../../core/drain/pod.js';

/** A running ReplicaSet pod on worker-1; override what the case is about. */
export function pod(name: string, overrides: Partial<DrainPod> = {}): DrainPod {
  return {
    namespace: 'apps',
    name,
    uid: `uid-${name}`,
    nodeName: 'worker-1',
    phase: 'Running',
    controller: { kind: 'ReplicaSet', name: `${name}-rs` },
    isMirror: false,
    hasEmptyDir: false,
    terminationGracePeriodSeconds: 30,
    toleratesCordon: false,
    isHecateHelper: false,
    ...overrides,
  };
}

export const unmanaged = (name: string, overrides: Partial<DrainPod> = {}) =>
  pod(name, { controller: null, ...overrides });
export const daemon = (name: string, overrides: Partial<DrainPod> = {}) =>
  pod(name, { controller: { kind: 'DaemonSet', name: 'agent' }, ...overrides });
export const mirror = (name: string, overrides: Partial<DrainPod> = {}) =>
  pod(name, { controller: { kind: 'Node', name: 'worker-1' }, isMirror: true, ...overrides });

/** The PowerPlan defaults (5m per level, evict → force → disable-eviction, 5 s retry), with overrides. */
export function options(overrides: Partial<DrainOptions> = {}): DrainOptions {
  return { ...toDrainOptions(drainSpec.parse({})), ...overrides };
}

/** An observation of a pod still there with the same uid, with the last response to an action on it. */
export const present = (target: DrainPod, last?: AttemptResult): PodObservation => ({ target, current: target, last });
export const r429 = (level: Level, atMs: number): AttemptResult => ({ kind: 'too-many-requests', level, atMs });
export const accepted = (level: Level, atMs: number): AttemptResult => ({ kind: 'accepted', level, atMs });

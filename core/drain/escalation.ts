import { evaluatePod, type PodVerdict, selectPodsForDrain } from './filters.js';
import type { DrainOptions, Level } from './options.js';
import { type DrainPod, podKey } from './pod.js';

/** Where the drain of one node stands: the escalation level reached and when it was entered. */
export interface EscalationState {
  /** Index into `options.escalation`. */
  readonly levelIndex: number;
  readonly levelStartedAtMs: number;
}

/** The state of a drain that starts now, at the first (mildest) level. */
export function startEscalation(nowMs: number): EscalationState {
  return { levelIndex: 0, levelStartedAtMs: nowMs };
}

/** The level `state` is at; throws a RangeError for an index outside `options.escalation`. */
export function currentLevel(state: EscalationState, options: DrainOptions): Level {
  const level = options.escalation[state.levelIndex];
  if (level === undefined)
    throw new RangeError(`escalation level ${state.levelIndex} is not in [${options.escalation}]`);
  return level;
}

/**
 * The API server's answer to the last eviction (or, at `disable-eviction`, DELETE) of a pod, and the level that
 * sent it. A response from an earlier level does not count at the current one: each level acts afresh.
 * - `accepted`: 200/201. The pod is terminating, NOT gone: the drain keeps waiting for it.
 * - `too-many-requests`: 429, a PodDisruptionBudget forbids the eviction now. Retried every
 *   `evictionRetryIntervalMs`; it never escalates by itself, only the level timeout does.
 * - `not-found`: 404, the pod is gone.
 * - `error`: anything else (500 when several budgets select the pod, 403, ...). Retried like a 429.
 */
export type AttemptResult =
  | { readonly kind: 'accepted' | 'too-many-requests' | 'not-found'; readonly level: Level; readonly atMs: number }
  | {
      readonly kind: 'error';
      readonly level: Level;
      readonly atMs: number;
      readonly status: number;
      readonly message: string;
    };

/** What the executor saw of one pod the drain started with. */
export interface PodObservation {
  /** The pod as it was when the drain started: its uid is the identity the drain waits on. */
  readonly target: DrainPod;
  /** The pod with the same namespace/name now, or null when the API server has none. */
  readonly current: DrainPod | null;
  /** The last response to an action on `target`; absent before the first. */
  readonly last?: AttemptResult;
}

/**
 * One call the executor makes. `evict` posts an Eviction (PodDisruptionBudgets respected); `delete` is a plain
 * DELETE (budgets bypassed). Both carry the uid as a precondition, so that a replacement pod is never touched.
 * `gracePeriodSeconds` is absent when the pod's own grace period applies.
 */
export interface PodAction {
  readonly kind: 'evict' | 'delete';
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly gracePeriodSeconds?: number;
  readonly level: Level;
}

/** A pod the drain still waits on, and why it is still there. */
export interface RemainingPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly why: string;
}

/**
 * The next step of a drain. `act`: perform the actions, record each response as the pod's `last`, decide again.
 * `wait`: decide again at `untilMs` or on any change of a pod, whichever is first (`untilMs` is +Infinity when
 * only a change can help). `escalate`: adopt `next` and decide again. `done` and `fail` are terminal.
 */
export type Decision =
  | { readonly kind: 'act'; readonly actions: readonly PodAction[] }
  | { readonly kind: 'wait'; readonly untilMs: number; readonly waiting: readonly RemainingPod[] }
  | { readonly kind: 'escalate'; readonly to: Level; readonly next: EscalationState; readonly reason: string }
  | {
      readonly kind: 'done';
      /** Pods whose deletion was accepted but that were still terminating (only with `acceptTerminatingAtEnd`). */
      readonly terminating?: readonly RemainingPod[];
    }
  | { readonly kind: 'fail'; readonly reason: string; readonly remaining: readonly RemainingPod[] };

/**
 * The pods a drain at `level` may touch: {@link selectPodsForDrain}'s `toDelete` (unmanaged pods only from
 * `force` on; DaemonSet and mirror pods never).
 */
export function podsForLevel(
  pods: readonly DrainPod[],
  options: DrainOptions,
  level: Level,
  nowMs: number,
): DrainPod[] {
  return [...selectPodsForDrain(pods, options, level, nowMs).toDelete];
}

/** A 404, no pod of that name, or a pod of that name with another uid (a replacement): the target is gone. */
export function isGone(observation: PodObservation): boolean {
  const { target, current, last } = observation;
  return last?.kind === 'not-found' || current === null || current.uid !== target.uid;
}

/** A pod still present, judged at the current level and at the last one. */
interface Tracked {
  readonly observation: PodObservation;
  readonly now: PodVerdict;
  readonly ever: PodVerdict;
}

/** One pod's plan at the current level: an action now, a retry later, or only waiting. */
interface PodPlan {
  readonly remaining: RemainingPod;
  readonly action?: PodAction;
  readonly retryAtMs?: number;
  /** False when only a later level may touch the pod. */
  readonly movable: boolean;
  /** Its eviction or delete at this level was accepted: it is only still terminating. */
  readonly terminating?: boolean;
  /** For a terminating pod: when its grace period (plus {@link TERMINATION_SLACK_MS}) since the accept runs out. */
  readonly graceEndsAtMs?: number;
}

/**
 * What a pod may take beyond its grace period to be gone from the API server: the kubelet notices the deletion,
 * kills at the end of the grace period, and deletes the object. A drain never fails a pod still inside this.
 */
export const TERMINATION_SLACK_MS = 5_000;

/** The grace period a delete or eviction at `options` gives `pod`, in ms. */
export function graceMsOf(pod: DrainPod, options: DrainOptions): number {
  return (options.gracePeriodSeconds >= 0 ? options.gracePeriodSeconds : pod.terminationGracePeriodSeconds) * 1000;
}

/**
 * Decides the next step of draining one node from what was observed, at `nowMs`. Pure and total.
 *
 * Contract, in order:
 * 1. Pods gone ({@link isGone}) and pods no level may delete without error (DaemonSet pods with
 *    `ignoreDaemonSets`, mirror pods, pods skipped by `skipWaitForDeleteTimeoutMs`) are not waited on.
 * 2. A pod that even the last level may not delete (a DaemonSet pod without `ignoreDaemonSets`, emptyDir without
 *    `deleteEmptyDirData`, no controller and no `force` level): `fail` before anything is touched, like kubectl.
 * 3. Nothing left to wait on: `done`.
 * 4. The level timeout elapsed (never when it is 0), or every remaining pod waits for a later level: `escalate`
 *    to the next level, or `fail` naming every remaining pod and why when the list is exhausted; but when every
 *    remaining pod was deleted at the last level and is still inside its grace period (plus a slack), `wait` for it.
 * 5. Pods this level has not acted on yet, and 429/error responses at least `evictionRetryIntervalMs` old: `act`.
 * 6. Otherwise `wait` for the earliest retry or the level timeout.
 *
 * NOTE: step 4's second trigger departs from "escalate after the timeout": when only pods without a controller
 * remain, waiting at `evict` cannot move them (nothing recreates them elsewhere), so the drain moves on at once
 * instead of burning the battery for a full timeout. Pods blocked by a PodDisruptionBudget always get the timeout.
 */
export function decide(
  state: EscalationState,
  observations: readonly PodObservation[],
  nowMs: number,
  options: DrainOptions,
): Decision {
  const level = currentLevel(state, options);
  const last = options.escalation[options.escalation.length - 1] ?? level;
  const tracked = observations.filter((o) => !isGone(o)).map((o) => judge(o, level, last, nowMs, options));
  const blocked = tracked.filter((t) => t.ever.level === 'error');
  const waited = tracked.filter((t) => t.ever.delete);
  if (blocked.length > 0) return failNoLevel(blocked);
  if (waited.length === 0) return { kind: 'done' };
  const plans = waited.map((t) => planPod(t, level, nowMs, options));
  const deadlineMs = options.levelTimeoutMs > 0 ? state.levelStartedAtMs + options.levelTimeoutMs : Infinity;
  if (nowMs >= deadlineMs || plans.every((p) => !p.movable)) return escalateOrFail(state, plans, nowMs, options);
  const actions = plans.flatMap((p) => (p.action ? [p.action] : []));
  if (actions.length > 0) return { kind: 'act', actions };
  const untilMs = Math.min(deadlineMs, ...plans.map((p) => p.retryAtMs ?? Infinity));
  return { kind: 'wait', untilMs, waiting: plans.map((p) => p.remaining) };
}

function judge(observation: PodObservation, level: Level, last: Level, nowMs: number, options: DrainOptions): Tracked {
  const pod = observation.current ?? observation.target;
  return {
    observation,
    now: evaluatePod(pod, { options, level, nowMs }),
    ever: evaluatePod(pod, { options, level: last, nowMs }),
  };
}

function planPod(tracked: Tracked, level: Level, nowMs: number, options: DrainOptions): PodPlan {
  const { target, last } = tracked.observation;
  if (!tracked.now.delete) {
    return {
      remaining: remainingOf(target, `${tracked.now.messages.join('; ')}; waiting for a later level`),
      movable: false,
    };
  }
  const attempt = last?.level === level ? last : undefined;
  const act = { action: actionFor(target, level, options), movable: true };
  if (attempt === undefined) return { remaining: remainingOf(target, `not yet acted on at ${level}`), ...act };
  if (attempt.kind === 'accepted') {
    const graceEndsAtMs = attempt.atMs + graceMsOf(target, options) + TERMINATION_SLACK_MS;
    return { remaining: remainingOf(target, acceptedWhy(level)), movable: true, terminating: true, graceEndsAtMs };
  }
  const retryAtMs = attempt.atMs + options.evictionRetryIntervalMs;
  const remaining = remainingOf(target, refusedWhy(attempt));
  return nowMs < retryAtMs ? { remaining, retryAtMs, movable: true } : { remaining, ...act };
}

function remainingOf(pod: DrainPod, why: string): RemainingPod {
  return { namespace: pod.namespace, name: pod.name, uid: pod.uid, why };
}

function refusedWhy(attempt: AttemptResult): string {
  if (attempt.kind === 'error') return `error ${attempt.status}: ${attempt.message}`;
  return attempt.kind === 'too-many-requests' ? '429: a PodDisruptionBudget forbids the eviction' : attempt.kind;
}

function acceptedWhy(level: Level): string {
  return level === 'disable-eviction' ? 'deleted, still terminating' : 'eviction accepted, still terminating';
}

function actionFor(pod: DrainPod, level: Level, options: DrainOptions): PodAction {
  return {
    kind: level === 'disable-eviction' ? 'delete' : 'evict',
    namespace: pod.namespace,
    name: pod.name,
    uid: pod.uid,
    ...(options.gracePeriodSeconds >= 0 ? { gracePeriodSeconds: options.gracePeriodSeconds } : {}),
    level,
  };
}

function escalateOrFail(
  state: EscalationState,
  plans: readonly PodPlan[],
  nowMs: number,
  options: DrainOptions,
): Decision {
  const level = currentLevel(state, options);
  const remaining = plans.map((p) => p.remaining);
  const list = remaining.map((r) => `${podKey(r)} (${r.why})`).join(', ');
  const held = `${remaining.length} pod(s) still present after ${(nowMs - state.levelStartedAtMs) / 1000}s at ${level}`;
  const to = options.escalation[state.levelIndex + 1];
  if (to === undefined && plans.every((p) => p.terminating)) {
    if (options.acceptTerminatingAtEnd) return { kind: 'done', terminating: remaining };
    // Deleted at the last level and still inside their grace period: they are going, as asked; wait for them.
    const untilMs = Math.max(...plans.map((p) => p.graceEndsAtMs ?? nowMs));
    if (nowMs < untilMs) return { kind: 'wait', untilMs, waiting: remaining };
  }
  if (to === undefined) {
    return { kind: 'fail', reason: `${held} and no escalation level is left after ${level}: ${list}`, remaining };
  }
  const next = { levelIndex: state.levelIndex + 1, levelStartedAtMs: nowMs };
  return { kind: 'escalate', to, next, reason: `${held}: ${list}` };
}

function failNoLevel(blocked: readonly Tracked[]): Decision {
  const remaining = blocked.map((t) => remainingOf(t.observation.target, t.ever.messages.join('; ')));
  const list = remaining.map((r) => `${podKey(r)} (${r.why})`).join(', ');
  return { kind: 'fail', reason: `no escalation level may delete these pods: ${list}`, remaining };
}

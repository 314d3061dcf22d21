import { parseDuration } from '../api/meta.js';
import type { DrainSpec } from '../api/powerplan.js';

/** An escalation level, mildest first. Each level does everything the previous one does, and more. */
export type Level = DrainSpec['escalation'][number];

/** Every level in escalation order; `levelRank` compares levels by their position here. */
export const LEVELS: readonly Level[] = ['evict', 'force', 'disable-eviction'];

/** Position in {@link LEVELS}: higher is harsher. */
export function levelRank(level: Level): number {
  return LEVELS.indexOf(level);
}

/** True when `level` is `at` or harsher (e.g. `reaches('disable-eviction', 'force')`). */
export function reaches(level: Level, at: Level): boolean {
  return levelRank(level) >= levelRank(at);
}

/** The retry interval is never shorter than this, whatever the plan says. */
export const MIN_EVICTION_RETRY_INTERVAL_MS = 1_000;

/**
 * How Hecate drains a node: kubectl drain's flags, plus the escalation that kubectl leaves to the user.
 * All durations are in milliseconds. Every knob names its dangerous values.
 */
export interface DrainOptions {
  /**
   * Levels tried in order, mildest first, each held for `levelTimeoutMs`:
   * - `evict`: the Eviction API; PodDisruptionBudgets are respected; pods without a controller are left alone.
   * - `force`: as `evict`, and pods without a controller are evicted too (nothing recreates them). It still uses
   *   the Eviction API, so it does NOT bypass a PodDisruptionBudget.
   * - `disable-eviction`: plain DELETE of every remaining pod (it implies `force`): the ONLY level that bypasses
   *   PodDisruptionBudgets.
   * Dangerous: including `disable-eviction` lets a shutdown take a quorum-based app (etcd, Postgres replicas)
   * below its budget; leaving it out lets one PodDisruptionBudget block the whole shutdown until the battery dies.
   */
  readonly escalation: readonly Level[];
  /**
   * Time at each level before moving to the next. Dangerous: 0 means wait forever at the first level (kubectl's
   * `--timeout=0`), so a PodDisruptionBudget blocks the shutdown; a few seconds escalates before pods can stop.
   */
  readonly levelTimeoutMs: number;
  /**
   * Grace period sent with each eviction or delete. -1 uses each pod's own `terminationGracePeriodSeconds`.
   * Dangerous: 0 kills the containers at once (no SIGTERM handling, no flush): data can be lost.
   */
  readonly gracePeriodSeconds: number;
  /**
   * Drain pods that use emptyDir volumes. Dangerous: true loses that data; false makes every such pod an error
   * that stops the drain (kubectl's `--delete-emptydir-data`).
   */
  readonly deleteEmptyDirData: boolean;
  /**
   * Go on when DaemonSet pods run on the node (they are never deleted: their controller ignores the cordon).
   * Dangerous: false makes the drain fail on every node that runs a DaemonSet (kubectl's `--ignore-daemonsets`).
   */
  readonly ignoreDaemonSets: boolean;
  /**
   * Wait after a 429 (a PodDisruptionBudget forbids the eviction) before retrying that pod; kubectl uses 5 s.
   * Dangerous: very short intervals hammer the API server; floored at {@link MIN_EVICTION_RETRY_INTERVAL_MS}.
   */
  readonly evictionRetryIntervalMs: number;
  /**
   * Stop waiting for pods whose deletion was requested longer ago than this (kubectl's
   * `--skip-wait-for-delete-timeout`, for nodes whose kubelet no longer answers). 0 disables it.
   * Dangerous: a small value powers a node off while its pods are still stopping.
   */
  readonly skipWaitForDeleteTimeoutMs: number;
  /**
   * Nodes drained at the same time (pods of one node are always evicted together, as kubectl does).
   * Dangerous: above 1, the remaining nodes lose capacity faster and more PodDisruptionBudgets block.
   */
  readonly parallelism: number;
  /**
   * When the last level runs out and every pod left has accepted its eviction or delete (it is only terminating),
   * the drain counts as done and names those pods, instead of failing. For the emergency shutdown, where a pod's
   * grace period may outlast the short levels and power-off stops its containers anyway. Dangerous: true powers a
   * node off while its pods are still stopping.
   */
  readonly acceptTerminatingAtEnd?: boolean;
}

/** The escalation list breaks its contract: empty, repeated, or not mildest-first. */
export class InvalidDrainOptionsError extends Error {
  override readonly name = 'InvalidDrainOptionsError';
}

/**
 * Derives {@link DrainOptions} from a parsed PowerPlan `drain` spec. `skipWaitForDeleteTimeoutMs` is not in the
 * spec yet, so callers pass it separately (default 0, disabled). Throws {@link InvalidDrainOptionsError} when the
 * escalation list is not strictly mildest-first.
 */
export function toDrainOptions(
  spec: DrainSpec,
  extra: { skipWaitForDeleteTimeoutMs?: number; acceptTerminatingAtEnd?: boolean } = {},
): DrainOptions {
  checkEscalation(spec.escalation);
  return {
    escalation: [...spec.escalation],
    levelTimeoutMs: parseDuration(spec.timeout),
    gracePeriodSeconds: spec.gracePeriodSeconds,
    deleteEmptyDirData: spec.deleteEmptyDirData,
    ignoreDaemonSets: spec.ignoreDaemonSets,
    evictionRetryIntervalMs: Math.max(MIN_EVICTION_RETRY_INTERVAL_MS, parseDuration(spec.evictionRetryInterval)),
    skipWaitForDeleteTimeoutMs: Math.max(0, extra.skipWaitForDeleteTimeoutMs ?? 0),
    parallelism: spec.parallelism,
    ...(extra.acceptTerminatingAtEnd ? { acceptTerminatingAtEnd: true } : {}),
  };
}

function checkEscalation(escalation: readonly Level[]): void {
  if (escalation.length === 0) throw new InvalidDrainOptionsError('drain escalation lists no level');
  escalation.forEach((level, i) => {
    const previous = escalation[i - 1];
    if (previous !== undefined && levelRank(level) <= levelRank(previous)) {
      throw new InvalidDrainOptionsError(
        `drain escalation must go from mildest to harshest (${LEVELS.join(' → ')}); got ${escalation.join(' → ')}`,
      );
    }
  });
}

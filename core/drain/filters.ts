import { type DrainOptions, type Level, reaches } from './options.js';
import { type DrainPod, isFinished, podKey } from './pod.js';

/** How a filter judged a pod, mildest first: `error` stops the drain unless escalation or an option changes it. */
export type FilterLevel = 'ok' | 'skip' | 'warning' | 'error';

/** One filter's verdict. `delete: false` ends the evaluation of that pod (later filters do not run). */
export interface FilterResult {
  readonly delete: boolean;
  readonly level: FilterLevel;
  /** Empty for `ok`; otherwise names the option or escalation level that overrides it. */
  readonly message: string;
}

/** What a filter may consult besides the pod: the options, the escalation level reached, and the time. */
export interface FilterContext {
  readonly options: DrainOptions;
  readonly level: Level;
  readonly nowMs: number;
}

/** A pure pod filter in kubectl's sense (k8s.io/kubectl/pkg/drain/filters.go). */
export type PodFilter = (pod: DrainPod, context: FilterContext) => FilterResult;

const OK: FilterResult = { delete: true, level: 'ok', message: '' };

/** Stop waiting for pods deleted longer ago than `skipWaitForDeleteTimeoutMs` (0: never skip). */
export const skipDeletedFilter: PodFilter = (pod, { options, nowMs }) => {
  const threshold = options.skipWaitForDeleteTimeoutMs;
  if (threshold <= 0 || pod.deletionTimestampMs === undefined || nowMs - pod.deletionTimestampMs <= threshold)
    return OK;
  return { delete: false, level: 'skip', message: 'deletion requested too long ago (skipWaitForDeleteTimeout)' };
};

/** DaemonSet pods are never deleted (their controller ignores the cordon); finished ones may go. */
export const daemonSetFilter: PodFilter = (pod, { options }) => {
  if (pod.controller?.kind !== 'DaemonSet' || isFinished(pod)) return OK;
  return options.ignoreDaemonSets
    ? { delete: false, level: 'warning', message: 'ignoring DaemonSet-managed Pods' }
    : {
        delete: false,
        level: 'error',
        message: 'cannot delete DaemonSet-managed Pods (set drain.ignoreDaemonSets to ignore)',
      };
};

/**
 * Hecate's own helper pods are never drained: a power-off helper is the node's power-off (a rerun finds it on a node
 * already off, where it can never end), and the others are short-lived and hold nothing.
 */
export const hecateHelperFilter: PodFilter = (pod) =>
  pod.isHecateHelper ? { delete: false, level: 'warning', message: "ignoring Hecate's own helper Pods" } : OK;

/** Mirror pods of static pods are left to the kubelet: the API server cannot delete them. */
export const mirrorPodFilter: PodFilter = (pod) =>
  pod.isMirror
    ? { delete: false, level: 'warning', message: 'ignoring mirror Pods of static Pods (the kubelet owns them)' }
    : OK;

/** Running pods with emptyDir volumes lose that data: only with `deleteEmptyDirData`. */
export const localStorageFilter: PodFilter = (pod, { options }) => {
  if (!pod.hasEmptyDir || isFinished(pod)) return OK;
  return options.deleteEmptyDirData
    ? { delete: true, level: 'warning', message: 'deleting Pods with local storage (their emptyDir data is lost)' }
    : {
        delete: false,
        level: 'error',
        message: 'cannot delete Pods with local storage (set drain.deleteEmptyDirData to override)',
      };
};

/** Running pods without a controller are not recreated anywhere: only from the `force` level on. */
export const unreplicatedFilter: PodFilter = (pod, { level }) => {
  if (pod.controller !== null || isFinished(pod)) return OK;
  return reaches(level, 'force')
    ? { delete: true, level: 'warning', message: 'deleting Pods that declare no controller (escalation level force)' }
    : {
        delete: false,
        level: 'error',
        message: 'cannot delete Pods that declare no controller (needs the force escalation level)',
      };
};

/**
 * Hecate's own helpers first, then kubectl's filters, in kubectl's order. Finished pods (Succeeded/Failed) pass every
 * filter but the helper, mirror and deleted ones, whatever the options and level: deleting them stops nothing.
 */
export const DRAIN_FILTERS: readonly PodFilter[] = [
  hecateHelperFilter,
  skipDeletedFilter,
  daemonSetFilter,
  mirrorPodFilter,
  localStorageFilter,
  unreplicatedFilter,
];

/** The combined verdict on one pod: every message up to the first filter that refused it; the harshest level. */
export interface PodVerdict {
  readonly pod: DrainPod;
  readonly delete: boolean;
  readonly level: FilterLevel;
  readonly messages: readonly string[];
}

const LEVEL_ORDER: readonly FilterLevel[] = ['ok', 'skip', 'warning', 'error'];

/** Runs `filters` in order, stopping at the first that refuses the pod (as kubectl does). */
export function evaluatePod(pod: DrainPod, context: FilterContext, filters = DRAIN_FILTERS): PodVerdict {
  let verdict: PodVerdict = { pod, delete: true, level: 'ok', messages: [] };
  for (const filter of filters) {
    const result = filter(pod, context);
    verdict = {
      pod,
      delete: result.delete,
      level: LEVEL_ORDER.indexOf(result.level) > LEVEL_ORDER.indexOf(verdict.level) ? result.level : verdict.level,
      messages: result.message ? [...verdict.messages, result.message] : verdict.messages,
    };
    if (!result.delete) break;
  }
  return verdict;
}

/**
 * The pods a drain at `level` may delete, and the per-pod warnings and errors. Every pod lands in `toDelete` or
 * not; a pod with a `warning` verdict may be in both `toDelete` and `warnings`. Input order is kept.
 */
export interface PodSelection {
  readonly toDelete: readonly DrainPod[];
  readonly skipped: readonly PodVerdict[];
  readonly warnings: readonly PodVerdict[];
  readonly errors: readonly PodVerdict[];
}

/** Applies {@link DRAIN_FILTERS} to every pod. Pure; `nowMs` only matters for `skipWaitForDeleteTimeoutMs`. */
export function selectPodsForDrain(
  pods: readonly DrainPod[],
  options: DrainOptions,
  level: Level,
  nowMs: number,
): PodSelection {
  const verdicts = pods.map((pod) => evaluatePod(pod, { options, level, nowMs }));
  return {
    toDelete: verdicts.filter((v) => v.delete).map((v) => v.pod),
    skipped: verdicts.filter((v) => v.level === 'skip'),
    warnings: verdicts.filter((v) => v.level === 'warning'),
    errors: verdicts.filter((v) => v.level === 'error'),
  };
}

/** kubectl's summary lines: one per message, naming its pods ("<message>: ns/a, ns/b"), in first-seen order. */
export function summarize(verdicts: readonly PodVerdict[]): string[] {
  const byMessage = new Map<string, string[]>();
  for (const verdict of verdicts) {
    for (const message of verdict.messages)
      byMessage.set(message, [...(byMessage.get(message) ?? []), podKey(verdict.pod)]);
  }
  return [...byMessage].map(([message, pods]) => `${message}: ${pods.join(', ')}`);
}

import { HELPER_LABELS, MANAGED_BY } from '../api/meta.js';
import type { PodLike, Toleration } from '../ports/index.js';
/** The annotation the kubelet puts on the API server's copy (the mirror) of a static pod. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

/** The grace period Kubernetes applies when a pod declares none. */
export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30;

/** The taint a cordoned node carries (effect NoSchedule): a pod that tolerates it may be scheduled there. */
export const UNSCHEDULABLE_TAINT_KEY = 'node.kubernetes.io/unschedulable';

/** The owner reference marked `controller: true`: the object that recreates the pod when it goes. */
export interface PodController {
  readonly kind: string;
  readonly name: string;
}

/**
 * What drain needs to know about one pod, and nothing else. The uid identifies this incarnation: a pod with the
 * same namespace/name and another uid is a replacement, and the original is gone.
 */
export interface DrainPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** Empty when the pod is not scheduled. */
  readonly nodeName: string;
  /** Pending | Running | Succeeded | Failed | Unknown; empty when the API server reported none. */
  readonly phase: string;
  /** Null for an unmanaged ("naked") pod: nothing recreates it. */
  readonly controller: PodController | null;
  /** A static pod's mirror: the API server cannot delete it, the kubelet owns it. */
  readonly isMirror: boolean;
  /** Any emptyDir volume (kubectl's "local storage"): its data is lost when the pod goes. */
  readonly hasEmptyDir: boolean;
  /** When deletion was requested, in ms since the epoch; absent while the pod is not terminating. */
  readonly deletionTimestampMs?: number;
  readonly terminationGracePeriodSeconds: number;
  /** The pod tolerates {@link UNSCHEDULABLE_TAINT_KEY}: the scheduler may rightly place it on a cordoned node. */
  readonly toleratesCordon: boolean;
  /** One of Hecate's own helper pods (labelled {@link HELPER_LABELS}): a power-off helper is the node's power-off. */
  readonly isHecateHelper: boolean;
}

/** A pod object that lacks what drain needs to identify it (name or uid). */
export class InvalidPodError extends Error {
  override readonly name = 'InvalidPodError';
}

/**
 * Converts a pod as the API server returns it into a {@link DrainPod}. Pure; throws {@link InvalidPodError} when the
 * name or uid is missing (an API server never omits them). The namespace defaults to "default" like the API's.
 */
export function toDrainPod(pod: PodLike): DrainPod {
  const meta = pod.metadata ?? {};
  if (!meta.name || !meta.uid)
    throw new InvalidPodError(`pod ${meta.namespace ?? ''}/${meta.name ?? ''} has no name or uid`);
  const deletionTimestampMs = toMs(meta.deletionTimestamp);
  return {
    namespace: meta.namespace || 'default',
    name: meta.name,
    uid: meta.uid,
    nodeName: pod.spec?.nodeName ?? '',
    phase: pod.status?.phase ?? '',
    controller: controllerOf(pod),
    isMirror: meta.annotations?.[MIRROR_POD_ANNOTATION] !== undefined,
    hasEmptyDir: (pod.spec?.volumes ?? []).some((v) => v.emptyDir !== undefined && v.emptyDir !== null),
    ...(deletionTimestampMs === undefined ? {} : { deletionTimestampMs }),
    terminationGracePeriodSeconds: pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS,
    toleratesCordon: (pod.spec?.tolerations ?? []).some(toleratesUnschedulable),
    isHecateHelper:
      meta.labels?.[HELPER_LABELS.managedBy] === MANAGED_BY && meta.labels[HELPER_LABELS.purpose] !== undefined,
  };
}

/** Whether one toleration matches the cordon's taint (key, empty value, effect NoSchedule), as the scheduler judges. */
function toleratesUnschedulable(toleration: Toleration): boolean {
  const { key = '', operator = 'Equal', value = '', effect = '' } = toleration;
  if (effect !== '' && effect !== 'NoSchedule') return false;
  if (key === '') return operator === 'Exists';
  if (key !== UNSCHEDULABLE_TAINT_KEY) return false;
  return operator === 'Exists' || value === '';
}

/** The controller owner, like metav1.GetControllerOf: only a reference with `controller: true` counts. */
function controllerOf(pod: PodLike): PodController | null {
  const ref = pod.metadata?.ownerReferences?.find((r) => r.controller === true);
  return ref ? { kind: ref.kind ?? '', name: ref.name ?? '' } : null;
}

function toMs(value: string | Date | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** "namespace/name", the way kubectl names pods in its messages. */
export function podKey(pod: Pick<DrainPod, 'namespace' | 'name'>): string {
  return `${pod.namespace}/${pod.name}`;
}

/** Succeeded or Failed: the containers have stopped, deleting the pod loses nothing that runs. */
export function isFinished(pod: Pick<DrainPod, 'phase'>): boolean {
  return pod.phase === 'Succeeded' || pod.phase === 'Failed';
}

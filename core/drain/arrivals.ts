import { selectPodsForDrain } from './filters.js';
import type { DrainOptions } from './options.js';
import type { DrainPod } from './pod.js';

/**
 * Controllers whose pods reach a node through the scheduler: a pod of theirs on a cordoned node that does not tolerate
 * the cordon was placed there by a scheduler that had not yet seen the cordon (unless their template names the node:
 * see {@link Arrivals}.returning). Other owners (an operator's custom resource, say) may set `spec.nodeName` themselves
 * and put a deleted pod straight back, so their pods are left alone, as kubectl leaves every pod that arrives after its
 * drain began.
 */
const SCHEDULED_CONTROLLERS: ReadonlySet<string> = new Set([
  'ReplicaSet',
  'StatefulSet',
  'Job',
  'ReplicationController',
]);

/** The pods that arrived on a node after its drain began, as {@link strayArrivals} sorts them. */
export interface Arrivals {
  /** To drain too: the first arrival of each controller, as a scheduler that had not yet seen the cordon places it. */
  readonly take: readonly DrainPod[];
  /**
   * Left alone, as kubectl leaves them: the controller already had one arrival drained from this node and put
   * another there, so it places its pods on the node itself (a `spec.nodeName` in its template); draining it again
   * would only go round until the deadline.
   */
  readonly returning: readonly DrainPod[];
}

/** The key under which {@link strayArrivals} counts a controller's arrivals: namespace, kind and name. */
export function controllerKey(pod: DrainPod): string {
  return `${pod.namespace}/${pod.controller?.kind ?? ''}/${pod.controller?.name ?? ''}`;
}

/**
 * The pods on a node being drained that arrived after the drain began and that it must take too: owned by a
 * {@link SCHEDULED_CONTROLLERS controller that places pods through the scheduler}, not tolerating the cordon, not
 * among the pods the drain already follows (`known`), and deletable at the drain's harshest level. A controller in
 * `takenFrom` (see {@link controllerKey}) has had an arrival taken already: its new ones are `returning`.
 *
 * Why: a scheduler whose view of the node is stale (it is catching up after an API server restart, or it bound the pod
 * a moment after the cordon) can bind a replacement, typically a StatefulSet pod under its old name, to a node already
 * cordoned. Left there, it keeps its volume attached and the storage quiesce that follows the drain waits in vain.
 * Pure.
 */
export function strayArrivals(
  pods: readonly DrainPod[],
  known: (pod: DrainPod) => boolean,
  takenFrom: ReadonlySet<string>,
  options: DrainOptions,
  nowMs: number,
): Arrivals {
  const last = options.escalation[options.escalation.length - 1];
  if (last === undefined) return { take: [], returning: [] };
  const candidates = pods.filter(
    (pod) =>
      !known(pod) && !pod.toleratesCordon && pod.controller !== null && SCHEDULED_CONTROLLERS.has(pod.controller.kind),
  );
  const stray = selectPodsForDrain(candidates, options, last, nowMs).toDelete;
  return {
    take: stray.filter((pod) => !takenFrom.has(controllerKey(pod))),
    returning: stray.filter((pod) => takenFrom.has(controllerKey(pod))),
  };
}

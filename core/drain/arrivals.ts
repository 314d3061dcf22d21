import { selectPodsForDrain } from './filters.js';
import type { DrainOptions } from './options.js';
import type { DrainPod } from './pod.js';

/**
 * Controllers whose pods reach a node only through the scheduler: a pod of theirs on a cordoned node that does not
 * tolerate the cordon was placed there by a scheduler that had not yet seen the cordon. Other owners (an operator's
 * custom resource, say) may set `spec.nodeName` themselves and put a deleted pod straight back, so their pods are left
 * alone, as kubectl leaves every pod that arrives after its drain began.
 */
const SCHEDULED_CONTROLLERS: ReadonlySet<string> = new Set([
  'ReplicaSet',
  'StatefulSet',
  'Job',
  'ReplicationController',
]);

/**
 * The pods on a node being drained that arrived after the drain began and that it must take too: owned by a
 * {@link SCHEDULED_CONTROLLERS controller that places pods through the scheduler}, not tolerating the cordon, not
 * among the pods the drain already follows (`known`), and deletable at the drain's harshest level.
 *
 * Why: a scheduler whose view of the node is stale (it is catching up after an API server restart, or it bound the pod
 * a moment after the cordon) can bind a replacement, typically a StatefulSet pod under its old name, to a node already
 * cordoned. Left there, it keeps its volume attached and the storage quiesce that follows the drain waits in vain.
 * Pure.
 */
export function strayArrivals(
  pods: readonly DrainPod[],
  known: (pod: DrainPod) => boolean,
  options: DrainOptions,
  nowMs: number,
): DrainPod[] {
  const last = options.escalation[options.escalation.length - 1];
  if (last === undefined) return [];
  const candidates = pods.filter(
    (pod) =>
      !known(pod) && !pod.toleratesCordon && pod.controller !== null && SCHEDULED_CONTROLLERS.has(pod.controller.kind),
  );
  return [...selectPodsForDrain(candidates, options, last, nowMs).toDelete];
}

/**
 * Readiness of the objects a chain stage waits for, as pure functions over the objects' JSON (kstatus in spirit,
 * with the messages people read on a console). The adapter fetches; this decides.
 */
import type { ChangeFeed, ObjectKey, ObservedObject, ObservedPod, Readiness, ReadinessPort } from '../ports/index.js';

/**
 * Vault's Kubernetes service registration labels its own pods `vault-sealed: "true"|"false"` (the Helm chart
 * enables it).
 */
export const VAULT_SEALED_LABEL = 'vault-sealed';

/** Set by `flux reconcile` (and Hecate's resume); Flux echoes it in `status.lastHandledReconcileAt` when done. */
const RECONCILE_REQUESTED = 'reconcile.fluxcd.io/requestedAt';

export const UNSEAL_HINT = 'vault is sealed: unseal it with `vault operator unseal`';

export function describeKey(ref: ObjectKey): string {
  return `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

/** Running pods that report Vault sealed, by name. */
export function sealedPods(pods: readonly ObservedPod[]): string[] {
  return pods
    .filter((pod) => pod.status?.phase === 'Running' && pod.metadata?.labels?.[VAULT_SEALED_LABEL] === 'true')
    .map((pod) => pod.metadata?.name ?? '?');
}

function stale(object: ObservedObject): boolean {
  const generation = object.metadata?.generation;
  const observed = object.status?.observedGeneration;
  return generation !== undefined && (observed === undefined || observed < generation);
}

const n = (value: number | undefined) => value ?? 0;

/** Deployments, StatefulSets and DaemonSets; undefined for other kinds. */
export function workloadReadiness(ref: ObjectKey, object: ObservedObject): Readiness | undefined {
  const name = describeKey(ref);
  const s = object.status ?? {};
  const desired = object.spec?.replicas ?? 1;
  let ready: boolean;
  let message: string;
  switch (ref.kind) {
    case 'Deployment': {
      const available = Math.min(n(s.availableReplicas), n(s.updatedReplicas));
      ready = n(s.availableReplicas) >= desired && n(s.updatedReplicas) >= desired;
      message = `${name} ${available}/${desired} available`;
      const stuck = s.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
      if (!ready && stuck) message += ` (${stuck.reason}: ${stuck.message ?? ''})`;
      break;
    }
    case 'StatefulSet':
      ready = n(s.readyReplicas) >= desired;
      message = `${name} ${n(s.readyReplicas)}/${desired} ready`;
      break;
    case 'DaemonSet':
      ready =
        n(s.numberReady) >= n(s.desiredNumberScheduled) && n(s.updatedNumberScheduled) >= n(s.desiredNumberScheduled);
      message = `${name} ${n(s.numberReady)}/${n(s.desiredNumberScheduled)} ready`;
      break;
    default:
      return undefined;
  }
  if (stale(object)) return { ready: false, message: `${message} (the controller has not seen the latest spec yet)` };
  return { ready, message };
}

/**
 * Objects with conditions (HelmRelease, Kustomization, most custom resources): Ready=True for the current
 * generation and, when a reconcile was requested, after Flux handled it. NOTE: a suspended Flux object is never
 * Ready: after a cold boot its Ready=True is from before the outage and says nothing about its workloads now.
 * Objects without any condition count as Ready once they exist (a ConfigMap, a Service).
 */
export function conditionReadiness(ref: ObjectKey, object: ObservedObject): Readiness {
  const name = describeKey(ref);
  if (object.spec?.suspend === true) {
    return {
      ready: false,
      message: `${name} is suspended: Flux does not reconcile it until it is resumed`,
      suspended: true,
    };
  }
  const conditions = object.status?.conditions ?? [];
  const ready = conditions.find((c) => c.type === 'Ready');
  if (!ready) {
    if (conditions.length === 0 && object.status?.observedGeneration === undefined) {
      return { ready: true, message: `${name} exists` };
    }
    return { ready: false, message: `${name} has no Ready condition yet` };
  }
  const generation = object.metadata?.generation;
  const seen = ready.observedGeneration ?? object.status?.observedGeneration;
  const current = generation === undefined || seen === undefined || seen >= generation;
  const requested = object.metadata?.annotations?.[RECONCILE_REQUESTED];
  const handled = requested === undefined || object.status?.lastHandledReconcileAt === requested;
  if (ready.status === 'True' && current && handled) return { ready: true, message: `${name} Ready` };
  if (ready.status === 'True' && current) {
    return { ready: false, message: `${name} Ready, but the reconcile requested at ${requested} is not handled yet` };
  }
  const why = [ready.reason, ready.message].filter(Boolean).join(': ');
  return {
    ready: false,
    message: `${name} ${ready.status === 'True' ? 'Ready for an older generation' : `not Ready${why ? `: ${why}` : ''}`}`,
  };
}

/** Readiness of any object; `pods` are the workload's pods, for the Vault seal signal. */
export function readinessOf(ref: ObjectKey, object: ObservedObject, pods: readonly ObservedPod[] = []): Readiness {
  const base = workloadReadiness(ref, object) ?? conditionReadiness(ref, object);
  const sealed = sealedPods(pods);
  if (sealed.length === 0) return base;
  return { ready: false, message: `${base.message}; ${sealed.join(', ')} sealed`, sealed };
}

export function notFound(ref: ObjectKey): Readiness {
  return { ready: false, message: `${describeKey(ref)} not found`, missing: true };
}

/** What a chain stage asks of the objects it waits for: are they Ready, why not, and a feed of their changes. */
export interface ReadinessCheck {
  check(ref: ObjectKey): Promise<Readiness>;
  explain?(ref: ObjectKey): Promise<string[]>;
  watch?(refs: readonly ObjectKey[]): Promise<ChangeFeed>;
}

/** The port observes; this decides ({@link readinessOf}). */
export function readinessChecker(port: ReadinessPort): ReadinessCheck {
  return {
    check: async (ref) => {
      const seen = await port.observe(ref);
      return seen ? readinessOf(ref, seen.object, seen.pods) : notFound(ref);
    },
    ...(port.explain ? { explain: port.explain.bind(port) } : {}),
    ...(port.watch ? { watch: port.watch.bind(port) } : {}),
  };
}

import type { OutageRecord, StopRecord } from '../api/index.js';

// ---------------------------------------------------------------------------------------------------------------
// Cluster ports. Each is small and named for what the engine needs, not for the Kubernetes API; adapters/kube/
// implements them on client-node. Every mutating method takes `dryRun`: true sends the request with dryRun=All, so
// admission and RBAC are exercised and nothing is persisted.

export interface MutationOptions {
  dryRun?: boolean;
  signal?: AbortSignal;
}

/** Flux Kustomizations, HelmReleases and the source Hecate watches. */
export interface FluxPort {
  list(kind: FluxObjectRef['kind']): Promise<FluxObject[]>;
  /** Sets `spec.suspend`; idempotent. */
  setSuspended(ref: FluxObjectRef, suspended: boolean, options?: MutationOptions): Promise<void>;
  /** Sets the `reconcile.fluxcd.io/requestedAt` annotation, as `flux reconcile` does. */
  requestReconcile(ref: FluxObjectRef, at: Date, options?: MutationOptions): Promise<void>;
  /** The source the plan names: Ready and the revision of its last artifact. Undefined when it does not exist. */
  source(
    kind: string,
    namespace: string,
    name: string,
  ): Promise<{ ready: boolean; revision?: string; message?: string } | undefined>;
  /** A feed of changes to every Kustomization and HelmRelease and to the named source, when the adapter can watch. */
  watch?(source: { kind: string; namespace: string; name: string }): Promise<ChangeFeed>;
}

export interface NodeView {
  name: string;
  ready: boolean;
  unschedulable: boolean;
  /** The `power.hecate.dev/cordoned-by` annotation, set when Hecate cordons a node. */
  cordonedBy?: string;
  arch?: string;
  /**
   * The kubelet's `status.nodeInfo.bootID`: a new one each time the host boots. A node seen Ready with a boot ID other
   * than the one it had when its power-off was sent went down and came back: the request was delivered.
   */
  bootId?: string;
  /**
   * When the Ready condition last changed to not True (its lastTransitionTime), for a node that is not Ready. A node
   * NotReady only since moments ago may be every node after an API server outage, until its kubelet reports again.
   */
  downSince?: string;
  /**
   * When the Ready condition last changed to True (its lastTransitionTime), for a Ready node: a node Ready since
   * before a moment has not gone down since.
   */
  readySince?: string;
}

/**
 * Wakes a wait when what it waits for may have changed (a watch event), so that it looks again at once instead of at
 * its next poll. Counts the changes seen; closed when the wait ends.
 */
export interface ChangeFeed {
  /** Changes seen since the feed opened. */
  readonly version: number;
  /** Resolves once `version` is past `since`, after `ms` at the latest (the poll as a safety net), or on abort. */
  changedSince(since: number, ms: number, signal?: AbortSignal): Promise<void>;
  close(): void;
}

export interface NodePort {
  list(): Promise<NodeView[]>;
  get(name: string): Promise<NodeView | undefined>;
  /** A feed of changes to these nodes (all nodes when empty), when the adapter can watch. */
  watch?(names: readonly string[]): Promise<ChangeFeed>;
  /** Marks the node unschedulable and annotates it as cordoned by `owner`; idempotent. */
  cordon(name: string, owner: string, options?: MutationOptions): Promise<void>;
  /** Clears unschedulable and the annotation; idempotent. */
  uncordon(name: string, options?: MutationOptions): Promise<void>;
}

/** The API server's reachability, for the startup wait. */
export interface ApiPort {
  /** Resolves when /readyz answers ok; rejects with the reason otherwise. */
  ping(signal?: AbortSignal): Promise<void>;
}

/** Identity of one pod: the uid tells a replacement with the same name apart. */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

/** Outcome of an eviction or delete request; other statuses throw (with the status as `code`). */
export type PodRequestOutcome = 'accepted' | 'too-many-requests' | 'not-found';

/** Pods, for drains. Pods are returned as plain Pod JSON (see core/drain/pod.ts `PodLike`). */
export interface PodPort {
  listOnNode(node: string): Promise<PodLike[]>;
  /** The pod now; undefined after a 404. */
  get(namespace: string, name: string): Promise<PodLike | undefined>;
  /** POST pods/eviction (policy/v1). 429 means a PodDisruptionBudget refused it now. Respects PDBs. */
  evict(pod: PodRef, gracePeriodSeconds: number | undefined, options?: MutationOptions): Promise<PodRequestOutcome>;
  /** DELETE with a uid precondition. Bypasses PodDisruptionBudgets. */
  delete(pod: PodRef, gracePeriodSeconds: number | undefined, options?: MutationOptions): Promise<PodRequestOutcome>;
  /** Resolves at the next change to the pods on `node` or after `timeoutMs`, so waits are watch-driven. */
  nextChange(node: string, timeoutMs: number, signal?: AbortSignal): Promise<void>;
}

export interface VolumeView {
  name: string;
  /** Longhorn's `status.state`: attached, detached, attaching, detaching... */
  state: string;
  node?: string;
  robustness?: string;
}

export interface StoragePort {
  volumes(namespace: string): Promise<VolumeView[]>;
}

/**
 * The outage records the cluster keeps for a plan: a shutdown run by the operator keeps its record in its PowerEvent
 * (or, once that event is deleted mid-run, in a stop record), not in the CLI's state file.
 */
export interface OutageSourcePort {
  /**
   * The newest outage of `planName` still open in the cluster and not closed by a later startup; undefined when there
   * is none. A record that cannot be read is skipped with a warning, never thrown: a bad old record must not block a
   * startup. `source` names where it was found, e.g. `PowerEvent hecate-system/shutdown`.
   */
  latestOpenOutage(planName: string): Promise<{ source: string; outage: OutageRecord } | undefined>;
}

/** Where a stopped, deleted PowerEvent is remembered once the object is gone. */
export interface StopRecords {
  /** Saves the record; resolves to where it is kept (for messages). Idempotent per PowerEvent uid. */
  save(record: StopRecord): Promise<string>;
}

// Kubernetes objects as the ports return them: plain JSON views, shaped by the adapters, judged by core/.

/** What the engine needs to know about a Flux object: identity, suspension and its dependsOn edges. */
export type FluxKind = 'Kustomization' | 'HelmRelease';

export interface FluxObjectRef {
  kind: FluxKind;
  namespace: string;
  name: string;
}

export interface FluxObject extends FluxObjectRef {
  suspended: boolean;
  /** dependsOn targets of the same kind, with the namespace already defaulted to the object's own. */
  dependsOn: { namespace: string; name: string }[];
  ready?: boolean;
}

/** A pod's toleration of a node taint, as the API returns it. */
export interface Toleration {
  readonly key?: string;
  readonly operator?: string;
  readonly value?: string;
  readonly effect?: string;
}

/**
 * The fields of a Kubernetes Pod that core/drain/pod.ts `toDrainPod` reads. Structural, so that plain JSON from the API and
 * client-node's `V1Pod` (whose timestamps are `Date`s) both fit without core importing client-node.
 */
export interface PodLike {
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly labels?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly {
      readonly kind?: string;
      readonly name?: string;
      readonly controller?: boolean;
    }[];
    readonly deletionTimestamp?: string | Date;
  };
  readonly spec?: {
    readonly nodeName?: string;
    readonly volumes?: readonly { readonly emptyDir?: unknown }[];
    readonly terminationGracePeriodSeconds?: number;
    readonly tolerations?: readonly Toleration[];
  };
  readonly status?: { readonly phase?: string };
}

/** What is known about the cluster when the plan is compiled. Everything is optional: the API may be down. */
export interface Observed {
  /** `unknown` when nobody looked (an offline dry-run). */
  api: 'reachable' | 'unreachable' | 'unknown';
  flux?: {
    sourceReady?: boolean;
    sourceRevision?: string;
    /** Kustomizations and HelmReleases, when listed. */
    objects?: FluxObject[];
  };
  /**
   * The local repo snapshot as found on disk: `revision` in Flux's format (`<branch>@sha1:<commit>`); `present`
   * false when the folder is missing or not a git clone. Undefined when nobody looked.
   */
  snapshot?: { present: boolean; revision?: string };
  /** Nodes as the API reports them; names missing from the plan are reported, not touched. */
  nodes?: Pick<NodeView, 'name' | 'ready' | 'unschedulable' | 'readySince' | 'bootId'>[];
}

/**
 * Ports the prepare executors need: the repo snapshot, the bundle on the control host, what preflight reads. Read-mostly.
 */
import type { NodeView, PodLike } from './cluster.js';

/** The local clone of the Flux source (adapters/git.ts). */
export interface SnapshotPort {
  /**
   * Clones `url` into `dir`, or fetches and checks out `branch` (default: the remote's HEAD) in an existing clone.
   * Refuses a folder that is not a clone of `url`'s repository, and a clone with local changes.
   */
  refresh(input: { url: string; branch?: string; dir: string; signal?: AbortSignal }): Promise<{
    /** Flux's format: `<branch>@sha1:<commit>`. */
    revision: string;
    cloned: boolean;
  }>;
}

/** Files on the control host (the Harbor bundle and its manifest). */
export interface BundleFilesPort {
  /** The file's text, or undefined when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /** Hex sha256 of the file's bytes, or undefined when it does not exist. */
  sha256(path: string): Promise<string | undefined>;
  /** Bytes of the file, or undefined when it does not exist. Optional: without it, a missing file is found by hashing. */
  size?(path: string): Promise<number | undefined>;
}

export interface PdbView {
  namespace: string;
  name: string;
  disruptionsAllowed: number;
  currentHealthy?: number;
  expectedPods?: number;
}

export interface StatefulSetView {
  namespace: string;
  name: string;
  replicas: number;
}

/** A Longhorn volume (`volumes.longhorn.io`) as the preflight reads it. */
export interface LonghornVolumeView {
  name: string;
  /** `status.state`: attached, detached, attaching, detaching... */
  state: string;
  /** `status.kubernetesStatus`: the claim, when Longhorn knows it. */
  pvc?: { namespace: string; name: string };
  /** `status.kubernetesStatus.workloadsStatus`, as `Kind namespace/name` (Longhorn names the pod's owner). */
  workloads: string[];
}

/** A Longhorn replica (`replicas.longhorn.io` v1beta2): where one copy of a volume's data lives. */
export interface ReplicaView {
  name: string;
  /** `spec.volumeName`. */
  volume: string;
  /** `spec.nodeID`; empty while unscheduled. */
  node: string;
  /** `spec.healthyAt`: set once the replica has been rebuilt (or created) and holds the volume's data. */
  healthyAt?: string;
  /** `spec.failedAt`: set when the replica failed; it stays set until Longhorn reuses or removes the replica. */
  failedAt?: string;
  /** `status.currentState`: running, stopped, error, starting, stopping, unknown. */
  state?: string;
  /** `metadata.deletionTimestamp` is set. */
  deleting?: boolean;
}

/**
 * Longhorn's volumes and their replicas, or why they could not be read (no Longhorn, a Longhorn without the
 * Replica CRD, no permission): the preflight then says the check was not made instead of failing.
 */
export type LonghornPlacement =
  | { readable: true; volumes: LonghornVolumeView[]; replicas: ReplicaView[] }
  | { readable: false; reason: string };

/** What the preflight report reads; one snapshot, taken read-only. */
export interface PreflightSnapshot {
  pdbs: PdbView[];
  statefulSets: StatefulSetView[];
  /** Pods on every node (DaemonSet and mirror pods included; the report filters). */
  pods: PodLike[];
  nodes: NodeView[];
  /** Present when asked for (`longhornNamespace`); absent means not read. */
  longhorn?: LonghornPlacement;
}

export interface PreflightPort {
  /** With `longhornNamespace`, also Longhorn's volumes and replicas in that namespace. */
  snapshot(options?: { longhornNamespace?: string }): Promise<PreflightSnapshot>;
}

/** Reads the repo snapshot's YAML for the analysis (adapters/repo-reader.ts `readRepo`). */
export type RepoReader = (dir: string) => Promise<RepoInput>;

// What the repo reader hands to the analysis: plain data, already read from disk.

/** One YAML document of a repo file. `line` is 1-based, where the document's content starts. */
export interface RepoDocument {
  /** Repo-relative POSIX path. */
  file: string;
  line: number;
  /** Position of the document in its file, from 0. */
  index: number;
  value: unknown;
}

/** A file that could not be read as YAML, with where the first error is (1-based line and column). */
export interface ParseProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

export interface RepoInput {
  /** How the repo is named in messages (the directory as given). */
  root: string;
  /** Every YAML file that was read (repo-relative), parsed or not. */
  files: readonly string[];
  documents: readonly RepoDocument[];
  parseErrors: readonly ParseProblem[];
  /** Directories or files left out on purpose (Helm chart templates, symlinks, oversized files), with why. */
  skipped: readonly { path: string; reason: string }[];
}

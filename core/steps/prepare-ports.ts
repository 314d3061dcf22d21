/**
 * Ports the prepare executors need beyond core/ports.ts. Small and read-mostly; to be moved into core/ports.ts.
 */
import type { PodLike } from '../drain/pod.js';
import type { NodeView } from '../ports.js';

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

/** What the preflight report reads; one snapshot, taken read-only. */
export interface PreflightSnapshot {
  pdbs: PdbView[];
  statefulSets: StatefulSetView[];
  /** Pods on every node (DaemonSet and mirror pods included; the report filters). */
  pods: PodLike[];
  nodes: NodeView[];
}

export interface PreflightPort {
  snapshot(): Promise<PreflightSnapshot>;
}

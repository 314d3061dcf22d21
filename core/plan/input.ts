import type { OutageRecord, PowerPlanSpec } from '../api/index.js';
import type { FluxObject } from '../flux/objects.js';

/** Local paths, resolved by the caller (core reads no environment). */
export interface ResolvedPaths {
  repoSnapshot: string;
  stateFile: string;
  harborBundle?: string;
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
  nodes?: { name: string; ready: boolean; unschedulable: boolean }[];
}

export interface CompileInput {
  planName: string;
  spec: PowerPlanSpec;
  execute: boolean;
  paths: ResolvedPaths;
  observed: Observed;
  /** The outage record from the progress store, when one exists. */
  outage?: OutageRecord;
  ignoreUps?: boolean;
  /** Why, from the operator (`--reason`, `spec.reason`); recorded in the outage record. */
  reason?: string;
  /**
   * The plan's node that Hecate itself runs on (the operator's node from the downward API, or the host running the
   * CLI): shutdown powers it off last, whatever its role. A name that is not one of the plan's nodes is ignored.
   */
  selfNode?: string;
}

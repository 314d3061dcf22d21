import type { OutageRecord, PowerPlanSpec } from '../api/index.js';
import type { Observed } from '../ports/index.js';

/** Local paths, resolved by the caller (core reads no environment). */
export interface ResolvedPaths {
  repoSnapshot: string;
  stateFile: string;
  harborBundle?: string;
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

import { InvalidArgumentError } from 'commander';

export type OutputFormat = 'text' | 'json' | 'yaml';

/**
 * kubectl's `--dry-run` values. `client`: the plan only (it may read the cluster). `server`: the plan, then every
 * mutating request of the plan's actions sent with dryRun=All, so RBAC and admission answer; nothing is stored.
 */
export type DryRunMode = 'client' | 'server';

/** Options shared by every mode. */
export interface CommonOptions {
  execute: boolean;
  plan?: string;
  kubeconfig?: string;
  context?: string;
  stateFile?: string;
  output: OutputFormat;
  offline: boolean;
  ignoreUps?: boolean;
  reason?: string;
  /** shutdown: go ahead although startup's prerequisites are not in place (recorded in the outage record). */
  ignoreWayBack?: boolean;
  /** shutdown: the fast path (short drain levels, no PDB wait, storage time-boxed to seconds). */
  emergency?: boolean;
  /** The plan's node this CLI runs on, powered off last (default: $HECATE_SELF_NODE, else the host name if a node). */
  selfNode?: string;
  /** Given only with `--dry-run`; absent means a client dry-run unless `--execute`. Never with `--execute`. */
  dryRun?: DryRunMode;
}

export function parseOutput(value: string): OutputFormat {
  if (value === 'text' || value === 'json' || value === 'yaml') return value;
  throw new InvalidArgumentError('expected one of: text, json, yaml');
}

export function parseDryRun(value: string): DryRunMode {
  if (value === 'client' || value === 'server') return value;
  throw new InvalidArgumentError('expected client or server (kubectl\'s "none" is --execute here)');
}

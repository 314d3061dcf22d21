import { InvalidArgumentError } from 'commander';

export type OutputFormat = 'text' | 'json' | 'yaml';

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
  /** shutdown: the fast path (short drain levels, no PDB wait, storage time-boxed to seconds). */
  emergency?: boolean;
}

export function parseOutput(value: string): OutputFormat {
  if (value === 'text' || value === 'json' || value === 'yaml') return value;
  throw new InvalidArgumentError('expected one of: text, json, yaml');
}

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
  /** Global: milliseconds one API server request may take (`--request-timeout`); 0 or absent waits as long as needed. */
  requestTimeout?: number;
}

/** The global options (kubectl's global flags), given before or after the command. */
export interface GlobalOptions {
  /** `-v` 1, `-vv` 2: what stderr shows beyond the progress lines. */
  verbose: number;
  requestTimeout?: number;
}

export function parseOutput(value: string): OutputFormat {
  if (value === 'text' || value === 'json' || value === 'yaml') return value;
  throw new InvalidArgumentError('expected one of: text, json, yaml');
}

export function parseDryRun(value: string): DryRunMode {
  if (value === 'client' || value === 'server') return value;
  throw new InvalidArgumentError('expected client or server (kubectl\'s "none" is --execute here)');
}

/** Commander's counter for `-v`: each one adds a level (`-vv`, `-v -v`). */
export function increaseVerbosity(_value: string, previous: number): number {
  return previous + 1;
}

/**
 * The environment the adapters read for `-v`: level 1 is HECATE_VERBOSE=1 (every API request an executor makes),
 * level 2 adds HECATE_DEBUG=1 (debug lines, the stack of an unexpected error). Variables already set stay set.
 */
export function verbosityEnv(
  env: Readonly<Record<string, string | undefined>>,
  level: number,
): Readonly<Record<string, string | undefined>> {
  if (level <= 0) return env;
  return { ...env, HECATE_VERBOSE: env.HECATE_VERBOSE || '1', ...(level >= 2 ? { HECATE_DEBUG: '1' } : {}) };
}

const GO_DURATION = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1e3,
  m: 6e4,
  h: 3.6e6,
};

/**
 * `--request-timeout`, read as kubectl reads it (client-go's clientcmd.ParseTimeout): an integer number of seconds,
 * or a Go duration (`1s`, `2m`, `1m30s`, `500ms`); `0` means no timeout. Returns milliseconds. A negative value
 * is refused (kubectl lets a negative duration through, which means nothing).
 */
export function parseRequestTimeout(value: string): number {
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  if (!GO_DURATION.test(value)) {
    throw new InvalidArgumentError(
      'expected an integer number of seconds, or an integer followed by a time unit, as kubectl takes it (e.g. 1s, 2m, 3h; 0 for no timeout)',
    );
  }
  let ms = 0;
  for (const [, n, unit] of value.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    ms += Number(n) * (UNIT_MS[unit as string] ?? 0);
  }
  return ms > 0 ? Math.max(1, Math.round(ms)) : 0;
}

/**
 * Where Hecate's files live on the control host, with the defaults users of the old scripts know (DESIGN.md).
 * Pure functions: the environment is an argument, so tests never read the real HOME.
 */
import { isAbsolute, join } from 'node:path';
import { DEFAULT_REPO_SNAPSHOT, harborBundleName, STATE_FILE_NAME } from '../core/api/defaults.js';

/** The environment variables these functions read; pass `process.env` at the composition root. */
export interface PathEnv {
  readonly HOME?: string | undefined;
  readonly XDG_STATE_HOME?: string | undefined;
  readonly XDG_DATA_HOME?: string | undefined;
}

/** The outage state file's name, shared with the old cluster_power_recovery.sh. */

/**
 * Expands a leading `~` or `~/` to `env.HOME`. Anything else (including `~user/...` and a `~` later in the
 * path) is returned unchanged. Throws when expansion is needed and HOME is unset or relative.
 */
export function expandHome(path: string, env: PathEnv): string {
  if (path !== '~' && !path.startsWith('~/')) return path;
  return join(home(env), path.slice(1));
}

/** `$XDG_STATE_HOME/cluster_power_recovery.state`, else `~/.local/state/cluster_power_recovery.state`. */
export function defaultStateFile(env: PathEnv): string {
  return join(xdgDir(env.XDG_STATE_HOME, '~/.local/state', env), STATE_FILE_NAME);
}

/** `${XDG_DATA_HOME:-~/.local/share}/hecate/bundles/harbor-bootstrap-<version>-<arch>.tar.zst`. */
export function defaultBundlePath(version: string, arch: string, env: PathEnv): string {
  const base = xdgDir(env.XDG_DATA_HOME, '~/.local/share', env);
  return join(base, 'hecate', 'bundles', harborBundleName(version, arch));
}

/** `~/hecate-repo`: the local clone of the Flux source used on a cold boot. */
export function defaultRepoSnapshot(env: PathEnv): string {
  return expandHome(DEFAULT_REPO_SNAPSHOT, env);
}

/**
 * An XDG base directory, or `fallback` when the variable is unset, empty or relative.
 * NOTE: the XDG Base Directory spec says relative values are invalid and must be ignored.
 */
function xdgDir(value: string | undefined, fallback: string, env: PathEnv): string {
  return value && isAbsolute(value) ? value : expandHome(fallback, env);
}

function home(env: PathEnv): string {
  const dir = env.HOME;
  if (!dir || !isAbsolute(dir)) {
    throw new Error(`Cannot expand "~": HOME is ${dir ? `not absolute ("${dir}")` : 'not set'}`);
  }
  return dir;
}

/**
 * Where Hecate keeps its files when the PowerPlan does not say, and how a PowerEvent's action maps to the mode it
 * runs: spelled once, for both front doors and the engine.
 */
import type { Action, PlanMode } from './plan.js';

/** The CLI's state file name (the script Hecate replaces used the same name). */
export const STATE_FILE_NAME = 'cluster_power_recovery.state';
/** `~/.local/state/<STATE_FILE_NAME>`; the CLI honours `$XDG_STATE_HOME` (adapters/paths.ts). */
export const DEFAULT_STATE_FILE = `~/.local/state/${STATE_FILE_NAME}`;
/** The local clone of the Flux source that a cold boot applies the bootstrap chain from. */
export const DEFAULT_REPO_SNAPSHOT = '~/hecate-repo';
/** The folder of Harbor bootstrap bundles; the CLI honours `$XDG_DATA_HOME` (adapters/paths.ts). */
export const DEFAULT_BUNDLE_DIR = '~/.local/share/hecate/bundles';

/** `harbor-bootstrap-<version>-<arch>.tar.zst`: the name `hecate bundle build` gives a bundle. */
export function harborBundleName(version: string, arch: string): string {
  return `harbor-bootstrap-${version}-${arch}.tar.zst`;
}

/** The bundle a PowerPlan's `harbor` section names: its `bundlePath`, else the default one for its version. */
export function harborBundleOf(harbor: { version: string; arch: string; bundlePath?: string | undefined }): string {
  return harbor.bundlePath ?? `${DEFAULT_BUNDLE_DIR}/${harborBundleName(harbor.version, harbor.arch)}`;
}

/** The mode each PowerEvent action runs. */
export const MODE_OF_ACTION: Readonly<Record<Action, PlanMode>> = {
  prepare: 'prepare',
  shutdown: 'shutdown',
  startup: 'startup',
  'harbor-seed': 'harbor-seed',
};

/** The action a run of each mode records (an emergency shutdown is a shutdown). */
export const ACTION_OF_MODE: Readonly<Record<PlanMode, Action>> = {
  prepare: 'prepare',
  shutdown: 'shutdown',
  'emergency-shutdown': 'shutdown',
  startup: 'startup',
  'harbor-seed': 'harbor-seed',
};

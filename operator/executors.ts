/**
 * The operator's executors: the engine's executors (core/steps/executors.ts) on the real cluster's ports
 * (adapters/cluster-ports.ts), with the paths an in-cluster run resolves. The CLI composes the same in cli/wiring.ts.
 *
 * NOTE: the operator keeps no state file; the PowerEvent's status is its progress store. The `stateFile` path is
 * shown in the plan only (the record-outage step writes through the store).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { clusterPorts } from '../adapters/cluster-ports.js';
import { expandHome, type PathEnv } from '../adapters/paths.js';
import { harborBundleOf } from '../core/api/defaults.js';
import type { PowerPlanSpec } from '../core/api/index.js';
import type { ResolvedPaths } from '../core/plan/index.js';
import type { Logger } from '../core/ports/index.js';
import { stepExecutors } from '../core/steps/executors.js';
import type { ExecutorFactory } from './reconcile/deps.js';

/** Where the plan's outage record lives for the operator, shown in the plan instead of a file. */
export const STATUS_STORE = 'PowerEvent status (the operator keeps no state file)';

/**
 * The plan's paths inside the operator's container: `~` expands against the container's HOME; a path that needs
 * HOME when none is set is kept as written (the steps that read it report it missing).
 */
export function operatorPaths(spec: PowerPlanSpec, env: PathEnv): ResolvedPaths {
  const harbor = spec.harbor;
  const bundle = harbor ? harborBundleOf(harbor) : undefined;
  return {
    repoSnapshot: expand(spec.repoSnapshot, env),
    stateFile: STATUS_STORE,
    ...(bundle ? { harborBundle: expand(bundle, env) } : {}),
  };
}

function expand(path: string, env: PathEnv): string {
  try {
    return expandHome(path, env);
  } catch {
    return path;
  }
}

/** Every executor this build has, on real adapters, for the plan's mode; closed by the reconciler after the run. */
export function operatorExecutors(
  kc: KubeConfig,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
): ExecutorFactory {
  return ({ spec, mode }) => {
    const paths = operatorPaths(spec, env);
    const world = clusterPorts({ kc, spec, repoSnapshot: paths.repoSnapshot, env, logger });
    return { ...stepExecutors(world.ports, { mode, spec, paths }), close: world.close };
  };
}

/**
 * The CLI's composition root for a run on a cluster: the engine's executors (core/steps/executors.ts) on the ports of
 * the real cluster and host (adapters/cluster-ports.ts). The operator puts the same two together in
 * operator/executors.ts.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { type ClusterPortsInput, clusterPorts } from '../adapters/cluster-ports.js';
import type { DryRunLog } from '../adapters/kube/dry-run.js';
import type { PlanMode } from '../core/api/index.js';
import type { ResolvedPaths } from '../core/plan/index.js';
import { type EngineWiring, stepExecutors } from '../core/steps/executors.js';

export interface WiringInput extends Omit<ClusterPortsInput, 'repoSnapshot' | 'kc'> {
  kc: KubeConfig;
  mode: PlanMode;
  paths: ResolvedPaths;
}

export interface ClusterWiring extends EngineWiring {
  /** Releases connections (the UPS client). */
  close(): Promise<void>;
  /** With `dryRun`: every mutating request the executors sent (all with dryRun=All) and the server's answer. */
  dryRunLog?: DryRunLog;
}

/** Every executor this build has, on the real cluster and host. */
export function clusterExecutors(input: WiringInput): ClusterWiring {
  const { mode, paths, dryRun } = input;
  const world = clusterPorts({ ...input, repoSnapshot: paths.repoSnapshot });
  const engine = stepExecutors(world.ports, { mode, spec: input.spec, paths, ...(dryRun ? { dryRun } : {}) });
  return { ...engine, ...(world.dryRunLog ? { dryRunLog: world.dryRunLog } : {}), close: world.close };
}

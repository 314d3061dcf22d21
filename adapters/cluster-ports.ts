/**
 * The engine's ports on a real cluster and host (core/steps/executors.ts `EnginePorts`): the one place where ports
 * become adapters, shared by both front doors. With `dryRun` every mutating API request goes out with dryRun=All and
 * is logged in `dryRunLog`.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { PowerPlanSpec } from '../core/api/index.js';
import type { EnginePorts, Logger } from '../core/ports/index.js';
import { imageSeedFor, KubeImagePresence } from './bundle/index.js';
import { localBundleFiles } from './bundle-files.js';
import { GitSnapshot } from './git.js';
import { KubeApplier } from './kube/apply.js';
import { DryRunLog, dryRunKubeConfig } from './kube/dry-run.js';
import { KubeFlux } from './kube/flux.js';
import { KubeNodes } from './kube/nodes.js';
import { KubeOutageSource } from './kube/outage-source.js';
import { KubePods } from './kube/pods.js';
import { KubePreflight } from './kube/preflight.js';
import { KubeKustomizations, KubeReadiness } from './kube/readiness.js';
import { KubeReadyz } from './kube/readyz.js';
import { KubeStorage } from './kube/storage.js';
import { KustomizeBuilder, manifestPort, SnapshotKustomizations } from './kustomize.js';
import { nodeAccessFor, powerControlFor } from './node-access/index.js';
import { readRepo } from './repo-reader.js';
import { systemClock } from './system.js';
import { upsSource } from './ups/sources.js';

export interface ClusterPortsInput {
  kc: KubeConfig;
  spec: PowerPlanSpec;
  /** The local clone of the Flux source (the chain's snapshot). */
  repoSnapshot: string;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  /** For transports that run kubectl (the helper-pod seed): the same cluster as `kc`. */
  kubectl?: { kubeconfig?: string; context?: string };
  /** Every mutating request with dryRun=All, logged in `dryRunLog`. */
  dryRun?: boolean;
}

export interface ClusterWorld {
  ports: EnginePorts;
  /** With `dryRun`: every mutating request sent (all with dryRun=All) and the server's answer. */
  dryRunLog?: DryRunLog;
  /** Releases connections (the UPS client). */
  close(): Promise<void>;
}

export function clusterPorts({
  kc: clusterKc,
  spec,
  repoSnapshot,
  env,
  logger,
  kubectl,
  dryRun = false,
}: ClusterPortsInput): ClusterWorld {
  const dryRunLog = dryRun ? new DryRunLog() : undefined;
  const kc = dryRunLog ? dryRunKubeConfig(clusterKc, dryRunLog) : clusterKc;
  const ups = upsSource(spec.ups, { clock: systemClock, logger });
  const kubectlBinary = env.HECATE_KUBECTL ? { kubectl: env.HECATE_KUBECTL } : {};
  return {
    ports: {
      clock: systemClock,
      api: new KubeReadyz(kc),
      nodes: new KubeNodes(kc),
      pods: new KubePods(kc),
      flux: new KubeFlux(kc),
      storage: new KubeStorage(kc),
      power: powerControlFor(spec, kc),
      nodeAccess: nodeAccessFor(spec, kc),
      snapshot: new GitSnapshot({ env }),
      readRepo,
      bundleFiles: localBundleFiles(env),
      preflight: new KubePreflight(kc),
      outageSource: new KubeOutageSource(kc, logger, env.POD_NAMESPACE || undefined),
      manifests: manifestPort(new KustomizeBuilder(kubectlBinary), new KubeApplier(kc)),
      readiness: new KubeReadiness(kc),
      kustomizations: new SnapshotKustomizations(repoSnapshot, new KubeKustomizations(kc), spec.flux.namespace),
      seed: imageSeedFor(spec, kc, { helperPod: { ...kubectl, ...kubectlBinary } }),
      imagePresence: new KubeImagePresence(kc),
      ...(ups ? { ups } : {}),
    },
    ...(dryRunLog ? { dryRunLog } : {}),
    close: async () => {
      await ups?.close();
    },
  };
}

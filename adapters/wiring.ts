import type { KubeConfig } from '@kubernetes/client-node';
import type { PlanMode, PowerPlanSpec } from '../core/api/index.js';
import { toDrainOptions } from '../core/drain/options.js';
import type { Gate } from '../core/gates/index.js';
import { type UpsVerdict, upsGate, upsPolicy } from '../core/gates/ups.js';
import { emergencySpec } from '../core/plan/emergency.js';
import { type ResolvedPaths, StepKind } from '../core/plan/index.js';
import type { Logger } from '../core/ports.js';
import type { Executors, GuardEvaluator } from '../core/run/executor.js';
import { applyChainStage } from '../core/steps/chain.js';
import { drainNode } from '../core/steps/drain.js';
import { checkFluxSource, fluxSourceNotReadyGuard, resumeFlux, suspendFlux, waitFlux } from '../core/steps/flux.js';
import { reconcileHarbor, seedHarbor } from '../core/steps/harbor.js';
import { coreExecutors } from '../core/steps/index.js';
import { uncordonNodes, waitApi, waitNodes } from '../core/steps/nodes.js';
import { powerOffNode } from '../core/steps/power.js';
import { preflight, prepullImage, recordFluxRevision, refreshSnapshot, verifyBundle } from '../core/steps/prepare.js';
import { quiesceStorage } from '../core/steps/storage.js';
import { upsGateExecutor } from '../core/steps/ups.js';
import { imageSeedFor, KubeImagePresence } from './bundle/index.js';
import { localBundleFiles } from './bundle-files.js';
import { GitSnapshot } from './git.js';
import { KubeApi } from './kube/api.js';
import { KubeApplier } from './kube/apply.js';
import { KubeFlux } from './kube/flux.js';
import { KubeNodes } from './kube/nodes.js';
import { KubePods } from './kube/pods.js';
import { KubePreflight } from './kube/preflight.js';
import { KubeKustomizations, KubeReadiness } from './kube/readiness.js';
import { KubeStorage } from './kube/storage.js';
import { KustomizeBuilder, manifestPort, SnapshotKustomizations } from './kustomize.js';
import { nodeAccessFor } from './node-access/index.js';
import { systemClock } from './system.js';
import { upsSource } from './ups/sources.js';

export interface ClusterWiring {
  executors: Executors;
  guard: GuardEvaluator;
  /** The plan's UPS gate, for watching the UPS while a run goes on; undefined when the plan has no UPS. */
  upsGate?: Gate<UpsVerdict>;
  /** Releases connections (the UPS client). */
  close(): Promise<void>;
}

export interface WiringInput {
  kc: KubeConfig;
  mode: PlanMode;
  spec: PowerPlanSpec;
  paths: ResolvedPaths;
  env: Readonly<Record<string, string | undefined>>;
  logger: Logger;
  /** For transports that run kubectl (the helper-pod seed): the same cluster as `kc`. */
  kubectl?: { kubeconfig?: string; context?: string };
}

/**
 * Every executor this build has, on real adapters: the one place where ports become adapters, shared by both
 * composition roots (cli/ and operator/). Step kinds without an executor make a run refuse before anything changes.
 */
export function clusterExecutors({
  kc,
  mode,
  spec: planSpec,
  paths,
  env,
  logger,
  kubectl,
}: WiringInput): ClusterWiring {
  // NOTE: the emergency path runs the same executors with the emergency budgets (short drain levels, no PDB wait).
  const spec = mode === 'emergency-shutdown' ? emergencySpec(planSpec) : planSpec;
  const flux = new KubeFlux(kc);
  const nodes = new KubeNodes(kc);
  const access = nodeAccessFor(spec, kc);
  const sourceNotReady = fluxSourceNotReadyGuard(flux, spec);
  const ups = upsSource(spec.ups, { clock: systemClock, logger });
  const gate = ups ? upsGate(ups, upsPolicy(spec.ups), systemClock) : undefined;
  const bundleFiles = localBundleFiles(env);
  const seed = imageSeedFor(spec, kc, {
    helperPod: { ...kubectl, ...(env.HECATE_KUBECTL ? { kubectl: env.HECATE_KUBECTL } : {}) },
  });
  return {
    executors: {
      ...coreExecutors(),
      [StepKind.PrepullImage]: prepullImage(access, spec),
      [StepKind.RefreshSnapshot]: refreshSnapshot(new GitSnapshot({ env }), paths.repoSnapshot),
      [StepKind.RecordFluxRevision]: recordFluxRevision(flux, spec),
      [StepKind.VerifyBundle]: verifyBundle(bundleFiles, spec),
      [StepKind.Preflight]: preflight(new KubePreflight(kc), spec),
      [StepKind.SuspendFlux]: suspendFlux(flux, spec),
      [StepKind.DrainNode]: drainNode(nodes, new KubePods(kc), toDrainOptions(spec.drain)),
      [StepKind.QuiesceStorage]: quiesceStorage(new KubeStorage(kc), { nodes }),
      [StepKind.PowerOffNode]: powerOffNode(access, nodes, spec),
      ...(gate ? { [StepKind.UpsGate]: upsGateExecutor(gate) } : {}),
      [StepKind.WaitApi]: waitApi(new KubeApi(kc)),
      [StepKind.WaitNodes]: waitNodes(nodes),
      [StepKind.Uncordon]: uncordonNodes(nodes),
      [StepKind.CheckFluxSource]: checkFluxSource(flux, spec),
      [StepKind.ApplyChainStage]: applyChainStage(
        manifestPort(
          new KustomizeBuilder(env.HECATE_KUBECTL ? { kubectl: env.HECATE_KUBECTL } : {}),
          new KubeApplier(kc),
        ),
        new KubeReadiness(kc),
        spec,
        { repoSnapshot: paths.repoSnapshot },
        {
          kustomizations: new SnapshotKustomizations(
            paths.repoSnapshot,
            new KubeKustomizations(kc),
            spec.flux.namespace,
          ),
          flux,
        },
      ),
      [StepKind.SeedHarbor]: seedHarbor(seed, new KubeImagePresence(kc), bundleFiles, spec),
      [StepKind.ReconcileHarbor]: reconcileHarbor(flux, spec),
      [StepKind.ResumeFlux]: resumeFlux(flux, spec),
      [StepKind.WaitFlux]: waitFlux(flux, spec),
    },
    ...(gate ? { upsGate: gate } : {}),
    guard: async (guard) => (guard === 'flux-source-not-ready' ? sourceNotReady() : true),
    close: async () => {
      await ups?.close();
    },
  };
}

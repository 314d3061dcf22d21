import type { KubeConfig } from '@kubernetes/client-node';
import type { PlanMode, PowerPlanSpec } from '../core/api/index.js';
import { toDrainOptions } from '../core/drain/options.js';
import type { Gate } from '../core/gates/index.js';
import { type UpsVerdict, upsGate, upsPolicy } from '../core/gates/ups.js';
import { emergencySpec } from '../core/plan/emergency.js';
import { type ResolvedPaths, StepKind } from '../core/plan/index.js';
import type { Logger } from '../core/ports/index.js';
import type { Executors, GuardEvaluator } from '../core/run/executor.js';
import { applyChainStage } from '../core/steps/chain.js';
import { cordonNodes } from '../core/steps/cordon.js';
import { drainNode } from '../core/steps/drain.js';
import { checkFluxSource, fluxSourceNotReadyGuard, resumeFlux, suspendFlux, waitFlux } from '../core/steps/flux.js';
import { reconcileHarbor, seedHarbor } from '../core/steps/harbor.js';
import { coreExecutors } from '../core/steps/index.js';
import { uncordonNodes, waitApi, waitNodes } from '../core/steps/nodes.js';
import { adoptOutage } from '../core/steps/outage.js';
import { powerOffNode } from '../core/steps/power.js';
import {
  checkPlanCoversRepo,
  preflight,
  prepullImage,
  recordFluxRevision,
  refreshSnapshot,
  verifyBundle,
} from '../core/steps/prepare.js';
import { quiesceStorage } from '../core/steps/storage.js';
import { upsGateExecutor } from '../core/steps/ups.js';
import { imageSeedFor, KubeImagePresence } from './bundle/index.js';
import { localBundleFiles } from './bundle-files.js';
import { GitSnapshot } from './git.js';
import { KubeApi } from './kube/api.js';
import { KubeApplier } from './kube/apply.js';
import { DryRunLog, dryRunKubeConfig } from './kube/dry-run.js';
import { KubeFlux } from './kube/flux.js';
import { KubeNodes } from './kube/nodes.js';
import { KubeOutageSource } from './kube/outage-source.js';
import { KubePods } from './kube/pods.js';
import { KubePreflight } from './kube/preflight.js';
import { KubeKustomizations, KubeReadiness } from './kube/readiness.js';
import { KubeStorage } from './kube/storage.js';
import { KustomizeBuilder, manifestPort, SnapshotKustomizations } from './kustomize.js';
import { nodeAccessFor, powerControlFor } from './node-access/index.js';
import { readRepo } from './repo-reader.js';
import { systemClock } from './system.js';
import { upsSource } from './ups/sources.js';

export interface ClusterWiring {
  executors: Executors;
  guard: GuardEvaluator;
  /** The plan's UPS gate, for watching the UPS while a run goes on; undefined when the plan has no UPS. */
  upsGate?: Gate<UpsVerdict>;
  /** Releases connections (the UPS client). */
  close(): Promise<void>;
  /** With `dryRun`: every mutating request the executors sent (all with dryRun=All) and the server's answer. */
  dryRunLog?: DryRunLog;
}

/**
 * The step kinds a server-side dry run runs (`WiringInput.dryRun`): those that send mutating API requests, each of
 * which then goes out with dryRun=All. Every other kind only reads, waits, or works outside the API server (the
 * state file, git, the bundle stream): a dry run has no executor for it.
 */
export const SERVER_DRY_RUN_KINDS: readonly string[] = [
  StepKind.PrepullImage,
  StepKind.SuspendFlux,
  StepKind.CordonNodes,
  StepKind.DrainNode,
  StepKind.PowerOffNode,
  // Only reads, into the dry run's in-memory record: the uncordons and Flux resumes after it then probe what the
  // operator's shutdown recorded, as a real startup would.
  StepKind.AdoptOutage,
  StepKind.Uncordon,
  StepKind.ApplyChainStage,
  StepKind.ReconcileHarbor,
  StepKind.ResumeFlux,
];

function onlyServerDryRun(dryRun: boolean, executors: Executors): Executors {
  if (!dryRun) return executors;
  return Object.fromEntries(Object.entries(executors).filter(([kind]) => SERVER_DRY_RUN_KINDS.includes(kind)));
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
  /**
   * Server-side dry run: only the executors of {@link SERVER_DRY_RUN_KINDS}, in their dry-run mode (nothing recorded
   * as done, nothing waited for), on a transport that sends EVERY mutating request with dryRun=All and logs it in
   * `dryRunLog`. Run them without a persisting progress store.
   */
  dryRun?: boolean;
}

/**
 * Every executor this build has, on real adapters: the one place where ports become adapters, shared by both
 * composition roots (cli/ and operator/). Step kinds without an executor make a run refuse before anything changes.
 */
export function clusterExecutors({
  kc: clusterKc,
  mode,
  spec: planSpec,
  paths,
  env,
  logger,
  kubectl,
  dryRun = false,
}: WiringInput): ClusterWiring {
  // NOTE: the emergency path runs the same executors with the emergency budgets (short drain levels, no PDB wait).
  const spec = mode === 'emergency-shutdown' ? emergencySpec(planSpec) : planSpec;
  const dryRunLog = dryRun ? new DryRunLog() : undefined;
  const kc = dryRunLog ? dryRunKubeConfig(clusterKc, dryRunLog) : clusterKc;
  const flux = new KubeFlux(kc);
  const nodes = new KubeNodes(kc);
  const access = nodeAccessFor(spec, kc);
  const power = powerControlFor(spec, kc);
  const sourceNotReady = fluxSourceNotReadyGuard(flux, spec);
  const ups = upsSource(spec.ups, { clock: systemClock, logger });
  const gate = ups ? upsGate(ups, upsPolicy(spec.ups), systemClock) : undefined;
  const bundleFiles = localBundleFiles(env);
  const seed = imageSeedFor(spec, kc, {
    helperPod: { ...kubectl, ...(env.HECATE_KUBECTL ? { kubectl: env.HECATE_KUBECTL } : {}) },
  });
  return {
    executors: onlyServerDryRun(dryRun, {
      ...coreExecutors(),
      [StepKind.PrepullImage]: prepullImage(access, spec, { dryRun }),
      [StepKind.RefreshSnapshot]: refreshSnapshot(new GitSnapshot({ env }), paths.repoSnapshot),
      [StepKind.RecordFluxRevision]: recordFluxRevision(flux, spec),
      [StepKind.CheckPlanCoversRepo]: checkPlanCoversRepo(readRepo, spec, paths.repoSnapshot),
      [StepKind.VerifyBundle]: verifyBundle(bundleFiles, spec),
      [StepKind.Preflight]: preflight(new KubePreflight(kc), spec),
      [StepKind.SuspendFlux]: suspendFlux(flux, spec, dryRun),
      [StepKind.CordonNodes]: cordonNodes(nodes, { dryRun }),
      [StepKind.DrainNode]: drainNode(
        nodes,
        new KubePods(kc),
        toDrainOptions(spec.drain, {
          // The emergency powers off a node whose pods accepted their deletion but outlast the short last level.
          acceptTerminatingAtEnd: mode === 'emergency-shutdown',
        }),
        { dryRun },
      ),
      [StepKind.QuiesceStorage]: quiesceStorage(new KubeStorage(kc), { nodes, dryRun }),
      [StepKind.PowerOffNode]: powerOffNode(power, nodes, spec, { dryRun }),
      ...(gate ? { [StepKind.UpsGate]: upsGateExecutor(gate) } : {}),
      [StepKind.WaitApi]: waitApi(new KubeApi(kc)),
      [StepKind.AdoptOutage]: adoptOutage(new KubeOutageSource(kc, logger, env.POD_NAMESPACE || undefined)),
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
          dryRun,
        },
      ),
      [StepKind.SeedHarbor]: seedHarbor(seed, new KubeImagePresence(kc), bundleFiles, spec, { dryRun }),
      [StepKind.ReconcileHarbor]: reconcileHarbor(flux, spec, { dryRun }),
      [StepKind.ResumeFlux]: resumeFlux(flux, spec),
      [StepKind.WaitFlux]: waitFlux(flux, spec),
    }),
    ...(gate ? { upsGate: gate } : {}),
    ...(dryRunLog ? { dryRunLog } : {}),
    guard: async (guard) => (guard === 'flux-source-not-ready' ? sourceNotReady() : true),
    close: async () => {
      await ups?.close();
    },
  };
}

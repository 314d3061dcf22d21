/**
 * Every executor this build has, built from ports: the one place where step kinds meet the executors that run them,
 * for both front doors. The ports come from adapters/cluster-ports.ts (or a test's fakes); the front doors put the two
 * together. Step kinds without an executor make a run refuse before anything changes.
 */
import type { PlanMode, PowerPlanSpec } from '../api/index.js';
import { toDrainOptions } from '../drain/options.js';
import type { Gate } from '../gates/index.js';
import { type UpsVerdict, upsGate, upsPolicy } from '../gates/ups.js';
import { emergencySpec } from '../plan/emergency.js';
import { type ResolvedPaths, StepKind } from '../plan/index.js';
import type { EnginePorts } from '../ports/index.js';
import type { Executors, GuardEvaluator } from '../run/executor.js';
import { applyChainStage } from './chain.js';
import { chainManifests } from './chain-substitute.js';
import { cordonNodes } from './cordon.js';
import { drainNode } from './drain.js';
import { checkFluxSource, fluxSourceNotReadyGuard, resumeFlux, suspendFlux, waitFlux } from './flux.js';
import { reconcileHarbor, seedHarbor } from './harbor.js';
import { coreExecutors } from './index.js';
import { uncordonNodes, waitApi, waitNodes } from './nodes.js';
import { adoptOutage } from './outage.js';
import { powerOffNode } from './power.js';
import {
  checkPlanCoversRepo,
  preflight,
  prepullImage,
  recordFluxRevision,
  refreshSnapshot,
  verifyBundle,
} from './prepare.js';
import { readinessChecker } from './readiness.js';
import { quiesceStorage } from './storage.js';
import { upsGateExecutor } from './ups.js';

export interface EngineInput {
  mode: PlanMode;
  spec: PowerPlanSpec;
  paths: ResolvedPaths;
  /** Server-side dry run: only {@link SERVER_DRY_RUN_KINDS}, in their dry-run mode (nothing recorded, nothing waited). */
  dryRun?: boolean;
}

export interface EngineWiring {
  executors: Executors;
  guard: GuardEvaluator;
  /** The plan's UPS gate, for watching the UPS while a run goes on; undefined when the plan has no UPS. */
  upsGate?: Gate<UpsVerdict>;
}

/**
 * The step kinds a server-side dry run runs: those that send mutating API requests, each of which then goes out
 * with dryRun=All. Every other kind only reads, waits, or works outside the API server (the state file, git, the
 * bundle stream): a dry run has no executor for it.
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

/** The executors of every step kind on `ports`. The emergency runs them with the emergency budgets. */
export function stepExecutors(
  ports: EnginePorts,
  { mode, spec: planSpec, paths, dryRun = false }: EngineInput,
): EngineWiring {
  // NOTE: the emergency path runs the same executors with the emergency budgets (short drain levels, no PDB wait).
  const spec = mode === 'emergency-shutdown' ? emergencySpec(planSpec) : planSpec;
  const { nodes, flux } = ports;
  const sourceNotReady = fluxSourceNotReadyGuard(flux, spec);
  const gate = ports.ups ? upsGate(ports.ups, upsPolicy(spec.ups), ports.clock) : undefined;
  return {
    executors: onlyServerDryRun(dryRun, {
      ...coreExecutors(),
      [StepKind.PrepullImage]: prepullImage(ports.nodeAccess, spec, { dryRun }),
      [StepKind.RefreshSnapshot]: refreshSnapshot(ports.snapshot, paths.repoSnapshot),
      [StepKind.RecordFluxRevision]: recordFluxRevision(flux, spec),
      [StepKind.CheckPlanCoversRepo]: checkPlanCoversRepo(ports.readRepo, spec, paths.repoSnapshot),
      [StepKind.VerifyBundle]: verifyBundle(ports.bundleFiles, spec),
      [StepKind.Preflight]: preflight(ports.preflight, spec),
      [StepKind.SuspendFlux]: suspendFlux(flux, spec, dryRun),
      [StepKind.CordonNodes]: cordonNodes(nodes, { dryRun }),
      [StepKind.DrainNode]: drainNode(
        nodes,
        ports.pods,
        toDrainOptions(spec.drain, {
          // The emergency powers off a node whose pods accepted their deletion but outlast the short last level.
          acceptTerminatingAtEnd: mode === 'emergency-shutdown',
        }),
        { dryRun },
      ),
      [StepKind.QuiesceStorage]: quiesceStorage(ports.storage, { nodes, dryRun }),
      [StepKind.PowerOffNode]: powerOffNode(ports.power, nodes, spec, { dryRun }),
      ...(gate ? { [StepKind.UpsGate]: upsGateExecutor(gate) } : {}),
      [StepKind.WaitApi]: waitApi(ports.api),
      [StepKind.AdoptOutage]: adoptOutage(ports.outageSource),
      [StepKind.WaitNodes]: waitNodes(nodes),
      [StepKind.Uncordon]: uncordonNodes(nodes),
      [StepKind.CheckFluxSource]: checkFluxSource(flux, spec),
      [StepKind.ApplyChainStage]: applyChainStage(
        chainManifests(ports.manifests),
        readinessChecker(ports.readiness),
        spec,
        { repoSnapshot: paths.repoSnapshot },
        { kustomizations: ports.kustomizations, flux, dryRun },
      ),
      [StepKind.SeedHarbor]: seedHarbor(ports.seed, ports.imagePresence, ports.bundleFiles, spec, { dryRun }),
      [StepKind.ReconcileHarbor]: reconcileHarbor(flux, spec, { dryRun }),
      [StepKind.ResumeFlux]: resumeFlux(flux, spec),
      [StepKind.WaitFlux]: waitFlux(flux, spec),
    }),
    ...(gate ? { upsGate: gate } : {}),
    guard: async (guard) => (guard === 'flux-source-not-ready' ? sourceNotReady() : true),
  };
}

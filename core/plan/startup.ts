import { parseDuration } from '../api/meta.js';
import type { PlanStep, StepGuard } from '../api/plan.js';
import type { ChainStage } from '../api/powerplan.js';
import { fluxResumeSteps } from './flux-steps.js';
import { harborSteps } from './harbor.js';
import type { CompileInput } from './input.js';
import { Stage, StepKind } from './stages.js';
import { seconds, step } from './step.js';

function upsGateStep(input: CompileInput): PlanStep[] {
  const { ups } = input.spec;
  if (ups.source === 'none') return [];
  const override = input.ignoreUps ? ['overridden by --ignore-ups: the override is recorded in the state file'] : [];
  return [
    step({
      id: 'power-gate/ups',
      stage: Stage.PowerGate,
      kind: StepKind.UpsGate,
      title: `Check the UPS: charge at least ${ups.minStartupCharge}%, not on battery below ${ups.emergencyCharge}%`,
      targets: [ups.nut ? `${ups.nut.ups}@${ups.nut.host}:${ups.nut.port}` : ups.source],
      why: 'A startup that drains the last of the battery loses data; inside an outage window, on battery and low, Hecate runs the emergency shutdown instead',
      blockers: [`charge below ${ups.minStartupCharge}% refuses startup (exit code 3)`, ...override],
      params: { ignoreUps: String(input.ignoreUps === true) },
    }),
  ];
}

/**
 * The outage record as the plan can show it: only an open one names what startup will restore. A closed or missing
 * record leaves the step to adopt the cluster's (`outage/adopt`), so its lists are not known when compiling.
 */
function openOutage(input: CompileInput): CompileInput {
  if (input.outage?.inOutage) return input;
  const { outage: _closed, ...rest } = input;
  return rest;
}

function adoptOutageStep(input: CompileInput): PlanStep {
  const open = input.outage?.inOutage === true;
  return step({
    id: 'outage/adopt',
    stage: Stage.Outage,
    kind: StepKind.AdoptOutage,
    title: "Adopt the cluster's outage record when this run has none open",
    targets: open
      ? ['(this run has an open outage record: nothing to adopt)']
      : [`the newest open outage of PowerPlan ${input.planName}: shutdown PowerEvents, stop records`],
    why: "A shutdown run by the operator keeps its outage record in its PowerEvent, not in this machine's state file; startup adopts it before anything acts, so that it undoes what that shutdown did",
    blockers: ['an outage closed by a later startup is not adopted; an unreadable record is skipped with a warning'],
  });
}

function apiAndNodeSteps(input: CompileInput): PlanStep[] {
  const { startup } = input.spec;
  const quorum = Math.ceil(startup.nodeReadyQuorum * input.spec.nodes.length);
  const cordoned = openOutage(input).outage?.cordonedByHecate;
  return [
    step({
      id: 'api/wait',
      stage: Stage.Api,
      kind: StepKind.WaitApi,
      title: `Wait for the Kubernetes API (up to ${startup.apiTimeout}, with backoff)`,
      targets: ["the kubeconfig's current context"],
      why: 'Nothing else can start before the control plane answers; a dry-run never waits',
      timeoutSeconds: seconds(parseDuration(startup.apiTimeout)),
    }),
    adoptOutageStep(input),
    step({
      id: 'nodes/quorum',
      stage: Stage.Nodes,
      kind: StepKind.WaitNodes,
      title: `Wait until ${quorum} of ${input.spec.nodes.length} nodes are Ready`,
      targets: input.spec.nodes.map((n) => n.name),
      why: 'Uncordoning before a quorum is up would put every pod on the first node that boots',
      timeoutSeconds: seconds(parseDuration(startup.nodesReadyTimeout)),
      params: { quorum: String(quorum) },
    }),
    step({
      id: 'nodes/uncordon',
      stage: Stage.Nodes,
      kind: StepKind.Uncordon,
      title: 'Uncordon the nodes Hecate cordoned',
      targets: cordoned ? (cordoned.length > 0 ? cordoned : ['(none recorded)']) : ['the nodes in the outage record'],
      why: 'Nodes cordoned by someone else stay cordoned',
    }),
  ];
}

function revisionNote(input: CompileInput): string {
  const revision = input.outage?.fluxRevision;
  return revision ? `at revision ${revision} (recorded by prepare)` : 'as it is (prepare recorded no revision)';
}

function chainStep(input: CompileInput, stage: ChainStage, when: StepGuard, previous?: string): PlanStep {
  const waits = stage.waitFor.map((w) => `${w.kind} ${w.namespace ? `${w.namespace}/` : ''}${w.name}`);
  const ks = stage.kustomization;
  return step({
    id: `chain/${stage.name}`,
    stage: Stage.Chain,
    kind: StepKind.ApplyChainStage,
    title: `Apply ${stage.name} from ${input.paths.repoSnapshot}/${stage.path}`,
    targets: waits.length > 0 ? waits : [`the objects built from ${stage.path}`],
    why: `${previous ? `Needs ${previous} Ready first` : 'The first stage'}; applied from the snapshot ${revisionNote(input)}`,
    blockers: [
      `times out after ${stage.timeout}`,
      ...(ks
        ? [
            `uses the postBuild substitutions and health checks of Kustomization ${ks.namespace ?? input.spec.flux.namespace}/${ks.name}`,
          ]
        : []),
    ],
    when,
    timeoutSeconds: seconds(parseDuration(stage.timeout)),
    params: { name: stage.name, path: stage.path, ...(ks ? { kustomization: ks.name } : {}) },
  });
}

/** The local bootstrap chain, in the plan's order. Guarded when the Flux source's readiness is not yet known. */
function chainSteps(input: CompileInput): PlanStep[] {
  const { flux } = input.spec;
  const sourceReady = input.observed.flux?.sourceReady;
  const check = step({
    id: 'flux-source/check',
    stage: Stage.FluxSource,
    kind: StepKind.CheckFluxSource,
    title: `Check whether ${flux.source.kind} ${flux.namespace}/${flux.source.name} is Ready`,
    targets: [flux.source.url ?? `${flux.source.kind} ${flux.namespace}/${flux.source.name}`],
    why:
      sourceReady === undefined
        ? 'If it is Ready, Flux can fetch and the local bootstrap chain is skipped. If not, the Git server is down and Flux cannot fetch: the chain below is applied from the repo snapshot (server-side apply, field manager hecate, CRDs and namespaces first), each stage waited to Ready'
        : sourceReady
          ? 'It is Ready: Flux can fetch, so the local bootstrap chain is not needed'
          : 'It is not Ready: the Git server is down and Flux cannot fetch, so the chain below is applied from the repo snapshot (server-side apply, field manager hecate, CRDs and namespaces first), each stage waited to Ready',
  });
  if (sourceReady === true) return [check];
  const when: StepGuard = sourceReady === false ? 'always' : 'flux-source-not-ready';
  const chain = input.spec.bootstrapChain;
  return [check, ...chain.map((stage, i) => chainStep(input, stage, when, chain[i - 1]?.name))];
}

function closeOutageStep(input: CompileInput): PlanStep {
  return step({
    id: 'outage/close',
    stage: Stage.Outage,
    kind: StepKind.CloseOutage,
    title: 'Close the outage record',
    targets: [input.paths.stateFile],
    why: 'The next startup must not think it runs inside this outage',
  });
}

/** startup: gate, API, adopt the cluster's outage record, nodes, Flux source (→ local chain), Harbor, resume Flux, close the outage. */
export function compileStartup(input: CompileInput): PlanStep[] {
  return [
    ...upsGateStep(input),
    ...apiAndNodeSteps(input),
    ...chainSteps(input),
    ...harborSteps(input, true),
    ...fluxResumeSteps(openOutage(input)),
    closeOutageStep(input),
  ];
}

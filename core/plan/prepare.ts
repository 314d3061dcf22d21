import type { PlanStep } from '../api/plan.js';
import { verifyBundleStep } from './harbor.js';
import type { CompileInput } from './input.js';
import { Stage, StepKind } from './stages.js';
import { step } from './step.js';

/** prepare: everything a later startup needs from before the outage. Changes nothing in the cluster's workloads. */
export function compilePrepare(input: CompileInput): PlanStep[] {
  const { flux, nodes, helperImage } = input.spec;
  const source = `${flux.source.kind} ${flux.namespace}/${flux.source.name}`;
  return [
    step({
      id: 'prepull/helper-image',
      stage: Stage.Prepull,
      kind: StepKind.PrepullImage,
      title: `Pre-pull ${helperImage} on every node`,
      targets: nodes.map((n) => n.name),
      why: 'Shutdown and startup run helper pods on nodes; their image must not need a registry that is down',
      blockers: ['a node that cannot pull is reported, not fatal'],
      params: { image: helperImage },
    }),
    step({
      id: 'snapshot/refresh',
      stage: Stage.Snapshot,
      kind: StepKind.RefreshSnapshot,
      title: `Refresh the repo snapshot ${input.paths.repoSnapshot}`,
      targets: [flux.source.url ?? source],
      why: 'After a cold boot the Git server is down: the bootstrap chain is applied from this local copy',
      blockers: ['the Git server must be reachable now'],
      params: { url: flux.source.url ?? '', branch: flux.source.branch ?? '' },
    }),
    step({
      id: 'snapshot/revision',
      stage: Stage.Snapshot,
      kind: StepKind.RecordFluxRevision,
      title: `Record the revision Flux last applied (${source} status.artifact.revision)`,
      targets: [input.paths.stateFile],
      why: 'A fallback applies what Flux had applied, not whatever is newest in Git',
    }),
    step({
      id: 'snapshot/covers',
      stage: Stage.Snapshot,
      kind: StepKind.CheckPlanCoversRepo,
      title: "Check that the plan's bootstrap chain still covers the repo (hecate analyze on the snapshot)",
      targets: [input.paths.repoSnapshot],
      why: 'A repo change the chain does not follow (a new dependency of the Git server, a moved path, a registry that pulls from itself) breaks the next cold boot',
      blockers: ['what it finds is a warning to act on before the outage; prepare does not fail on it'],
    }),
    ...verifyBundleStep(input),
    step({
      id: 'preflight/report',
      stage: Stage.Preflight,
      kind: StepKind.Preflight,
      title: 'Report what would block a shutdown',
      targets: ['PodDisruptionBudgets, StatefulSets, pods, Longhorn volumes, nodes'],
      why: 'PDBs allowing no disruption, single-replica StatefulSets, pods without a controller or with emptyDir data, volumes whose only healthy replica is on a worker, nodes cordoned by someone else',
    }),
  ];
}

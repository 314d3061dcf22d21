import type { PlanMode, PlanStep, RenderedPlan } from '../api/plan.js';
import { compileEmergencyShutdownTuned } from './emergency.js';
import { compileHarborSeed } from './harbor.js';
import type { CompileInput } from './input.js';
import { compilePrepare } from './prepare.js';
import { compileShutdown, quorumNotes } from './shutdown.js';
import { compileStartup } from './startup.js';
import { commitOf } from './way-back.js';

export type { Observed } from '../ports/index.js';
export type { CompileInput, ResolvedPaths } from './input.js';
export { STAGE_CONDITION, Stage, StepKind } from './stages.js';

const COMPILERS = {
  prepare: compilePrepare,
  shutdown: compileShutdown,
  'emergency-shutdown': compileEmergencyShutdownTuned,
  startup: compileStartup,
  'harbor-seed': compileHarborSeed,
} satisfies Record<PlanMode, (input: CompileInput) => unknown>;

/** Notes about the inputs: what the plan could not know, and what looks wrong. */
function notes(mode: PlanMode, input: CompileInput, steps: readonly PlanStep[]): string[] {
  const out: string[] = [];
  if (input.observed.api !== 'reachable') {
    out.push('The cluster was not consulted: targets marked "at run time" are listed when the step runs');
  }
  if (mode === 'startup' && !input.outage?.inOutage) {
    out.push('No outage is recorded in the state file: nothing is known to be suspended or cordoned by Hecate');
  }
  if (mode === 'startup' && !input.outage?.fluxRevision) {
    out.push('prepare has not recorded the Flux revision: a fallback applies the snapshot as it is');
  }
  if (mode === 'startup') out.push(...snapshotWarnings(input));
  if (mode === 'shutdown' || mode === 'emergency-shutdown') out.push(...quorumNotes(input, steps));
  if ((mode === 'harbor-seed' || mode === 'prepare') && !input.spec.harbor) {
    out.push('The plan has no harbor section: no bundle to check or seed');
  }
  return out;
}

/**
 * A fallback applies the snapshot as it is on disk: warn when that is not what Flux last applied (the revision
 * prepare recorded), or when there is no snapshot at all. `--execute` proceeds anyway.
 */
function snapshotWarnings(input: CompileInput): string[] {
  const snapshot = input.observed.snapshot;
  const recorded = input.outage?.fluxRevision;
  const dir = input.paths.repoSnapshot;
  if (!snapshot) return [];
  if (!snapshot.present && input.outage?.inOutage) {
    return [
      `WARNING: no repo snapshot at ${dir}: a fallback through the bootstrap chain cannot run (run hecate prepare)`,
    ];
  }
  if (!recorded || !snapshot.present || !snapshot.revision || commitOf(snapshot.revision) === commitOf(recorded))
    return [];
  return [
    `WARNING: the repo snapshot ${dir} is at ${snapshot.revision}, but prepare recorded ${recorded} as what Flux last applied: a fallback would apply the snapshot's revision. To apply what Flux had, run \`git -C ${dir} checkout ${commitOf(recorded)}\`; to proceed with the snapshot as it is, run with --execute anyway`,
  ];
}

/** Compiles a mode into a plan: pure, plain data, the same for the dry-run, the runner and PowerEvent status. */
export function compilePlan(mode: PlanMode, input: CompileInput): RenderedPlan {
  const steps = COMPILERS[mode](input);
  return { mode, planName: input.planName, execute: input.execute, steps, notes: notes(mode, input, steps) };
}

import { parseDuration } from '../api/meta.js';
import type { PlanStep } from '../api/plan.js';
import type { PowerPlanSpec } from '../api/powerplan.js';
import { fluxSuspendSteps } from './flux-steps.js';
import type { CompileInput } from './input.js';
import { drainSteps, POWER_OFF_WORKERS, powerOffSteps, recordOutageStep, selfNodeOf, storageStep } from './shutdown.js';
import { nodesInOrder } from './step.js';

/**
 * The emergency budgets: a second outage on battery leaves minutes, not the graceful path's tens of minutes.
 * - Drains: every worker at once; evict for `drainLevelSeconds` (PDBs get that long), then straight to
 *   `disable-eviction` (plain deletes, the only level that bypasses a PDB). `force` is skipped: it only adds the
 *   deletion of unmanaged pods, which `disable-eviction` does as well.
 * - Storage: volumes get `storageDetachSeconds` to detach, then the shutdown goes on (time-boxed, reported).
 * - Power-off: every worker at once, then the control plane in order, the node Hecate runs on last (alone, even
 *   when it is a worker); not waited for (see core/steps/power.ts); each node's step is bounded by
 *   `powerOffSeconds`. Drain levels never exceed the plan's own.
 */
export const EMERGENCY = {
  drainLevelSeconds: 15,
  storageDetachSeconds: 20,
  powerOffSeconds: 60,
  maxParallelDrains: 64,
} as const;

/** The plan's spec with the emergency budgets applied. Pure. */
export function emergencySpec(spec: PowerPlanSpec): PowerPlanSpec {
  const workers = nodesInOrder(spec.nodes, 'worker').length;
  const bypass = spec.drain.escalation.includes('disable-eviction');
  return {
    ...spec,
    drain: {
      ...spec.drain,
      // The emergency never waits longer than the plan itself would at one level.
      timeout: `${Math.min(EMERGENCY.drainLevelSeconds, Math.ceil(parseDuration(spec.drain.timeout) / 1000))}s`,
      // NOTE: a plan that forbids bypassing PDBs keeps its levels (only shorter): the emergency does not override it.
      escalation: bypass ? ['evict', 'disable-eviction'] : spec.drain.escalation,
      parallelism: Math.max(1, Math.min(workers, EMERGENCY.maxParallelDrains)),
    },
    storage: { ...spec.storage, detachTimeout: `${EMERGENCY.storageDetachSeconds}s` },
  };
}

/**
 * emergency-shutdown: the shutdown plan with the emergency budgets — record, suspend Flux, drain all workers at
 * once with a short escalation, a time-boxed storage wait, then power off in the same order without waiting.
 */
export function compileEmergencyShutdownTuned(input: CompileInput): PlanStep[] {
  const tuned = { ...input, spec: emergencySpec(input.spec) };
  const self = selfNodeOf(input);
  const workers = Math.max(1, nodesInOrder(input.spec.nodes, 'worker').filter((n) => n.name !== self).length);
  return [
    recordOutageStep(tuned, 'emergency shutdown'),
    ...fluxSuspendSteps(tuned, true),
    ...drainSteps(tuned),
    ...storageStep(tuned),
    ...powerOffSteps(tuned, true).map((s) => ({
      ...s,
      timeoutSeconds: EMERGENCY.powerOffSeconds,
      // Every worker at once, whatever powerOff.parallelism says; the control plane still one node at a time.
      params: s.params.group === POWER_OFF_WORKERS ? { ...s.params, parallelism: String(workers) } : s.params,
    })),
  ];
}

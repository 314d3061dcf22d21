/**
 * Pure helpers for metav1.Condition lists in the kstatus convention: `Ready` is always
 * present, `Reconciling` and `Stalled` appear only while true and never together, and every condition carries
 * `observedGeneration`. Time is an input.
 */
import { type Condition, ConditionType } from '../api/conditions.js';

/** A condition as a reconciler decides it; the helpers add `lastTransitionTime` and `observedGeneration`. */
export interface ConditionInput {
  type: string;
  status: Condition['status'];
  reason: string;
  message: string;
}

/** The abnormal-true kstatus conditions: present only while True. */
export const TRANSIENT_CONDITIONS: readonly string[] = [ConditionType.Reconciling, ConditionType.Stalled];

/** Finds a condition by type. */
export function getCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/**
 * Sets one condition, keeping `lastTransitionTime` when the status did not change (as apimachinery's
 * meta.SetStatusCondition does). Returns a new list; the input is not modified. Order of existing types is kept.
 */
export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  now: Date,
  generation: number | undefined,
): Condition[] {
  const previous = getCondition(conditions, input.type);
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: truncate(input.message),
    lastTransitionTime: previous && previous.status === input.status ? previous.lastTransitionTime : now.toISOString(),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (!previous) return [...conditions, next];
  return conditions.map((c) => (c.type === input.type ? next : c));
}

/** Removes a condition; returns a new list. */
export function removeCondition(conditions: readonly Condition[], type: string): Condition[] {
  return conditions.filter((c) => c.type !== type);
}

/**
 * Sets `Ready` and the kstatus pair in one step, so the invariants cannot be broken half-way: `reconciling` and
 * `stalled` are mutually exclusive (stalled wins), and each is removed when not given.
 */
export function setKstatus(
  conditions: readonly Condition[],
  state: { ready: ConditionInput; reconciling?: ConditionInput; stalled?: ConditionInput },
  now: Date,
  generation: number | undefined,
): Condition[] {
  let out = setCondition(conditions, { ...state.ready, type: ConditionType.Ready }, now, generation);
  out = removeCondition(out, ConditionType.Reconciling);
  out = removeCondition(out, ConditionType.Stalled);
  if (state.stalled) {
    out = setCondition(out, { ...state.stalled, type: ConditionType.Stalled, status: 'True' }, now, generation);
  } else if (state.reconciling) {
    out = setCondition(out, { ...state.reconciling, type: ConditionType.Reconciling, status: 'True' }, now, generation);
  }
  return out;
}

/** The status fields the invariants look at; PowerEvent and PowerPlan status both fit. */
export interface KstatusLike {
  observedGeneration?: number | undefined;
  conditions?: readonly Condition[] | undefined;
}

/**
 * Every kstatus invariant `status` breaks, as readable sentences (empty when it is fine). Used by the tests after
 * every status write the operator makes, and cheap enough to assert in the reconciler too.
 *
 * - `Ready` is present, once.
 * - `Reconciling` and `Stalled` are present only while True, and never both.
 * - No condition type appears twice.
 * - Every condition has `observedGeneration`, no newer than `generation` (when given).
 * - The root `observedGeneration` is no newer than `generation`, and is set only when nothing is Reconciling.
 */
export function checkKstatusInvariants(status: KstatusLike | undefined, generation?: number): string[] {
  const problems: string[] = [];
  const conditions = status?.conditions ?? [];
  const types = conditions.map((c) => c.type);
  for (const type of new Set(types)) {
    if (types.filter((t) => t === type).length > 1) problems.push(`condition ${type} appears more than once`);
  }
  if (!types.includes(ConditionType.Ready)) problems.push('condition Ready is missing');
  for (const type of TRANSIENT_CONDITIONS) {
    const c = getCondition(conditions, type);
    if (c && c.status !== 'True') problems.push(`condition ${type} is present with status ${c.status}`);
  }
  const reconciling = getCondition(conditions, ConditionType.Reconciling);
  if (reconciling && getCondition(conditions, ConditionType.Stalled)) {
    problems.push('conditions Reconciling and Stalled are both present');
  }
  for (const c of conditions) {
    if (c.observedGeneration === undefined) problems.push(`condition ${c.type} has no observedGeneration`);
    else if (generation !== undefined && c.observedGeneration > generation) {
      problems.push(`condition ${c.type} observedGeneration ${c.observedGeneration} > generation ${generation}`);
    }
  }
  const root = status?.observedGeneration;
  if (root !== undefined && generation !== undefined && root > generation) {
    problems.push(`status.observedGeneration ${root} > generation ${generation}`);
  }
  if (root !== undefined && root === generation && reconciling?.status === 'True') {
    problems.push('status.observedGeneration equals generation while Reconciling is True');
  }
  return problems;
}

/** Condition messages are capped by the API (32768); long step errors are cut with a marker. */
function truncate(message: string, max = 32_000): string {
  return message.length <= max ? message : `${message.slice(0, max)}… (truncated)`;
}

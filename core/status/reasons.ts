/**
 * Every condition and Event reason the operator writes, in one list: the API's
 * `ConditionReason` (core/api/conditions.ts, shared with the CLI's hand-off) and the ones only the operator uses.
 * NOTE: `OperatorReason` belongs in `ConditionReason`; it is kept here until that module is changed. The operator
 * imports `Reason` only, so moving it changes no caller.
 */
import { ConditionReason } from '../api/conditions.js';

export const OperatorReason = {
  ExecutorMissing: 'ExecutorMissing',
  InvalidSpec: 'InvalidSpec',
  Interrupted: 'Interrupted',
  /** The run stopped at a safe point because the PowerEvent was deleted; nothing was undone. */
  Stopped: 'Stopped',
  /** Every other step is done; the operator's own node is being powered off: the last status it writes. */
  PoweringOffOwnNode: 'PoweringOffOwnNode',
  /**
   * Every worker step is done; the control plane (two or more nodes, then the operator's own node) is being powered
   * off: the API loses its quorum on the way, so this is the last status the operator writes.
   */
  PoweringOffControlPlane: 'PoweringOffControlPlane',
  /** An executing shutdown waits: its PowerPlan's way back (status.wayBack) is missing, not verified, old or stale. */
  WayBackNotVerified: 'WayBackNotVerified',
  /** A shutdown went ahead without a verified way back: spec.ignoreWayBack, or an emergency (recorded). */
  WayBackIgnored: 'WayBackIgnored',
  /** The PowerPlan changed while the event ran: the run keeps the spec it started with (progress.planSpec). */
  PlanChangedDuringEvent: 'PlanChangedDuringEvent',
} as const;
export type OperatorReason = (typeof OperatorReason)[keyof typeof OperatorReason];

export const Reason = { ...ConditionReason, ...OperatorReason } as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

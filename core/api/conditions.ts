import { z } from 'zod';
import { timestamp } from './meta.js';

/**
 * Condition types, in the kstatus convention: `Ready` is always present; `Reconciling` and `Stalled` appear only
 * while true and never together. Each stage owns one positive-polarity condition.
 */
export const ConditionType = {
  Ready: 'Ready',
  Reconciling: 'Reconciling',
  Stalled: 'Stalled',
  Planned: 'Planned',
  Prepared: 'Prepared',
  FluxSuspended: 'FluxSuspended',
  NodesDrained: 'NodesDrained',
  StorageQuiesced: 'StorageQuiesced',
  NodesPoweredOff: 'NodesPoweredOff',
  PowerGateOpen: 'PowerGateOpen',
  ApiAvailable: 'ApiAvailable',
  NodesReady: 'NodesReady',
  ChainReady: 'ChainReady',
  HarborSeeded: 'HarborSeeded',
  FluxResumed: 'FluxResumed',
  /** True while the PowerPlan differs from the spec the running event started with (which it keeps using). */
  PlanChanged: 'PlanChanged',
} as const;
export type ConditionType = (typeof ConditionType)[keyof typeof ConditionType];

export const ConditionReason = {
  Succeeded: 'Succeeded',
  DryRun: 'DryRun',
  Progressing: 'Progressing',
  WaitingForActiveEvent: 'WaitingForActiveEvent',
  PlanNotFound: 'PlanNotFound',
  InvalidPlan: 'InvalidPlan',
  GateBlocked: 'GateBlocked',
  StepFailed: 'StepFailed',
  DeadlineExceeded: 'DeadlineExceeded',
  Skipped: 'Skipped',
} as const;
export type ConditionReason = (typeof ConditionReason)[keyof typeof ConditionReason];

export const conditionStatus = z.enum(['True', 'False', 'Unknown']);

/** metav1.Condition. */
export const condition = z.strictObject({
  type: z.string().min(1).max(316),
  status: conditionStatus,
  observedGeneration: z.number().int().min(0).optional(),
  lastTransitionTime: timestamp,
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  message: z.string().max(32768),
});
export type Condition = z.infer<typeof condition>;

/**
 * Condition reasons the operator needs beyond core/api/conditions.ts.
 * NOTE: these belong in `ConditionReason` (STYLE.md point 10: one module); kept here until that module is changed.
 */
export const OperatorReason = {
  ExecutorMissing: 'ExecutorMissing',
  InvalidSpec: 'InvalidSpec',
  Interrupted: 'Interrupted',
} as const;
export type OperatorReason = (typeof OperatorReason)[keyof typeof OperatorReason];

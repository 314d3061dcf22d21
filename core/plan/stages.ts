import { ConditionType } from '../api/conditions.js';

/** The stages of every mode, and the condition each one owns on a PowerEvent. */
export const Stage = {
  Preflight: 'preflight',
  Prepull: 'prepull',
  Snapshot: 'snapshot',
  Bundle: 'bundle',
  Outage: 'outage',
  FluxSuspend: 'flux-suspend',
  Drain: 'drain',
  Storage: 'storage',
  PowerOff: 'power-off',
  PowerGate: 'power-gate',
  Api: 'api',
  Nodes: 'nodes',
  FluxSource: 'flux-source',
  Chain: 'chain',
  Harbor: 'harbor',
  FluxResume: 'flux-resume',
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

export const STAGE_CONDITION: Record<Stage, ConditionType> = {
  [Stage.Preflight]: ConditionType.Prepared,
  [Stage.Prepull]: ConditionType.Prepared,
  [Stage.Snapshot]: ConditionType.Prepared,
  [Stage.Bundle]: ConditionType.Prepared,
  [Stage.Outage]: ConditionType.Planned,
  [Stage.FluxSuspend]: ConditionType.FluxSuspended,
  [Stage.Drain]: ConditionType.NodesDrained,
  [Stage.Storage]: ConditionType.StorageQuiesced,
  [Stage.PowerOff]: ConditionType.NodesPoweredOff,
  [Stage.PowerGate]: ConditionType.PowerGateOpen,
  [Stage.Api]: ConditionType.ApiAvailable,
  [Stage.Nodes]: ConditionType.NodesReady,
  [Stage.FluxSource]: ConditionType.ChainReady,
  [Stage.Chain]: ConditionType.ChainReady,
  [Stage.Harbor]: ConditionType.HarborSeeded,
  [Stage.FluxResume]: ConditionType.FluxResumed,
};

/** The executors a plan can name. Each kind is implemented once, in core/steps/ or by an adapter. */
export const StepKind = {
  Preflight: 'preflight',
  PrepullImage: 'prepull-image',
  RefreshSnapshot: 'refresh-snapshot',
  RecordFluxRevision: 'record-flux-revision',
  CheckPlanCoversRepo: 'check-plan-covers-repo',
  VerifyBundle: 'verify-bundle',
  RecordOutage: 'record-outage',
  AdoptOutage: 'adopt-outage',
  CloseOutage: 'close-outage',
  SuspendFlux: 'suspend-flux',
  CordonNodes: 'cordon-nodes',
  DrainNode: 'drain-node',
  QuiesceStorage: 'quiesce-storage',
  PowerOffNode: 'power-off-node',
  UpsGate: 'ups-gate',
  WaitApi: 'wait-api',
  WaitNodes: 'wait-nodes',
  Uncordon: 'uncordon',
  CheckFluxSource: 'check-flux-source',
  ApplyChainStage: 'apply-chain-stage',
  SeedHarbor: 'seed-harbor',
  ReconcileHarbor: 'reconcile-harbor',
  ResumeFlux: 'resume-flux',
  WaitFlux: 'wait-flux',
} as const;
export type StepKind = (typeof StepKind)[keyof typeof StepKind];

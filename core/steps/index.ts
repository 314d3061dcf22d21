import { StepKind } from '../plan/stages.js';
import type { Executors } from '../run/executor.js';
import { closeOutage, recordOutage } from './outage.js';

/**
 * The executors that need no port beyond the progress store. Cluster-facing executors (Flux, drain, power,
 * chain, Harbor) are added by the composition roots as they are built.
 */
export function coreExecutors(): Executors {
  return { [StepKind.RecordOutage]: recordOutage, [StepKind.CloseOutage]: closeOutage };
}

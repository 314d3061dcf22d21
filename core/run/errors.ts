import type { PlanStep } from '../api/plan.js';

/** A step failed; the cause says why. Progress records the step as failed before this is thrown. */
export class StepFailedError extends Error {
  override readonly name = 'StepFailedError';
  constructor(
    readonly step: PlanStep,
    cause: unknown,
  ) {
    super(`step ${step.id} (${step.title}) failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/** A wait ran past its step's deadline. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
}

/** The plan names step kinds that have no executor in this build: refuse before touching anything. */
export class MissingExecutorError extends Error {
  override readonly name = 'MissingExecutorError';
  constructor(readonly kinds: readonly string[]) {
    super(`no executor for step kind(s): ${kinds.join(', ')}`);
  }
}

/**
 * The run was asked to stop (`RunOptions.stop`) and did so at a safe point: steps in flight finished, no new step
 * started. Progress records where (`progress.stopped`) before this is thrown; a rerun resumes at `beforeStep`.
 */
export class RunStoppedError extends Error {
  override readonly name = 'RunStoppedError';
  constructor(
    readonly beforeStep: PlanStep,
    readonly reason: string,
    /** `beforeStep` had acted and the stop cut its wait short: it is recorded running and a rerun checks it again. */
    readonly waitCut = false,
  ) {
    super(
      waitCut
        ? `stopped while waiting on step ${beforeStep.id} (${beforeStep.title}), which had acted: ${reason}`
        : `stopped before step ${beforeStep.id} (${beforeStep.title}): ${reason}`,
    );
  }
}

import type { StepExecutor } from '../run/executor.js';

/** Opens the outage record. Done when an outage is already recorded (a rerun keeps the first start time). */
export const recordOutage: StepExecutor = {
  check: async (_step, ctx) => ctx.outage().inOutage,
  apply: async (step, ctx) => {
    const now = ctx.clock.now().toISOString();
    await ctx.record((outage) => {
      outage.inOutage = true;
      outage.startedAt = now;
      outage.reason = step.params.reason ?? ctx.plan.mode;
      delete outage.endedAt;
      // A new outage's drains start afresh: no escalation level is inherited from an earlier one.
      delete outage.drainLevels;
    });
  },
};

/**
 * Closes the outage record; what Hecate changed has been undone by the steps before it. The per-outage lists are
 * cleared (the nodes are back, nothing is left suspended by Hecate, no drain is to be resumed); the Flux revision
 * stays for the next prepare.
 */
export const closeOutage: StepExecutor = {
  check: async (_step, ctx) => !ctx.outage().inOutage,
  apply: async (_step, ctx) => {
    const now = ctx.clock.now().toISOString();
    await ctx.record((outage) => {
      outage.inOutage = false;
      outage.endedAt = now;
      outage.poweredOff = [];
      outage.alreadySuspended = [];
      delete outage.drainLevels;
    });
  },
};

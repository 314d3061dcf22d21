import type { OutageRecord } from '../api/index.js';
import type { OutageSourcePort } from '../ports/index.js';
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
      delete outage.poweredOffBoots;
      outage.alreadySuspended = [];
      delete outage.drainLevels;
    });
  },
};

/** When the adopted outage began, for the report: `started 2026-01-02T03:04:05.000Z`, or that no start was recorded. */
function startedNote(outage: OutageRecord): string {
  return outage.startedAt ? `started ${outage.startedAt}` : 'no start recorded';
}

const union = (mine: readonly string[], theirs: readonly string[]) => [
  ...mine,
  ...theirs.filter((item) => !mine.includes(item)),
];

/**
 * Folds an adopted outage record into this run's (which is not open). Lists are joined, this run's entries first; an
 * object the adopted record says Hecate suspended is not also kept as suspended by someone else. The adopted start
 * and reason name the outage (the hand-off PowerEvent is named after that start); drain levels are a shutdown's
 * business and are not adopted. Pure: changes `into`.
 */
export function mergeOutage(into: OutageRecord, adopted: OutageRecord, source: string): void {
  const suspended = {
    kustomizations: union(into.suspendedByHecate.kustomizations, adopted.suspendedByHecate.kustomizations),
    helmReleases: union(into.suspendedByHecate.helmReleases, adopted.suspendedByHecate.helmReleases),
  };
  const mine = new Set([...suspended.kustomizations, ...suspended.helmReleases]);
  into.inOutage = true;
  delete into.endedAt;
  if (adopted.startedAt) into.startedAt = adopted.startedAt;
  into.reason = `${adopted.reason ?? 'shutdown'} (outage record adopted from ${source})`;
  into.suspendedByHecate = suspended;
  into.alreadySuspended = union(into.alreadySuspended, adopted.alreadySuspended).filter((key) => !mine.has(key));
  into.cordonedByHecate = union(into.cordonedByHecate, adopted.cordonedByHecate);
  into.poweredOff = union(into.poweredOff, adopted.poweredOff);
  const boots = { ...adopted.poweredOffBoots, ...into.poweredOffBoots };
  if (Object.keys(boots).length > 0) into.poweredOffBoots = boots;
  if (!into.fluxRevision && adopted.fluxRevision) into.fluxRevision = adopted.fluxRevision;
}

/**
 * True when this run's record was closed after the adopted outage began: a startup on this machine already restored
 * it (its hand-off to the operator may have failed, leaving the cluster's record open).
 */
function closedHere(own: OutageRecord, found: OutageRecord): boolean {
  if (!own.endedAt || !found.startedAt) return false;
  return Date.parse(own.endedAt) > Date.parse(found.startedAt);
}

/**
 * Startup's `outage/adopt`: a shutdown run by the operator keeps its outage record in its PowerEvent (or a stop
 * record), not in the state file of the machine that runs the cold boot. Done when this run's record is open (the
 * CLI ran the shutdown itself, or the hand-off or event carries one). Otherwise the cluster's newest open outage of
 * the plan is merged into this run's record before any later step acts on it. Finding none is not an error: startup
 * then restores only what it finds recorded.
 */
export function adoptOutage(source: OutageSourcePort): StepExecutor {
  return {
    check: async (_step, ctx) => ctx.outage().inOutage,
    apply: async (_step, ctx) => {
      const { planName } = ctx.plan;
      const found = await source.latestOpenOutage(planName);
      if (!found) {
        ctx.report(
          `no open outage of PowerPlan ${planName} in this run's record, nor in the cluster (PowerEvents, stop records): startup restores only what it finds recorded`,
        );
        return;
      }
      const own = ctx.outage();
      if (closedHere(own, found.outage)) {
        ctx.report(
          `the outage record of ${found.source} (${startedNote(found.outage)}) was closed by a startup here at ${own.endedAt}: not adopted again`,
        );
        return;
      }
      await ctx.record((outage) => mergeOutage(outage, found.outage, found.source));
      const { cordonedByHecate, suspendedByHecate } = found.outage;
      const flux = suspendedByHecate.kustomizations.length + suspendedByHecate.helmReleases.length;
      ctx.report(
        `adopted the outage record of ${found.source} (${startedNote(found.outage)}): ${cordonedByHecate.length} node(s) cordoned by Hecate, ${flux} Flux object(s) suspended`,
      );
    },
  };
}

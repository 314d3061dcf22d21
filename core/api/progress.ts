import { z } from 'zod';
import { API_VERSION, timestamp } from './meta.js';
import { action } from './plan.js';
import { powerPlanSpec } from './powerplan.js';

export const stepState = z.enum(['running', 'done', 'skipped', 'failed']);
export type StepState = z.infer<typeof stepState>;

/** What happened to one step. `running` is written before a step acts, so a crash leaves a trace of it. */
export const stepRecord = z.strictObject({
  id: z.string().min(1),
  state: stepState,
  startedAt: timestamp.optional(),
  finishedAt: timestamp.optional(),
  message: z.string().optional(),
});
export type StepRecord = z.infer<typeof stepRecord>;

/**
 * Where one node's drain escalation stood: written before the drain first acts at a level, read by a rerun after a
 * crash to resume at that level with the time already spent there counted; removed when the node is drained.
 * NOTE: `level` is a plain string, not the level enum: a name this plan (or this version) does not know must not make
 * the whole state unreadable; the drain maps it to a level of the current escalation and says so.
 */
export const drainLevelRecord = z.strictObject({
  level: z.string().min(1).describe('The escalation level (evict, force, disable-eviction)'),
  index: z.number().int().min(0).describe("The level's position in the escalation it was reached in"),
  startedAt: timestamp.describe('When the drain entered the level'),
});
export type DrainLevelRecord = z.infer<typeof drainLevelRecord>;

/**
 * The outage record: what Hecate changed, so that startup undoes exactly that and nothing else.
 * NOTE: lists only grow during a shutdown; startup removes entries as it restores them.
 */
export const outageRecord = z.strictObject({
  inOutage: z.boolean().default(false),
  startedAt: timestamp.optional(),
  endedAt: timestamp.optional(),
  reason: z.string().optional(),
  suspendedByHecate: z
    .strictObject({
      kustomizations: z.array(z.string()).default([]).describe('Kind/namespace/name, in suspend order'),
      helmReleases: z.array(z.string()).default([]),
    })
    .prefault({}),
  alreadySuspended: z.array(z.string()).default([]).describe('kind/namespace/name suspended before Hecate ran'),
  cordonedByHecate: z.array(z.string()).default([]),
  poweredOff: z.array(z.string()).default([]),
  poweredOffBoots: z
    .record(z.string().min(1), z.string().min(1))
    .optional()
    .describe(
      'Per node in poweredOff: the boot ID it had when its power-off was recorded. The request is meant for that boot only: a node on another boot went down and came back, and is never sent it again',
    ),
  drainLevels: z
    .record(z.string().min(1), drainLevelRecord)
    .optional()
    .describe('Per node being drained: the escalation level reached, so a rerun resumes there'),
  fluxRevision: z.string().optional().describe('The revision Flux last applied, recorded by prepare'),
  ignoredUps: z.boolean().default(false).describe('Startup ran with --ignore-ups'),
});
export type OutageRecord = z.infer<typeof outageRecord>;

/** One run of a plan. The same shape is the CLI's state file body and the operator's `PowerEvent.status.progress`. */
export const progress = z.strictObject({
  action: action,
  mode: z.string().min(1),
  planName: z.string().min(1),
  startedAt: timestamp,
  updatedAt: timestamp,
  finishedAt: timestamp.optional(),
  steps: z.array(stepRecord).default([]),
  planSpec: powerPlanSpec
    .optional()
    .describe(
      'The PowerPlan spec this run was compiled from: a rerun or a restarted operator keeps it until the run ends, whatever the PowerPlan says by then',
    ),
  stopped: z
    .strictObject({
      beforeStep: z.string().min(1).describe('The first step not started; a rerun resumes here'),
      at: timestamp,
      reason: z.string().min(1),
      waitCut: z
        .boolean()
        .optional()
        .describe('beforeStep had acted; the stop cut its wait short (it is recorded running)'),
    })
    .optional()
    .describe('The run was stopped at a safe point (between steps, or in a wait), not failed'),
});
export type Progress = z.infer<typeof progress>;

/** The CLI's outage state file. */
export const stateFile = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('OutageState'),
  outage: outageRecord.prefault({}),
  progress: progress.optional().describe('The latest run; a rerun of the same action resumes it'),
});
export type StateFile = z.infer<typeof stateFile>;

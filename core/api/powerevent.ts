import { z } from 'zod';
import { condition } from './conditions.js';
import { API_VERSION, dnsSubdomain, objectMeta, timestamp } from './meta.js';
import { action, renderedPlan } from './plan.js';
import { outageRecord, progress } from './progress.js';

/**
 * Set by the hecate CLI while it hands a cold boot back (it creates the startup PowerEvent, then writes its status in
 * a second request); the operator leaves an event carrying it alone, so it never compiles its own plan over the
 * CLI's. Removed once the status is written.
 */
export const HANDOFF_PENDING_ANNOTATION = 'power.hecate.dev/handoff-pending';

/** On a PowerEvent the operator's UPS watcher created (value `ups`): an emergency shutdown, which never waits. */
export const UPS_TRIGGER_LABEL = 'power.hecate.dev/trigger';

export const powerEventSpec = z.strictObject({
  action: action.describe('prepare | shutdown | startup | harbor-seed; immutable'),
  planRef: z.strictObject({ name: dnsSubdomain.describe('Name of the cluster-scoped PowerPlan') }),
  execute: z.boolean().default(false).describe('false (default) renders the plan only; true acts on the cluster'),
  reason: z.string().max(1024).optional().describe('Why this event exists; recorded in the outage record'),
  ignoreUps: z.boolean().default(false).describe('Start up even when the UPS gate refuses (recorded)'),
  ignoreWayBack: z
    .boolean()
    .default(false)
    .describe("Shut down although the PowerPlan's way back is not verified (recorded in the outage record)"),
});
export type PowerEventSpec = z.infer<typeof powerEventSpec>;

export const phase = z.enum(['Pending', 'Waiting', 'Running', 'Succeeded', 'Failed']);
export type Phase = z.infer<typeof phase>;

export const powerEventStatus = z.strictObject({
  observedGeneration: z.number().int().min(0).optional(),
  phase: phase.optional(),
  stage: z.string().optional().describe('The stage being run, or the last one run'),
  conditions: z.array(condition).default([]),
  plan: renderedPlan.optional(),
  progress: progress.optional(),
  outage: outageRecord.optional(),
  startedAt: timestamp.optional(),
  finishedAt: timestamp.optional(),
});
export type PowerEventStatus = z.infer<typeof powerEventStatus>;

export const powerEvent = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('PowerEvent'),
  metadata: objectMeta,
  spec: powerEventSpec,
  status: powerEventStatus.optional(),
});
export type PowerEvent = z.infer<typeof powerEvent>;

/** A new PowerEvent as the API takes it: the one place its apiVersion and kind are spelled for a create. */
export function newPowerEvent(
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> },
  spec: z.input<typeof powerEventSpec>,
): { apiVersion: string; kind: 'PowerEvent'; metadata: typeof metadata; spec: typeof spec } {
  return { apiVersion: API_VERSION, kind: 'PowerEvent', metadata, spec };
}

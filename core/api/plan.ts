import { z } from 'zod';

/** The modes Hecate runs. `emergency-shutdown` is compiled by the engine, never requested directly. */
export const action = z.enum(['prepare', 'shutdown', 'startup', 'harbor-seed']);
export type Action = z.infer<typeof action>;
export const planMode = z.enum(['prepare', 'shutdown', 'emergency-shutdown', 'startup', 'harbor-seed']);
export type PlanMode = z.infer<typeof planMode>;

/**
 * A guard evaluated when the step is reached: the step is skipped when its condition does not hold. It lets one
 * plan show both branches of startup (Flux source Ready → no fallback; not Ready → the local bootstrap chain).
 */
export const stepGuard = z.enum(['always', 'flux-source-not-ready']);
export type StepGuard = z.infer<typeof stepGuard>;

/**
 * One rendered step: plain data, printed by the dry-run, stored in `PowerEvent.status.plan` and the state file.
 * `params` carries what the executor needs (names, paths, timeouts); it is never needed to understand the step.
 */
export const planStep = z.strictObject({
  id: z.string().min(1).describe('Stable identifier: a rerun skips the steps whose id is recorded done'),
  stage: z.string().min(1).describe('The stage this step belongs to; one condition per stage'),
  kind: z.string().min(1).describe('Which executor runs the step'),
  title: z.string().min(1),
  targets: z.array(z.string()).default([]),
  why: z.string().min(1),
  blockers: z.array(z.string()).default([]).describe('What could stop or delay this step'),
  destructive: z.boolean().default(false).describe('Recorded before it is taken; never undone by a rerun'),
  when: stepGuard.default('always'),
  timeoutSeconds: z.number().int().min(0).max(86_400).optional(),
  params: z.record(z.string(), z.string()).default({}),
});
export type PlanStep = z.infer<typeof planStep>;
export type PlanStepInput = z.input<typeof planStep>;

export const renderedPlan = z.strictObject({
  mode: planMode,
  planName: z.string().min(1),
  execute: z.boolean(),
  steps: z.array(planStep),
  notes: z.array(z.string()).default([]).describe('Warnings about the inputs the plan was compiled from'),
});
export type RenderedPlan = z.infer<typeof renderedPlan>;

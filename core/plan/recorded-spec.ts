/**
 * A run acts from one PowerPlan spec from its first step to its last. The spec a run was compiled from is recorded
 * with its progress (`progress.planSpec`, by the runner); a rerun of the CLI or a restarted operator resumes from that
 * record, never from what the PowerPlan says by then, and says what changed so the change is not silently lost: it
 * applies to the next run.
 */
import type { PlanMode, PowerPlanSpec, Progress } from '../api/index.js';

export interface SpecForRun {
  /** The spec to compile and act from. */
  spec: PowerPlanSpec;
  /** True when it is the one the unfinished run recorded. */
  recorded: boolean;
  /** How the live spec differs from the recorded one (`spec.drain.timeout: "5m" → "10m"`); empty when it does not. */
  changes: string[];
}

/** Whether `progress` is a run a new run of `mode` resumes (the runner's rule: unfinished, same mode). */
export function resumes(progress: Progress | undefined, mode: PlanMode): progress is Progress {
  return progress !== undefined && !progress.finishedAt && progress.mode === mode;
}

/** The spec an executing run of `mode` uses: the record of the unfinished run it resumes, else the live one. */
export function specForRun(mode: PlanMode, live: PowerPlanSpec, saved: Progress | undefined): SpecForRun {
  const recorded = resumes(saved, mode) ? saved.planSpec : undefined;
  if (!recorded) return { spec: live, recorded: false, changes: [] };
  return { spec: recorded, recorded: true, changes: specChanges(recorded, live) };
}

/** One line per field that differs, recorded value first: `spec.drain.timeout: "5m" → "10m"`. */
export function specChanges(recorded: unknown, live: unknown, path = 'spec'): string[] {
  if (isRecord(recorded) && isRecord(live)) {
    const keys = [...new Set([...Object.keys(recorded), ...Object.keys(live)])].sort();
    return keys.flatMap((key) => specChanges(recorded[key], live[key], `${path}.${key}`));
  }
  if (Array.isArray(recorded) && Array.isArray(live) && recorded.length === live.length) {
    return recorded.flatMap((item, i) => specChanges(item, live[i], `${path}[${i}]`));
  }
  if (JSON.stringify(recorded) === JSON.stringify(live)) return [];
  return [`${path}: ${show(recorded)} → ${show(live)}`];
}

/** The line a front door prints (or records) when the live PowerPlan differs from the one its run started with. */
export function describeSpecChanges(planName: string, mode: PlanMode, changes: readonly string[]): string {
  const shown = changes.slice(0, 5).join('; ');
  const more = changes.length > 5 ? `; and ${changes.length - 5} more` : '';
  return `PowerPlan ${planName} changed since this ${mode} started (${shown}${more}): the run keeps the plan it started with until it ends; the change applies to the next run`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function show(value: unknown): string {
  if (value === undefined) return '(unset)';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

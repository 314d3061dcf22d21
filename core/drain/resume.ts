import type { DrainLevelRecord } from '../api/progress.js';
import { type EscalationState, startEscalation } from './escalation.js';
import { type DrainOptions, LEVELS, type Level, levelRank } from './options.js';

/** Where a drain starts or resumes, and what to tell people about it. */
export interface ResumedEscalation {
  readonly state: EscalationState;
  /** The record to save before the drain acts, or undefined when the saved one already says exactly this. */
  readonly record?: DrainLevelRecord;
  /** For the report when the drain resumes (absent on a fresh start). */
  readonly message?: string;
}

/** The outage record's entry for a drain at `state`. */
export function levelRecord(state: EscalationState, options: DrainOptions): DrainLevelRecord {
  const level = options.escalation[state.levelIndex] ?? 'evict';
  return { level, index: state.levelIndex, startedAt: new Date(state.levelStartedAtMs).toISOString() };
}

/**
 * Where a drain starts at `nowMs`, given the level a crashed run had reached (`saved`, from the outage record). Pure.
 *
 * - Nothing saved: the first level, now.
 * - The saved level is in `options.escalation`: that level, with its start time kept, so the time already spent there
 *   counts against the level timeout (also the time Hecate was down: the pods were held that long too). A start in
 *   the future (the clock went back) counts as now. When that level's time has run out, the next decision escalates
 *   at once; when it is the last level (nothing to escalate to, the rerun would fail without acting), it gets a
 *   fresh timer: a rerun is a request to try again, never at a gentler level.
 * - The saved level is not in this escalation (the plan changed between runs, e.g. a shutdown resumed as an emergency
 *   one): the first level at or after the saved position that is not gentler; failing that, the first that is not
 *   gentler; failing that, the harshest level the plan allows. It starts now, and the message says so.
 */
export function resumeEscalation(
  saved: DrainLevelRecord | undefined,
  options: DrainOptions,
  nowMs: number,
): ResumedEscalation {
  if (saved === undefined) {
    const state = startEscalation(nowMs);
    return { state, record: levelRecord(state, options) };
  }
  const index = options.escalation.indexOf(saved.level as Level);
  if (index < 0) return substitute(saved, options, nowMs);
  const startedAtMs = Math.min(Date.parse(saved.startedAt), nowMs);
  const last = index === options.escalation.length - 1;
  const expired = options.levelTimeoutMs > 0 && nowMs - startedAtMs >= options.levelTimeoutMs;
  const state = { levelIndex: index, levelStartedAtMs: last && expired ? nowMs : startedAtMs };
  const record = levelRecord(state, options);
  const same = record.index === saved.index && Date.parse(record.startedAt) === Date.parse(saved.startedAt);
  const ago = `entered ${seconds(nowMs - startedAtMs)} ago`;
  const message =
    last && expired
      ? `resuming the drain at ${saved.level}, the last level, whose time ran out in an earlier run (${ago}): trying it again with a fresh timer`
      : `resuming the drain at ${saved.level} (${ago})`;
  return { state, message, ...(same ? {} : { record }) };
}

function substitute(saved: DrainLevelRecord, options: DrainOptions, nowMs: number): ResumedEscalation {
  const { escalation } = options;
  const rank = LEVELS.includes(saved.level as Level) ? levelRank(saved.level as Level) : -1;
  const notGentler = (level: Level) => levelRank(level) >= rank;
  const atOrAfter = escalation.findIndex((level, i) => i >= saved.index && notGentler(level));
  const anyNotGentler = escalation.findIndex(notGentler);
  const index = atOrAfter >= 0 ? atOrAfter : anyNotGentler >= 0 ? anyNotGentler : escalation.length - 1;
  const state = { levelIndex: index, levelStartedAtMs: nowMs };
  const level = escalation[index] ?? 'evict';
  const why =
    atOrAfter >= 0
      ? `the first level at or after its position ${saved.index + 1} that is not gentler`
      : anyNotGentler >= 0
        ? 'the first level that is not gentler'
        : `the harshest level this plan allows (gentler than ${saved.level})`;
  const message =
    `the saved drain level ${saved.level} (position ${saved.index + 1}) is not in this plan's escalation ` +
    `(${escalation.join(' → ')}): resuming at ${level}, ${why}, with a fresh timer`;
  return { state, record: levelRecord(state, options), message };
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.floor(ms / 1000))}s`;
}

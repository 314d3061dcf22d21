/**
 * Gates: each gate is a one-method interface that asks the world one question and returns a
 * plain verdict; whether anything blocks is decided by the pure {@link isBlocked} over the verdicts.
 */

/** One reason a gate blocks: what was read, the threshold it missed and the flag that overrides it. */
export interface GateReason {
  gate: string;
  /** Stable, machine-readable: `charge-below-minimum`, `on-battery`, `unreachable`... */
  code: string;
  /** For people; names the reading and the threshold, not the override (see {@link describeReasons}). */
  message: string;
  reading?: string;
  threshold?: string;
  /** The CLI flag that overrides this reason, e.g. `--ignore-ups`. */
  override?: string;
}

/** What a gate decided. `blocked` is true exactly when `reasons` is not empty. */
export interface Verdict {
  gate: string;
  blocked: boolean;
  reasons: readonly GateReason[];
}

/** A gate: one question, asked now. Never throws for what it observes; a dead source is a blocking verdict. */
export interface Gate<V extends Verdict = Verdict> {
  evaluate(signal?: AbortSignal): Promise<V>;
}

/** True when any verdict blocks. Pure. */
export function isBlocked(...verdicts: readonly Verdict[]): boolean {
  return verdicts.some((v) => v.blocked);
}

/** Every blocking reason, in verdict order. Pure. */
export function blockingReasons(...verdicts: readonly Verdict[]): GateReason[] {
  return verdicts.flatMap((v) => (v.blocked ? [...v.reasons] : []));
}

/** "a; b (override: --ignore-ups)": the reasons on one line, each distinct override named once at the end. */
export function describeReasons(reasons: readonly GateReason[]): string {
  const overrides = [...new Set(reasons.flatMap((r) => (r.override ? [r.override] : [])))];
  const text = reasons.map((r) => r.message).join('; ');
  return overrides.length > 0 ? `${text} (override: ${overrides.join(', ')})` : text;
}

/**
 * The UPS watcher's shutdown trigger, like upsmon's shutdown decision with upssched's on-battery timer. Pure: the
 * state goes in and comes out, time is an argument.
 *
 * - An outage starts at the first trustworthy reading on battery (OB, FSD) and ends at the first trustworthy reading
 *   on line. Within one outage the trigger fires ONCE.
 * - It fires when the UPS has been on battery for the delay ({@link upsWatchDelayMs}), or at once when it is
 *   critical (LB, FSD, or a charge below `emergencyCharge`: the gate's `emergency`).
 * - A UPS that stops answering (unreachable, stale, garbage) while on battery fires at once: upsmon treats "on battery
 *   and no communication" as critical. Outside an outage a dead upsd is not a power cut and never fires (upsmon only
 *   warns: NOCOMM). A `refused` fault (credentials, unknown UPS) is a configuration error and never fires.
 */
import { parseDuration } from '../api/meta.js';
import type { PowerPlanSpec } from '../api/powerplan.js';
import type { UpsVerdict } from './ups.js';

/**
 * Polls in a row on battery before the watcher asks for a shutdown: 4 × `ups.pollInterval` (1 min at the default
 * 15 s), so that a flicker does not shut the cluster down. NOTE: no schema field; the plan's `pollInterval` sets it.
 */
export const ON_BATTERY_POLLS = 4;

/** How long the UPS must be on battery before the watcher asks for a shutdown. */
export function upsWatchDelayMs(ups: PowerPlanSpec['ups']): number {
  return ON_BATTERY_POLLS * parseDuration(ups.pollInterval);
}

/** Where one plan's UPS stands. `since`: ms of the first reading on battery of the current outage. */
export interface OutageWatch {
  since?: number;
  fired: boolean;
}

export type TriggerReason = 'on-battery-delay' | 'critical' | 'lost-on-battery';

export interface WatchStep {
  state: OutageWatch;
  transition?: 'outage-started' | 'power-restored';
  fire?: { reason: TriggerReason; outageStartedAt: number; message: string };
}

const DEAD_FAULTS = new Set(['unreachable', 'stale', 'protocol']);
const FAULTS = new Set([...DEAD_FAULTS, 'refused']);

/** A trustworthy reading that is not on battery: the power is on. */
export function isOnLine(verdict: UpsVerdict): boolean {
  return !verdict.onBattery && !verdict.reasons.some((r) => FAULTS.has(r.code));
}

export const NO_OUTAGE: OutageWatch = { fired: false };

/** The next state after `verdict`, read at `now` (ms), and whether to ask for a shutdown now. */
export function watchUps(state: OutageWatch, verdict: UpsVerdict, now: number, delayMs: number): WatchStep {
  const codes = verdict.reasons.map((r) => r.code);
  if (codes.includes('refused')) return { state };
  if (codes.some((c) => DEAD_FAULTS.has(c))) {
    if (state.since === undefined || state.fired) return { state };
    return fire({ ...state }, 'lost-on-battery', state.since, verdict);
  }
  if (!verdict.onBattery) {
    return state.since === undefined ? { state } : { state: NO_OUTAGE, transition: 'power-restored' };
  }
  const since = state.since ?? now;
  const next: OutageWatch = { since, fired: state.fired };
  const transition = state.since === undefined ? ({ transition: 'outage-started' } as const) : {};
  if (state.fired) return { state: next, ...transition };
  if (verdict.emergency) return { ...fire(next, 'critical', since, verdict), ...transition };
  if (now - since >= delayMs) return { ...fire(next, 'on-battery-delay', since, verdict), ...transition };
  return { state: next, ...transition };
}

function fire(state: OutageWatch, reason: TriggerReason, since: number, verdict: UpsVerdict): WatchStep {
  const why = verdict.reasons.map((r) => r.message).join('; ');
  return { state: { ...state, fired: true }, fire: { reason, outageStartedAt: since, message: why } };
}

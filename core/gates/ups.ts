/**
 * The UPS gate: a reading of the UPS judged against the PowerPlan's policy. Pure; decisions follow NUT's own
 * conventions (docs/man/upsmon.conf.txt): FSD counts as on battery and low (OB LB), and a UPS that does not answer
 * or whose data is stale counts as on battery and low, like upsmon's DEADTIME rule.
 */
import { parseDuration } from '../api/meta.js';
import type { PowerPlanSpec } from '../api/powerplan.js';
import type { Clock } from '../ports/index.js';
import type { UpsPort, UpsReading } from '../ports/ups.js';
import type { Gate, GateReason, Verdict } from './index.js';

export const UPS_GATE = 'ups';
export const IGNORE_UPS_FLAG = '--ignore-ups';

/** `ups.status` tokens Hecate acts on (docs/nut-names.txt); other tokens are kept and shown. */
export const UpsFlag = {
  OnLine: 'OL',
  OnBattery: 'OB',
  LowBattery: 'LB',
  Charging: 'CHRG',
  ForcedShutdown: 'FSD',
} as const;

export interface UpsPolicy {
  minStartupCharge: number;
  minStartupRuntimeSeconds: number;
  emergencyCharge: number;
  /** A reading older than this counts as stale (upsmon's DEADTIME). */
  maxAgeMs: number;
}

/** NOTE: upsmon's DEADTIME default is 15 s with POLLFREQ 5 s; Hecate keeps the same three-polls margin. */
export function upsPolicy(spec: PowerPlanSpec['ups']): UpsPolicy {
  return {
    minStartupCharge: spec.minStartupCharge,
    minStartupRuntimeSeconds: Math.ceil(parseDuration(spec.minStartupRuntime) / 1000),
    emergencyCharge: spec.emergencyCharge,
    maxAgeMs: Math.max(15_000, 3 * parseDuration(spec.pollInterval)),
  };
}

export interface UpsVerdict extends Verdict {
  gate: typeof UPS_GATE;
  /** OB or FSD in the status, or no trustworthy reading. */
  onBattery: boolean;
  /** LB or FSD in the status, charge below `emergencyCharge`, or no trustworthy reading. */
  low: boolean;
  /** On battery and low: upsmon's "critical", with Hecate's emergency threshold added. */
  emergency: boolean;
  reading: UpsReading;
  policy: UpsPolicy;
  /** Age of the reading when judged, ms. */
  ageMs: number;
}

const reason = (code: string, message: string, extra: Partial<GateReason> = {}): GateReason => ({
  gate: UPS_GATE,
  code,
  message,
  override: IGNORE_UPS_FLAG,
  ...extra,
});

/** The reading's fault, or a `stale` fault when it is older than the policy allows. */
function faultOf(reading: UpsReading, policy: UpsPolicy, ageMs: number): UpsReading['error'] {
  if (reading.error) return reading.error;
  if (ageMs <= policy.maxAgeMs) return undefined;
  return { fault: 'stale', message: `the reading is ${Math.round(ageMs / 1000)}s old` };
}

function faultReason(fault: NonNullable<UpsReading['error']>, source: string): GateReason {
  if (fault.fault === 'refused') return reason('refused', `UPS ${source}: ${fault.message}`);
  return reason(fault.fault, `UPS ${source}: ${fault.message}; counted as on battery and low, as upsmon does`);
}

function statusReasons(flags: ReadonlySet<string>, reading: UpsReading): GateReason[] {
  const status = reading.status.join(' ');
  const out: GateReason[] = [];
  if (flags.has(UpsFlag.ForcedShutdown)) {
    out.push(reason('forced-shutdown', `UPS ${reading.source} has forced shutdown set (ups.status ${status})`));
  } else if (flags.has(UpsFlag.OnBattery)) {
    out.push(reason('on-battery', `UPS ${reading.source} is on battery (ups.status ${status})`, { reading: status }));
  }
  if (flags.has(UpsFlag.LowBattery) && !flags.has(UpsFlag.ForcedShutdown)) {
    out.push(reason('low-battery', `UPS ${reading.source} reports low battery (ups.status ${status})`));
  }
  return out;
}

function chargeReasons(reading: UpsReading, policy: UpsPolicy): GateReason[] {
  const { charge, runtimeSeconds } = reading;
  const out: GateReason[] = [];
  if (charge === undefined && policy.minStartupCharge > 0) {
    out.push(reason('charge-unknown', `UPS ${reading.source} reports no battery.charge`));
  } else if (charge !== undefined && charge < policy.minStartupCharge) {
    const [got, min] = [`${charge}%`, `${policy.minStartupCharge}%`];
    out.push(
      reason('charge-below-minimum', `UPS charge ${got} is below the startup minimum ${min} (minStartupCharge)`, {
        reading: got,
        threshold: min,
      }),
    );
  }
  const minRuntime = policy.minStartupRuntimeSeconds;
  if (minRuntime > 0 && runtimeSeconds === undefined) {
    out.push(reason('runtime-unknown', `UPS ${reading.source} reports no battery.runtime`));
  } else if (runtimeSeconds !== undefined && runtimeSeconds < minRuntime) {
    const [got, min] = [`${runtimeSeconds}s`, `${minRuntime}s`];
    out.push(
      reason('runtime-below-minimum', `UPS runtime ${got} is below the startup minimum ${min} (minStartupRuntime)`, {
        reading: got,
        threshold: min,
      }),
    );
  }
  return out;
}

/**
 * Judges `reading` at `now`. Startup is blocked by: no trustworthy reading, on battery, FSD, low battery, charge or
 * runtime under the startup minimum (or not reported while a minimum applies). Pure.
 * NOTE: a `refused` fault (credentials, unknown UPS) blocks but is neither on battery nor low: a configuration
 * mistake must not trigger an emergency shutdown.
 */
export function evaluateUps(reading: UpsReading, policy: UpsPolicy, now: Date): UpsVerdict {
  const ageMs = Math.max(0, now.getTime() - reading.readAt.getTime());
  const fault = faultOf(reading, policy, ageMs);
  const dead = fault !== undefined && fault.fault !== 'refused';
  const flags = new Set(fault ? [] : reading.status);
  const fsd = flags.has(UpsFlag.ForcedShutdown);
  const onBattery = dead || fsd || flags.has(UpsFlag.OnBattery);
  const belowEmergency = !fault && reading.charge !== undefined && reading.charge < policy.emergencyCharge;
  const low = dead || fsd || flags.has(UpsFlag.LowBattery) || belowEmergency;
  const reasons = fault
    ? [faultReason(fault, reading.source)]
    : [...statusReasons(flags, reading), ...chargeReasons(reading, policy)];
  return {
    gate: UPS_GATE,
    blocked: reasons.length > 0,
    reasons,
    onBattery,
    low,
    emergency: onBattery && low,
    reading,
    policy,
    ageMs,
  };
}

/** "charge 80%, runtime 3600s, ups.status OL, read 2s ago" or the fault. For `hecate status` and reports. */
export function describeReading(reading: UpsReading, ageMs?: number): string {
  const age = ageMs === undefined ? '' : `, read ${Math.round(ageMs / 1000)}s ago`;
  if (reading.error) return `${reading.source}: ${reading.error.message}${age}`;
  const parts = [
    reading.charge === undefined ? 'charge unknown' : `charge ${reading.charge}%`,
    ...(reading.runtimeSeconds === undefined ? [] : [`runtime ${reading.runtimeSeconds}s`]),
    reading.status.length > 0 ? `ups.status ${reading.status.join(' ')}` : 'status unknown',
  ];
  return `${reading.source}: ${parts.join(', ')}${age}`;
}

/** One line: the reading, its age and the verdict with its reasons. */
export function describeUpsVerdict(verdict: UpsVerdict): string {
  const reading = describeReading(verdict.reading, verdict.ageMs);
  if (!verdict.blocked) return `${reading}; startup allowed`;
  const state = verdict.emergency ? 'on battery and low' : verdict.onBattery ? 'on battery' : 'blocked';
  return `${reading}; ${state}: ${verdict.reasons.map((r) => r.message).join('; ')}`;
}

/** The UPS gate over a port: reads now and judges the reading. */
export function upsGate(port: UpsPort, policy: UpsPolicy, clock: Clock): Gate<UpsVerdict> {
  return {
    evaluate: async (signal) => evaluateUps(await port.read(signal), policy, clock.now()),
  };
}

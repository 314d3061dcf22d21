/** The UPS section of the status: one reading through the plan's source, judged by the startup gate. */
import { upsSource } from '../../adapters/ups/sources.js';
import type { PowerPlanSpec } from '../../core/api/index.js';
import { describeUpsVerdict, evaluateUps, IGNORE_UPS_FLAG, type UpsVerdict, upsPolicy } from '../../core/gates/ups.js';
import type { Clock, Logger } from '../../core/ports/index.js';
import type { UpsReading } from '../../core/ports/ups.js';
import type { UpsStatus } from './model.js';

/** Reads the UPS once (the source's own timeout bounds it); undefined when the plan has no UPS source. */
export async function readUps(
  spec: PowerPlanSpec['ups'],
  deps: { clock: Clock; logger: Logger; timeoutMs?: number },
): Promise<UpsReading | undefined> {
  const port = upsSource(spec, { ...deps, timeoutMs: deps.timeoutMs ?? 3_000 });
  if (!port) return undefined;
  try {
    return await port.read();
  } finally {
    await port.close();
  }
}

function verdictSection(verdict: UpsVerdict): NonNullable<UpsStatus['verdict']> {
  return {
    startupAllowed: !verdict.blocked,
    onBattery: verdict.onBattery,
    low: verdict.low,
    emergency: verdict.emergency,
    reasons: verdict.reasons.map(({ code, message, reading, threshold, override }) => ({
      code,
      message,
      ...(reading ? { reading } : {}),
      ...(threshold ? { threshold } : {}),
      ...(override ? { override } : {}),
    })),
  };
}

/** The reading judged at `now` against the plan's policy. Pure. */
export function upsStatus(spec: PowerPlanSpec['ups'], reading: UpsReading | undefined, now: Date): UpsStatus {
  if (spec.source === 'none') return { source: 'none', summary: 'no UPS configured (ups.source: none)' };
  if (!reading) return { source: spec.source, summary: `ups.source ${spec.source} has no settings: not read` };
  const verdict = evaluateUps(reading, upsPolicy(spec), now);
  const blocked = verdict.blocked ? ` (override: ${IGNORE_UPS_FLAG})` : '';
  return {
    source: spec.source,
    reading: {
      source: reading.source,
      ...(reading.charge === undefined ? {} : { charge: reading.charge }),
      ...(reading.runtimeSeconds === undefined ? {} : { runtimeSeconds: reading.runtimeSeconds }),
      status: [...reading.status],
      ...(reading.error ? { error: { ...reading.error } } : {}),
      readAt: reading.readAt.toISOString(),
    },
    ageSeconds: Math.round(verdict.ageMs / 1000),
    verdict: verdictSection(verdict),
    summary: `${describeUpsVerdict(verdict)}${blocked}`,
  };
}

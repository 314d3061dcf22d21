import type { Gate, GateReason } from '../gates/index.js';
import { describeReading, IGNORE_UPS_FLAG, type UpsVerdict } from '../gates/ups.js';
import type { StepExecutor } from '../run/executor.js';

const messages = (reasons: readonly GateReason[]) => reasons.map((r) => r.message).join('; ');

/**
 * Startup refused by the UPS gate: the CLI exits with code 3 (ExitCode.RefusedByGate). The message gives the
 * reading, the threshold and the override.
 */
export class GateRefusedError extends Error {
  override readonly name = 'GateRefusedError';
  constructor(readonly verdict: UpsVerdict) {
    super(
      `Startup refused by the UPS gate: ${messages(verdict.reasons)}. ` +
        `Rerun with ${IGNORE_UPS_FLAG} to start anyway; the override is recorded in the state file and the PowerEvent`,
    );
  }
}

/**
 * Inside an outage window the UPS is on battery and low: power failed again during recovery. Startup must not
 * continue; the caller runs the emergency shutdown plan instead (the CLI maps this error to that plan).
 */
export class EmergencyShutdownRequired extends Error {
  override readonly name = 'EmergencyShutdownRequired';
  constructor(readonly verdict: UpsVerdict) {
    super(
      `Power failed again during recovery: ${describeReading(verdict.reading)} ` +
        `(emergency below ${verdict.policy.emergencyCharge}%, or low battery, or no reading). ` +
        `Startup stops here and the emergency shutdown runs instead; rerun with ${IGNORE_UPS_FLAG} to start anyway`,
    );
  }
}

/**
 * The `ups-gate` step (params.ignoreUps "true"|"false"). Evaluated every time it is reached (`check` is always
 * false: an earlier verdict says nothing about the battery now).
 *
 * - allowed → continue;
 * - with `--ignore-ups` → record `ignoredUps: true` in the outage record (before continuing), report what the
 *   override overrode, continue. NOTE: the override also covers the emergency branch; otherwise a dead or wrong
 *   reading inside an outage window would leave no way to start the cluster;
 * - inside an outage window (`outage.inOutage`) and `verdict.emergency` (on battery and low) →
 *   {@link EmergencyShutdownRequired};
 * - otherwise blocked → {@link GateRefusedError}.
 */
export function upsGateExecutor(gate: Gate<UpsVerdict>): StepExecutor {
  return {
    check: async () => false,
    apply: async (step, ctx) => {
      const verdict = await gate.evaluate(ctx.signal);
      const emergency = ctx.outage().inOutage && verdict.emergency;
      if (step.params.ignoreUps === 'true') {
        await ctx.record((outage) => {
          outage.ignoredUps = true;
        });
        if (!verdict.blocked) return ctx.report(`UPS ok: ${describeReading(verdict.reading)}`);
        const overridden = emergency ? 'the emergency shutdown' : 'the refusal';
        ctx.logger.warn('UPS gate overridden by --ignore-ups', { overridden, reasons: verdict.reasons });
        return ctx.report(`${IGNORE_UPS_FLAG} overrides ${overridden}: ${messages(verdict.reasons)}`);
      }
      if (emergency) throw new EmergencyShutdownRequired(verdict);
      if (verdict.blocked) throw new GateRefusedError(verdict);
      ctx.report(`UPS ok: ${describeReading(verdict.reading)}`);
    },
  };
}

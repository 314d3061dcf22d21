/**
 * The UPS watch during `startup --execute`: keep reading the UPS while the startup runs and, when
 * power fails again into an emergency, ask the runner to stop at the next safe point so that the caller can run the
 * emergency shutdown instead.
 *
 * The trigger is the operator watcher's ({@link watchUps}, core/gates/watch.ts) without its on-battery delay: it stops
 * the startup when a trustworthy reading is on battery AND low (charge under `emergencyCharge`, LB or FSD: the gate's
 * `emergency`), or when the UPS stops answering after it was last seen on battery (upsmon: on battery with no
 * communication is critical).
 *
 * - A read that fails while the UPS was last seen on line does NOT stop the startup: a flapping network or a
 *   restarted upsd is not a power cut (upsmon only warns, NOCOMM). The gate itself counts any dead read as on battery
 *   and low; the watch keeps that verdict but does not act on it alone.
 * - `--ignore-ups` does not disarm the watch (upsmon: overriding the start gate never disables the shutdown trigger).
 *   It only covers the emergency it overrode: when the first reading is already an emergency, the watch waits for
 *   the power to come back (a trustworthy on-line reading) and stops the startup on the next emergency.
 * - The caller closes the watch before it runs the emergency shutdown: power returning then cannot interrupt it
 *   (NUT's power race): the shutdown finishes and the operator restarts by hand.
 *
 * `hecate startup --help` explains this to the user: UPS_WATCH_HELP in ../program.ts, kept there so that help loads
 * none of this module.
 */
import type { Gate } from '../../core/gates/index.js';
import { UpsMonitor } from '../../core/gates/monitor.js';
import { describeUpsVerdict, UpsFlag, type UpsVerdict } from '../../core/gates/ups.js';
import { type OutageWatch, watchUps } from '../../core/gates/watch.js';
import type { Clock } from '../../core/ports/index.js';

/** Poll interval while on battery, like upsmon's POLLFREQALERT; never slower than the plan's interval. */
export const ALERT_INTERVAL_MS = 5_000;

/** Why the watch stopped the startup. */
export interface UpsStop {
  /** For people: "UPS ups@host:3493 on battery at 22% (emergency below 30%)". */
  reason: string;
  verdict: UpsVerdict;
  /** When the watch decided (the reading's time). */
  at: Date;
}

export interface TriggerStep {
  state: OutageWatch;
  /** Set when the startup must stop: the reason. */
  stop?: string;
  /** Set when --ignore-ups covers an emergency seen at the first reading. */
  overridden?: boolean;
}

/**
 * The next trigger state after `verdict` read at `now` (ms); `state` undefined before the first reading. Pure.
 * See the module comment for the rules.
 */
export function startupTrigger(
  state: OutageWatch | undefined,
  verdict: UpsVerdict,
  now: number,
  ignoreUps: boolean,
): TriggerStep {
  const step = watchUps(state ?? { fired: false }, verdict, now, Number.POSITIVE_INFINITY);
  if (!step.fire) return { state: step.state };
  if (state === undefined && ignoreUps) return { state: step.state, overridden: true };
  const stop = step.fire.reason === 'lost-on-battery' ? lostReason(verdict) : emergencyReason(verdict);
  return { state: step.state, stop };
}

/** "UPS ups@h:p on battery at 22% (emergency below 30%)", or the LB / FSD flag that made it an emergency. */
export function emergencyReason(verdict: UpsVerdict): string {
  const { reading, policy } = verdict;
  const status = reading.status.join(' ');
  const charge = reading.charge === undefined ? 'charge unknown' : `charge ${reading.charge}%`;
  if (reading.status.includes(UpsFlag.ForcedShutdown)) {
    return `UPS ${reading.source} has forced shutdown set (ups.status ${status}, ${charge})`;
  }
  if (reading.charge !== undefined && reading.charge < policy.emergencyCharge) {
    return `UPS ${reading.source} on battery at ${reading.charge}% (emergency below ${policy.emergencyCharge}%)`;
  }
  return `UPS ${reading.source} on battery and reports low battery (ups.status ${status}, ${charge})`;
}

function lostReason(verdict: UpsVerdict): string {
  const { reading } = verdict;
  const why = reading.error?.message ?? verdict.reasons.map((r) => r.message).join('; ');
  return `UPS ${reading.source} stopped answering while on battery (${why}); upsmon counts that as critical`;
}

export interface StartupUpsWatchOptions {
  gate: Gate<UpsVerdict>;
  clock: Clock;
  /** The plan's `ups.pollInterval`, ms. */
  intervalMs: number;
  ignoreUps: boolean;
  /** One line per verdict change, for the person at the console. */
  report(line: string): void;
}

/**
 * One startup's watch. Pass {@link stop} to the runner (`RunOptions.stop`), call {@link start} once the UPS gate
 * step has passed, and {@link close} (awaited) before anything else runs: after close, no reading can stop anything.
 */
export class StartupUpsWatch {
  private readonly stopper = new AbortController();
  private readonly polling = new AbortController();
  private readonly monitor: UpsMonitor;
  private running: Promise<void> | undefined;
  private state: OutageWatch | undefined;
  private fired: UpsStop | undefined;

  constructor(private readonly options: StartupUpsWatchOptions) {
    this.monitor = new UpsMonitor({
      gate: options.gate,
      clock: options.clock,
      intervalMs: options.intervalMs,
      alertIntervalMs: Math.min(ALERT_INTERVAL_MS, options.intervalMs),
      onChange: (verdict) => this.onChange(verdict),
    });
  }

  /** Aborted, with the reason as a string, when the startup must stop. */
  get stop(): AbortSignal {
    return this.stopper.signal;
  }

  /** Why the startup was stopped; undefined while it was not. */
  get trigger(): UpsStop | undefined {
    return this.fired;
  }

  /** One line saying what the watch does, to print before the run. */
  describe(): string {
    const { intervalMs, ignoreUps } = this.options;
    const alert = Math.min(ALERT_INTERVAL_MS, intervalMs);
    const override = ignoreUps ? ' (--ignore-ups does not disarm it)' : '';
    return `After the UPS gate, Hecate reads the UPS every ${seconds(intervalMs)} (${seconds(alert)} on battery) while the startup runs: on battery and low, the startup stops at the next safe point and the emergency shutdown runs${override}`;
  }

  /** Starts polling (idempotent). */
  start(): void {
    if (this.running || this.polling.signal.aborted) return;
    this.running = this.monitor.run(this.polling.signal).catch((error: unknown) => {
      this.options.report(`UPS watch stopped: ${error instanceof Error ? error.message : String(error)}`);
    });
  }

  /** Stops polling and waits for a read in flight; a verdict read after this is ignored. */
  async close(): Promise<void> {
    this.polling.abort();
    await this.running;
  }

  private onChange(verdict: UpsVerdict): void {
    if (this.polling.signal.aborted) return;
    const now = this.options.clock.now();
    const step = startupTrigger(this.state, verdict, now.getTime(), this.options.ignoreUps);
    this.state = step.state;
    this.options.report(`UPS: ${describeUpsVerdict(verdict)}`);
    if (step.overridden) {
      this.options.report(
        'UPS: --ignore-ups covers this emergency; the watch stays armed and stops the startup if power returns and fails again',
      );
    }
    if (!step.stop) return;
    this.fired = { reason: step.stop, verdict, at: now };
    this.polling.abort();
    this.stopper.abort(step.stop);
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

import type { Clock } from '../ports/index.js';
import type { Gate } from './index.js';
import type { UpsVerdict } from './ups.js';

export interface UpsMonitorOptions {
  gate: Gate<UpsVerdict>;
  clock: Clock;
  /** Poll interval while on line (the plan's `ups.pollInterval`). */
  intervalMs: number;
  /** Poll interval while on battery, like upsmon's POLLFREQALERT; defaults to `intervalMs`. */
  alertIntervalMs?: number;
  /**
   * Called with the first verdict and then whenever the verdict changes (see {@link verdictKey}); a new charge
   * value alone is not a change. Awaited before the next poll. An error thrown here stops the monitor.
   */
  onChange(verdict: UpsVerdict, previous: UpsVerdict | undefined): void | Promise<void>;
}

/** What a verdict change means: blocked/on battery/low/emergency and the reason codes; not the exact charge. */
export function verdictKey(verdict: UpsVerdict): string {
  const flags = [verdict.blocked, verdict.onBattery, verdict.low, verdict.emergency].map((f) => (f ? 1 : 0));
  return `${flags.join('')}:${verdict.reasons.map((r) => r.code).join(',')}`;
}

/**
 * Keeps reading the UPS until the signal aborts, calling back on each verdict change. For the watch during startup:
 * the caller stops the chain at a safe point when `onChange` sees `emergency`.
 */
export class UpsMonitor {
  private last: UpsVerdict | undefined;

  constructor(private readonly options: UpsMonitorOptions) {}

  /** The latest verdict, for status; undefined before the first poll. */
  latest(): UpsVerdict | undefined {
    return this.last;
  }

  /** Reads once, calls back when the verdict changed, and returns the verdict. */
  async poll(signal?: AbortSignal): Promise<UpsVerdict> {
    const verdict = await this.options.gate.evaluate(signal);
    const previous = this.last;
    this.last = verdict;
    if (!previous || verdictKey(previous) !== verdictKey(verdict)) await this.options.onChange(verdict, previous);
    return verdict;
  }

  /** Polls until `signal` aborts, then resolves. Rejects when `onChange` (or a port breaking its contract) throws. */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, intervalMs, alertIntervalMs = intervalMs } = this.options;
    while (!signal.aborted) {
      try {
        const verdict = await this.poll(signal);
        await clock.sleep(verdict.onBattery ? alertIntervalMs : intervalMs, signal);
      } catch (error) {
        if (signal.aborted) return;
        throw error;
      }
    }
  }
}

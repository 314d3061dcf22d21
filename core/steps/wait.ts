import { DeadlineExceededError } from '../run/errors.js';
import type { StepContext } from '../run/executor.js';

export interface Probe {
  done: boolean;
  /** What is being waited for right now, for progress and for the deadline error. */
  status: string;
}

function formatElapsed(ms: number, round: (x: number) => number = Math.floor): string {
  const s = round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * Polls `probe` every `intervalMs` until it is done or the step's deadline passes. A probe that throws counts as
 * not done (the API may be coming back); its message becomes the status. Reports each change of status.
 */
export async function waitUntil(ctx: StepContext, probe: () => Promise<Probe>, intervalMs = 1_000): Promise<void> {
  const started = ctx.clock.now().getTime();
  let last = '';
  for (;;) {
    const result = await probe().catch((error: unknown): Probe => ({ done: false, status: (error as Error).message }));
    if (result.done) return;
    const now = ctx.clock.now().getTime();
    if (result.status !== last) {
      const budget = ctx.deadline ? ` of ${formatElapsed(ctx.deadline - started, Math.ceil)}` : '';
      ctx.report(`${result.status} (waiting ${formatElapsed(now - started)}${budget})`);
      last = result.status;
    }
    if (ctx.deadline !== undefined && now >= ctx.deadline) {
      throw new DeadlineExceededError(`gave up after ${formatElapsed(now - started)}: ${result.status}`);
    }
    await ctx.clock.sleep(intervalMs, ctx.signal);
  }
}

import type { ChangeFeed } from '../ports/index.js';
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

/** With a change feed, the poll is only a safety net (a watch that ended, an event missed): this slow. */
export const SAFETY_NET_MS = 5_000;

/**
 * Probes until it is done or the step's deadline passes. A probe that throws counts as not done (the API may be
 * coming back); its message becomes the status. Reports each change of status.
 *
 * Without `feed`, polls every `intervalMs`. With one, probes again as soon as the feed saw a change since the last
 * probe began (the latency of one watch event), and every {@link SAFETY_NET_MS} (at least `intervalMs`) otherwise.
 */
export async function waitUntil(
  ctx: StepContext,
  probe: () => Promise<Probe>,
  intervalMs = 1_000,
  feed?: ChangeFeed,
): Promise<void> {
  const started = ctx.clock.now().getTime();
  let last = '';
  for (;;) {
    const since = feed?.version ?? 0;
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
    if (!feed) {
      await ctx.clock.sleep(intervalMs, ctx.signal);
      continue;
    }
    const untilDeadline = ctx.deadline === undefined ? Number.POSITIVE_INFINITY : ctx.deadline - now;
    await feed.changedSince(since, Math.min(Math.max(intervalMs, SAFETY_NET_MS), untilDeadline), ctx.signal);
    if (ctx.signal?.aborted) throw ctx.signal.reason;
  }
}

/**
 * {@link waitUntil} on the feed `open` opens (none when the adapter cannot watch, or its watches cannot start: the
 * wait then polls), closed when the wait ends.
 */
export async function waitWatching(
  ctx: StepContext,
  probe: () => Promise<Probe>,
  intervalMs: number,
  open: (() => Promise<ChangeFeed>) | undefined,
): Promise<void> {
  const feed = open ? await open().catch(() => undefined) : undefined;
  try {
    await waitUntil(ctx, probe, intervalMs, feed);
  } finally {
    feed?.close();
  }
}

/**
 * A keyed work queue in the spirit of client-go's rate-limited workqueue: keys are deduplicated, a key is handled by
 * at most one worker at a time (a key added while it runs is handled once more afterwards), failures back off per
 * key exponentially, and `requeueAfter` schedules a later look. Informers only add keys.
 */
import { Outcome } from './outcome.js';

export type Handler = (key: string) => Promise<Outcome>;

export interface WorkQueueOptions {
  /** Workers handling different keys at once (default 2). */
  concurrency?: number;
  /** Per-key exponential backoff after `retry` or a thrown error: base·2^(failures-1), capped (default 50 ms → 5 min). */
  backoff?: { baseMs: number; maxMs: number };
  /** Called after every handled key, for metrics and logs. */
  onOutcome?: (key: string, outcome: Outcome, durationMs: number) => void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<string>();
  /** Keys added while running: handled again once the current run ends. */
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { due: number; timer: NodeJS.Timeout }>();
  private readonly failures = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  private started = false;
  private closed = false;

  constructor(
    private readonly handler: Handler,
    private readonly options: WorkQueueOptions = {},
  ) {}

  /** Starts handling keys (keys added before are kept). */
  start(): void {
    this.started = true;
    this.pump();
  }

  /** Adds a key now. A key already queued is not added twice; a running key is handled again afterwards. */
  add(key: string): void {
    if (this.closed) return;
    if (this.running.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds a key after `ms`. NOTE: an earlier pending timer for the same key wins, as in client-go's AddAfter. */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.timers.set(key, { due, timer });
  }

  /** Adds a key after its backoff delay and counts one more failure for it. */
  addRateLimited(key: string): number {
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const delay = this.backoffFor(failures);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears the key's failure count (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** The delay before retry number `failures`. */
  backoffFor(failures: number): number {
    const { baseMs, maxMs } = this.options.backoff ?? { baseMs: 50, maxMs: 300_000 };
    return Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  }

  /** Keys waiting to be handled now (not counting timers and running keys). */
  get depth(): number {
    return this.queue.length;
  }

  /** Keys currently being handled. */
  get inFlight(): number {
    return this.running.size;
  }

  /** Resolves when no key is queued or running (timers may still be pending). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting keys, drops queued ones and timers, and resolves when the running handlers have returned. */
  async shutdown(): Promise<void> {
    this.closed = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.dirty.clear();
    await this.idle();
  }

  private pump(): void {
    const limit = this.options.concurrency ?? 2;
    while (this.started && !this.closed && this.running.size < limit) {
      const index = this.queue.findIndex((key) => !this.running.has(key));
      if (index < 0) break;
      const [key] = this.queue.splice(index, 1) as [string];
      this.queued.delete(key);
      this.running.add(key);
      void this.handle(key);
    }
    if (this.queue.length === 0 && this.running.size === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async handle(key: string): Promise<void> {
    const started = Date.now();
    let outcome: Outcome;
    try {
      outcome = await this.handler(key);
    } catch (error) {
      outcome = Outcome.retry(error);
    }
    this.running.delete(key);
    this.settle(key, outcome);
    this.options.onOutcome?.(key, outcome, Date.now() - started);
    if (this.dirty.delete(key)) this.add(key);
    this.pump();
  }

  private settle(key: string, outcome: Outcome): void {
    if (this.closed) return;
    switch (outcome.kind) {
      case 'retry':
        this.addRateLimited(key);
        return;
      case 'requeueAfter':
        this.forget(key);
        this.addAfter(key, outcome.ms);
        return;
      default:
        this.forget(key);
    }
  }
}

/**
 * When a stand-in (./flux.ts, ./longhorn.ts) runs its full reconcile pass: one at a time, on demand
 * ({@link PassScheduler.reconcileNow}), 25 ms after a change (changes close together make one pass), once more after
 * the running pass when a change came during it, and every `resyncMs` besides.
 */
export interface PassSchedulerOptions {
  /** Periodic pass besides the event-driven ones. */
  resyncMs: number;
  /** Handles a failed pass (logs it, schedules another); without it, the failure rejects reconcileNow. */
  onError?: (error: unknown) => void;
}

export class PassScheduler {
  private timer: NodeJS.Timeout | undefined;
  private resync: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly options: PassSchedulerOptions,
  ) {}

  /** True once {@link stop} was called: a pass should return at once. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /** Starts the periodic pass. */
  startResync(): void {
    this.resync = setInterval(() => this.schedule(), this.options.resyncMs);
  }

  /** No pass is scheduled any more; {@link idle} waits for the one in flight. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.resync);
  }

  /** Resolves when no pass runs. */
  async idle(): Promise<void> {
    await this.running;
  }

  /** One full pass now (after any running one); resolves when it is done. */
  async reconcileNow(): Promise<void> {
    await this.running;
    const pass = this.pass();
    const handled = this.options.onError ? pass.catch(this.options.onError) : pass;
    this.running = handled.finally(() => {
      this.running = undefined;
    });
    await this.running;
  }

  /** A pass soon: after the running one, or 25 ms from now, whichever is later. */
  schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconcileNow().then(() => {
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
    }, 25);
  }
}

/**
 * Ctrl-C, as a person expects of a tool that acts on a cluster. While an executing run holds it, the first SIGINT
 * asks the run to stop at the next safe point (the step in flight finishes, or its wait is cut short; nothing after
 * it starts; the state file records where) and hecate exits 130 after saying so. A second Ctrl-C, or one while nothing
 * holds it (a dry-run, a status watch), exits 130 at once: every step is recorded before it acts and is idempotent,
 * so a rerun of the same command resumes either way.
 */
export class Interrupts {
  private readonly controller = new AbortController();
  private holders = 0;

  constructor(
    /** Ends the process with 130 (main.ts: the only place that exits). */
    private readonly exitNow: () => void,
    private readonly say: (text: string) => void,
  ) {}

  /** Aborted by the first Ctrl-C while held; its reason is the words the run records. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Until the returned function is called, a first Ctrl-C aborts {@link signal} instead of ending the process. */
  hold(): () => void {
    this.holders++;
    let released = false;
    return () => {
      if (!released) this.holders--;
      released = true;
    };
  }

  /** One SIGINT. */
  onSignal(): void {
    if (this.holders === 0 || this.controller.signal.aborted) {
      this.say('\nhecate: interrupted\n');
      this.exitNow();
      return;
    }
    this.say(
      '\nInterrupted: stopping at the next safe point (the step in flight finishes, nothing after it starts). ' +
        'Ctrl-C again exits now; a rerun resumes either way.\n',
    );
    this.controller.abort('interrupted by Ctrl-C');
  }
}

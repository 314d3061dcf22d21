import { ExitCode } from './exit.js';

/** The signals that ask hecate to stop: Ctrl-C, and SIGTERM (`systemctl stop`, `kill`, a host shutting down). */
export type StopSignal = 'SIGINT' | 'SIGTERM';

const WORDS: Record<StopSignal, string> = { SIGINT: 'Ctrl-C', SIGTERM: 'SIGTERM' };

/**
 * Ctrl-C, as a person expects of a tool that acts on a cluster; SIGTERM the same, as a service manager expects. While
 * an executing run holds it, the first signal asks the run to stop at the next safe point (the step in flight
 * finishes, or its wait is cut short; nothing after it starts; the state file records where) and hecate exits 130
 * (143 for SIGTERM) after saying so. A second signal, or one while nothing holds it (a dry-run, a status watch),
 * exits at once: every step is recorded before it acts and is idempotent, so a rerun of the same command resumes
 * either way.
 */
export class Interrupts {
  private readonly controller = new AbortController();
  private holders = 0;
  private first: StopSignal | undefined;

  constructor(
    /** Ends the process with the code (main.ts: the only place that exits). */
    private readonly exitNow: (code: ExitCode) => void,
    private readonly say: (text: string) => void,
  ) {}

  /** What stopped the run, in words (`Ctrl-C`, `SIGTERM`), and the exit code that says so. */
  get cause(): { words: string; code: ExitCode } {
    const signal = this.first ?? 'SIGINT';
    return { words: WORDS[signal], code: codeOf(signal) };
  }

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

  /** One signal. */
  onSignal(signal: StopSignal = 'SIGINT'): void {
    if (this.holders === 0 || this.controller.signal.aborted) {
      this.say(signal === 'SIGINT' ? '\nhecate: interrupted\n' : '\nhecate: terminated (SIGTERM)\n');
      this.exitNow(codeOf(signal));
      return;
    }
    this.first = signal;
    const again = signal === 'SIGINT' ? 'Ctrl-C again exits now' : 'a second SIGTERM exits now';
    this.say(
      `\n${signal === 'SIGINT' ? 'Interrupted' : 'SIGTERM'}: stopping at the next safe point (the step in flight ` +
        `finishes, nothing after it starts). ${again}; a rerun resumes either way.\n`,
    );
    this.controller.abort(signal === 'SIGINT' ? 'interrupted by Ctrl-C' : 'stopped by SIGTERM');
  }
}

function codeOf(signal: StopSignal): ExitCode {
  return signal === 'SIGINT' ? ExitCode.Interrupted : ExitCode.Terminated;
}

import type { Interrupts } from './interrupt.js';

/** What a command may touch. main.ts wires the real process; tests pass their own. */
export interface CliDeps {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  now(): Date;
  /** True when stderr is a terminal: progress is drawn with listr2 instead of one line per event. */
  isTTY?: boolean;
  /** Ctrl-C (main.ts wires SIGINT): an executing run holds it to stop at a safe point. Absent in tests that need none. */
  interrupts?: Interrupts;
  /** The command line that runs this hecate again, for `drill run`'s rehearsed runs; main.ts sets it. */
  self?: readonly string[];
}

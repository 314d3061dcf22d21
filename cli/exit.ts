/** Exit codes, documented in `hecate --help` and the README. */
export const ExitCode = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  RefusedByGate: 3,
  Unreachable: 4,
  /** 128 + SIGINT, as a shell reports a command ended by Ctrl-C. */
  Interrupted: 130,
  /** 128 + SIGTERM: stopped by `systemctl stop`, `kill` or a host going down. */
  Terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown by commands after they printed what went wrong; the single top-level catch exits with `code`. */
export class ExitError extends Error {
  override readonly name = 'ExitError';
  constructor(
    readonly code: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const EXIT_CODES_HELP = `
Exit codes:
  0    done (or the dry-run was printed)
  1    a step failed; rerun the same command to resume where it stopped
  2    bad usage or bad input (the message names the flag, file or field)
  3    refused by a gate, such as the UPS charge (see --ignore-ups)
  4    the cluster is unreachable (status)
  130  interrupted (Ctrl-C): an executing run first stops at the next safe point; rerun to resume
  143  stopped by SIGTERM (systemctl stop, kill): the same safe stop`;

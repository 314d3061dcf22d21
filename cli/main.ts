#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { CommanderError } from 'commander';
import type { StateFileError } from '../adapters/state-file.js';
import { CommandNotFoundError, describeSystemError } from '../adapters/system.js';
import { ValidationError } from '../core/api/validate.js';
import type { CliDeps } from './deps.js';
import { ExitCode, ExitError } from './exit.js';
import { Interrupts } from './interrupt.js';
import { type GlobalOptions, verbosityEnv } from './options.js';
import { buildProgram } from './program.js';

/** Runs the CLI and returns the exit code; prints every failure as one human message. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const program = buildProgram(deps);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.Ok;
  } catch (error) {
    const verbose = (program.opts() as Partial<GlobalOptions>).verbose ?? 0;
    return reportError(error, { ...deps, env: verbosityEnv(deps.env, verbose) });
  }
}

/** The exit code of a state file that cannot be used: 2 for a bad path or a bad file, 1 for the machine's state. */
function stateFileExit(error: StateFileError): ExitCode {
  if (error.problem === 'unreadable' || error.problem === 'unwritable')
    return error.isBadPath ? ExitCode.Usage : ExitCode.Failed;
  return ExitCode.Usage;
}

/** A failed system call (it has an errno code and a syscall), such as `open` or `mkdir`. */
function isSystemError(error: unknown): error is NodeJS.ErrnoException & { syscall: string } {
  const e = error as NodeJS.ErrnoException | undefined;
  return error instanceof Error && typeof e?.code === 'string' && typeof e.syscall === 'string';
}

/**
 * NOTE: main.ts loads only what `--help` needs (see ./program.ts); a class that only this path needs is imported
 * here. When such an error was thrown, its module is loaded already and the import costs nothing.
 */
async function reportError(error: unknown, deps: CliDeps): Promise<number> {
  if (error instanceof CommanderError) {
    return error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage; // commander printed its own message
  }
  if (error instanceof ExitError) {
    deps.stderr(`hecate: ${error.message}\n`);
    return error.code;
  }
  if (error instanceof ValidationError) {
    deps.stderr(`hecate: ${error.message}\n`);
    return ExitCode.Usage;
  }
  const { StateFileError } = await import('../adapters/state-file.js');
  if (error instanceof StateFileError) {
    deps.stderr(`hecate: ${error.message}\n`);
    return stateFileExit(error);
  }
  if (error instanceof CommandNotFoundError) {
    deps.stderr(`hecate: ${error.message}\n`);
    return ExitCode.Failed;
  }
  if (isSystemError(error)) {
    const where = error.path ? ` ${error.path}` : '';
    deps.stderr(`hecate: cannot ${error.syscall}${where}: ${describeSystemError(error)}\n`);
    return ExitCode.Failed;
  }
  // NOTE: anything else is a bug or an unforeseen failure: one line, and the stack only when asked for.
  const message = error instanceof Error ? error.message : String(error);
  if (deps.env.HECATE_DEBUG && error instanceof Error && error.stack) deps.stderr(`hecate: ${error.stack}\n`);
  else deps.stderr(`hecate: ${message}\n(unexpected error: -vv prints its stack trace)\n`);
  return ExitCode.Failed;
}

/** The conventional exit code of a process whose output pipe was closed (128 + SIGPIPE). */
export const BROKEN_PIPE_EXIT = 141;

/**
 * A writer for one of the process's streams that never throws a stack at the user. When the reader closes the
 * pipe (`hecate --help | head -1`), EPIPE ends the process quietly with 141 for stdout, as SIGPIPE ends most Unix
 * tools; for stderr it only stops writing there, so that a closed log pipe never stops an executing plan midway.
 * Any other write error (a full disk behind a redirection) is one line on stderr and exit 1.
 */
function processWriter(stream: NodeJS.WriteStream, name: 'stdout' | 'stderr'): (text: string) => void {
  let broken = false;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (broken) return;
    broken = true;
    if (error.code === 'EPIPE') {
      if (name === 'stdout') process.exit(BROKEN_PIPE_EXIT);
      return;
    }
    if (name === 'stdout') process.stderr.write(`hecate: cannot write to stdout: ${describeSystemError(error)}\n`);
    process.exit(ExitCode.Failed);
  });
  return (text) => {
    if (!broken) stream.write(text);
  };
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  return script !== undefined && import.meta.url === pathToFileURL(realpathSync(script)).href;
}

/** This process again: node with its flags (tsx's loader among them) and the script, or a single-file binary alone. */
function selfCommand(): string[] {
  const script = process.argv[1];
  return script && script !== process.execPath ? [process.execPath, ...process.execArgv, script] : [process.execPath];
}

if (isEntryPoint()) {
  const stderr = processWriter(process.stderr, 'stderr');
  const interrupts = new Interrupts((code) => process.exit(code), stderr);
  process.on('SIGINT', () => interrupts.onSignal('SIGINT'));
  process.on('SIGTERM', () => interrupts.onSignal('SIGTERM'));
  const deps: CliDeps = {
    stdout: processWriter(process.stdout, 'stdout'),
    stderr,
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    isTTY: process.stderr.isTTY === true,
    interrupts,
    self: selfCommand(),
  };
  process.exitCode = await runCli(process.argv.slice(2), deps);
}

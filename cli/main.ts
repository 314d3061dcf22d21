#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { CommanderError } from 'commander';
import { ValidationError } from '../core/api/validate.js';
import type { CliDeps } from './deps.js';
import { ExitCode, ExitError } from './exit.js';
import { buildProgram } from './program.js';

/** Runs the CLI and returns the exit code; prints every failure as one human message. */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  try {
    await buildProgram(deps).parseAsync([...argv], { from: 'user' });
    return ExitCode.Ok;
  } catch (error) {
    return reportError(error, deps);
  }
}

function reportError(error: unknown, deps: CliDeps): number {
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
  if (error && typeof error === 'object' && (error as { name?: string }).name === 'StateFileError') {
    deps.stderr(`hecate: ${(error as Error).message}\n`);
    return ExitCode.Usage;
  }
  deps.stderr(`hecate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  return ExitCode.Failed;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  return script !== undefined && import.meta.url === pathToFileURL(realpathSync(script)).href;
}

if (isEntryPoint()) {
  const deps: CliDeps = {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    isTTY: process.stderr.isTTY === true,
  };
  process.exitCode = await runCli(process.argv.slice(2), deps);
}

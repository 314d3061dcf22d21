import type { Action } from '../../core/api/index.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommonOptions } from '../options.js';
import { openStatus, startChangeFeed } from '../status/index.js';
import { runMode } from './plan-modes.js';

/**
 * Runs `hecate <action> [--execute]` in this process for the console: everything it prints (plan, progress lines,
 * warnings) goes line by line to `onLine`; resolves with the exit code it would have had.
 */
export async function runActionForConsole(
  action: Action,
  execute: boolean,
  options: CommonOptions,
  deps: CliDeps,
  onLine: (line: string) => void,
): Promise<number> {
  let buffer = '';
  const write = (text: string) => {
    buffer += text;
    for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
      onLine(buffer.slice(0, i));
      buffer = buffer.slice(i + 1);
    }
  };
  const quiet: CliDeps = { ...deps, stdout: write, stderr: write, isTTY: false };
  try {
    await runMode(action, { ...options, execute, output: 'text' }, quiet);
    return ExitCode.Ok;
  } catch (error) {
    write(`hecate: ${error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof ExitError ? error.code : ExitCode.Failed;
  } finally {
    if (buffer) onLine(buffer);
  }
}

/**
 * The interactive console (replaces cluster_power_console.sh): the status refreshed from watches and the actions
 * prepare, shutdown, harbor-seed and startup, each a dry-run first and `--execute` only after the plan's name is
 * typed. Needs a terminal; Ink is loaded only here.
 */
export async function runConsole(options: CommonOptions, deps: CliDeps): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new ExitError(ExitCode.Usage, 'hecate console needs a terminal; in scripts use hecate status --watch');
  }
  const collector = await openStatus({ ...options, execute: false }, deps);
  const [{ render }, { createElement }, { ConsoleApp }] = await Promise.all([
    import('ink'),
    import('react'),
    import('../console/app.js'),
  ]);
  const { ctx } = collector;
  const app = render(
    createElement(ConsoleApp, {
      planName: ctx.plan.name,
      collect: (parts) => collector.collect(parts),
      startFeed: (onChange) =>
        startChangeFeed({
          ...(ctx.kubeConfig ? { kubeConfig: ctx.kubeConfig } : {}),
          spec: ctx.plan.spec,
          stateFile: ctx.paths.stateFile,
          onChange,
        }),
      runAction: (action, execute, onLine) => runActionForConsole(action, execute, options, deps, onLine),
      now: deps.now,
    }),
    { exitOnCtrlC: true },
  );
  await app.waitUntilExit();
}

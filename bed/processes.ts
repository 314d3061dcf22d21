/**
 * Long-running component processes that cannot outlive the process that started them.
 *
 * NOTE: every component is exec'd through `setpriv --pdeathsig KILL`, so the kernel sends it SIGKILL as soon as
 * the thread that spawned it exits — even when the test runner itself is SIGKILLed and no cleanup code runs.
 * None of the components fork helpers, so the whole tree dies with them.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

export interface Component {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code or signal when the process ends, for whatever reason. */
  readonly exited: Promise<string>;
  /** Whether the process has ended. */
  hasExited(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  setpriv: string;
  logPath: string;
  env?: NodeJS.ProcessEnv;
}

export function spawnComponent(name: string, binary: string, args: string[], options: SpawnOptions): Component {
  const log = openSync(options.logPath, 'a');
  const child = spawn(options.setpriv, ['--pdeathsig', 'KILL', '--', binary, ...args], {
    stdio: ['ignore', log, log],
    env: options.env ?? process.env,
  });
  closeSync(log);
  let done = false;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(signal ?? `exit code ${code}`);
    });
    child.once('error', (error) => {
      done = true;
      resolve(`spawn error: ${error.message}`);
    });
  });
  if (child.pid === undefined) throw new Error(`Could not start ${name} (${binary})`);
  const pid = child.pid;
  return {
    name,
    pid,
    logPath: options.logPath,
    exited,
    hasExited: () => done,
    async stop(graceMs = 3000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last `lines` lines of a component's log, for error messages. */
export async function logTail(path: string, lines = 30): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Resident memory of a live process in KiB (VmRSS), or undefined when it is gone. */
export async function rssKiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a running process (a zombie, dead but not yet reaped, does not count). */
export async function isRunning(pid: number): Promise<boolean> {
  try {
    return /^State:\s+[^Z]/m.test(await readFile(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** PIDs of live processes whose command line contains `needle` (reads /proc; Linux only). */
export async function pidsWithCommandLine(needle: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const found: number[] = [];
  for (const pid of pids) {
    if (pid === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      const state = /^State:\s+(\S)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
      if (cmdline.includes(needle) && state !== 'Z') found.push(pid);
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

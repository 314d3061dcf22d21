/**
 * Cleanup that does not depend on stop() being called. Components die with the process that started them
 * through pdeathsig (see processes.ts). This file covers the rest:
 * - the runner dying while this process lives on: vitest's fork workers survive a SIGKILLed `vitest` (they
 *   are reparented, and would keep the bed running until their test ends), so when this process's parent
 *   changes, every live bed is killed at once;
 * - on a normal process exit, live beds are killed and their folders removed synchronously;
 * - after a SIGKILL nothing runs, so each start first removes folders whose owner process is gone.
 * Real nodes (./real-node/) add their own synchronous undo with `onBedKill`, run in both of the first two cases.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Component } from './processes.js';

const OWNER_FILE = 'owner';
const PARENT_POLL_MS = 500;
const live = new Map<string, readonly Component[]>();
const killHooks = new Set<() => void>();
let exitHookInstalled = false;

/** Records this process as the owner of `dir` and cleans it up if the process exits without stop(). */
export function registerBed(dir: string, components: readonly Component[]): void {
  writeFileSync(join(dir, OWNER_FILE), `${process.pid} ${startTimeOf(process.pid) ?? ''}\n`);
  live.set(dir, components);
  installExitHook();
}

/** Runs `undo` (synchronous) when this process exits or loses its parent before calling the returned `forget`. */
export function onBedKill(undo: () => void): () => void {
  killHooks.add(undo);
  installExitHook();
  return () => killHooks.delete(undo);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', killAllBeds);
  watchParent();
}

function killAllBeds(): void {
  for (const undo of killHooks) {
    try {
      undo();
    } catch (error) {
      console.error(`Bed reaper: ${(error as Error).message}`);
    }
  }
  killHooks.clear();
  for (const [bedDir, running] of live) {
    for (const c of running) if (!c.hasExited()) killQuietly(c.pid);
    if (process.env.HECATE_BED_KEEP !== '1') rmSync(bedDir, { recursive: true, force: true });
  }
  live.clear();
}

/**
 * NOTE: a changed ppid means the parent died and this process was reparented (to init or a subreaper). An IPC
 * `disconnect` (vitest's fork pool) is the same news, sooner. Neither keeps the event loop alive.
 */
function watchParent(): void {
  const parent = process.ppid;
  const onParentGone = (why: string) => {
    if (live.size === 0 && killHooks.size === 0) return;
    console.error(`Bed reaper: ${why}; killing ${live.size} control plane(s)`);
    killAllBeds();
  };
  const timer = setInterval(() => {
    if (process.ppid !== parent) onParentGone(`parent process ${parent} exited`);
  }, PARENT_POLL_MS);
  timer.unref();
  if (process.connected) process.once('disconnect', () => onParentGone('IPC channel to the parent closed'));
}

export function forgetBed(dir: string): void {
  live.delete(dir);
}

/** Removes `<root>/<prefix>*` folders whose owner process no longer exists. */
export async function sweepStaleBeds(root: string, prefix: string): Promise<string[]> {
  const stale = readdirSync(root)
    .filter((name) => name.startsWith(prefix))
    .map((name) => join(root, name))
    .filter((dir) => !ownerAlive(dir));
  await Promise.all(stale.map((dir) => rm(dir, { recursive: true, force: true })));
  return stale;
}

function ownerAlive(dir: string): boolean {
  let owner: string;
  try {
    owner = readFileSync(join(dir, OWNER_FILE), 'utf8');
  } catch {
    return true; // being created right now, or not ours: leave it
  }
  const [pid, startTime] = owner.trim().split(' ');
  const current = startTimeOf(Number(pid));
  return current !== undefined && (startTime === undefined || startTime === '' || current === startTime);
}

/**
 * Field 22 of /proc/<pid>/stat, which tells a process apart from a later one that reuses its pid; undefined when
 * the process is gone or a zombie (dead, not yet reaped).
 */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

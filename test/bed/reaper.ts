/**
 * Cleanup that does not depend on stop() being called. Components die with their parent through pdeathsig
 * (see processes.ts); this file removes what they leave on disk:
 * - on a normal process exit, live beds are killed and their folders removed synchronously;
 * - after a SIGKILL nothing runs, so each start first removes folders whose owner process is gone.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Component } from './processes.js';

const OWNER_FILE = 'owner';
const live = new Map<string, readonly Component[]>();
let exitHookInstalled = false;

/** Records this process as the owner of `dir` and cleans it up if the process exits without stop(). */
export function registerBed(dir: string, components: readonly Component[]): void {
  writeFileSync(join(dir, OWNER_FILE), `${process.pid} ${startTimeOf(process.pid) ?? ''}\n`);
  live.set(dir, components);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [bedDir, running] of live) {
      for (const c of running) if (!c.hasExited()) killQuietly(c.pid);
      if (process.env.HECATE_BED_KEEP !== '1') rmSync(bedDir, { recursive: true, force: true });
    }
  });
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

/** Field 22 of /proc/<pid>/stat: tells a process apart from a later one that reuses its pid. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
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

/**
 * One mutating run at a time on a control host: an exclusive lock file beside the state file, holding who took it
 * (host, pid, command, start time). Dry-runs take no lock.
 *
 * - The lock appears whole or not at all: it is written to a temp file and hard-linked into place (link fails
 *   with EEXIST when another run holds it), so a reader never sees half a holder.
 * - A holder on this host whose pid is gone (a crash, a kill -9, a power cut) is stale: the lock is taken over and
 *   the caller is told whose it was. A holder on another host is never judged from here.
 * - Taking over renames the stale file aside first and checks that the renamed file is the stale one, so two runs
 *   that find the same stale lock cannot both win.
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { makeDirectory } from './system.js';

export interface LockHolder {
  host: string;
  pid: number;
  /** The command line, as a user would type it: `hecate shutdown --execute`. */
  command: string;
  /** RFC 3339. */
  startedAt: string;
}

/** Someone else holds the lock; `holder` is undefined when its file could not be read. */
export class RunLockHeldError extends Error {
  override readonly name = 'RunLockHeldError';
  constructor(
    readonly path: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(`another hecate run holds ${path}: ${holder ? describeHolder(holder) : 'its holder could not be read'}`);
  }
}

export function describeHolder(holder: LockHolder): string {
  return `"${holder.command}" (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`;
}

export interface RunLockSeams {
  host: string;
  /** False when no process has this pid on this host. */
  isAlive(pid: number): boolean;
}

export const processSeams = (host: string): RunLockSeams => ({
  host,
  isAlive: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
    }
  },
});

export class RunLock {
  private constructor(
    readonly path: string,
    readonly holder: LockHolder,
    /** The stale holder this run took the lock over from, if any. */
    readonly tookOverFrom: LockHolder | undefined,
  ) {}

  /** Takes the lock or throws {@link RunLockHeldError}. Creates the folder when it is missing. */
  static async acquire(path: string, holder: LockHolder, seams: RunLockSeams): Promise<RunLock> {
    await makeDirectory(dirname(path)); // NOTE: not mkdir({ recursive }), which spins forever under /proc
    const text = `${JSON.stringify(holder, null, 2)}\n`;
    if (await placeNew(path, text)) return new RunLock(path, holder, undefined);
    const current = await readHolder(path);
    if (!current || current.holder.host !== seams.host || seams.isAlive(current.holder.pid)) {
      throw new RunLockHeldError(path, current?.holder);
    }
    const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    await rename(path, aside).catch(() => {
      throw new RunLockHeldError(path, current.holder); // another run moved it first
    });
    const moved = await readFile(aside, 'utf8').catch(() => '');
    if (moved !== current.text) {
      // Between our read and our rename another run replaced the stale lock with its own: give it back.
      await link(aside, path).catch(() => undefined);
      await rm(aside, { force: true });
      throw new RunLockHeldError(path, (await readHolder(path))?.holder);
    }
    await rm(aside, { force: true });
    if (await placeNew(path, text)) return new RunLock(path, holder, current.holder);
    throw new RunLockHeldError(path, (await readHolder(path))?.holder);
  }

  /** Removes the lock if it is still this run's; never throws. */
  async release(): Promise<void> {
    const current = await readHolder(this.path);
    if (current?.holder.pid === this.holder.pid && current.holder.startedAt === this.holder.startedAt) {
      await rm(this.path, { force: true }).catch(() => undefined);
    }
  }
}

/** Writes `text` to a temp file and links it to `path`; false when `path` exists. */
async function placeNew(path: string, text: string): Promise<boolean> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temp, { force: true });
  }
}

async function readHolder(path: string): Promise<{ holder: LockHolder; text: string } | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.host !== 'string' || typeof value.pid !== 'number') return undefined;
    return {
      holder: {
        host: value.host,
        pid: value.pid,
        command: String(value.command ?? 'hecate'),
        startedAt: String(value.startedAt ?? ''),
      },
      text,
    };
  } catch {
    return undefined;
  }
}

/** The lock beside the state file: one holder at a time, stale holders on this host taken over, never two winners. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LockHolder, RunLock, RunLockHeldError, type RunLockSeams } from '../../adapters/run-lock.js';

const HOST = 'titan-00';
/** Pids 1-99 are alive on this pretend host; any other pid is gone. */
const seams: RunLockSeams = { host: HOST, isAlive: (pid) => pid < 100 };
const holder = (pid: number, host = HOST): LockHolder => ({
  host,
  pid,
  command: 'hecate shutdown --execute',
  startedAt: `2026-12-06T02:00:${String(pid % 60).padStart(2, '0')}Z`,
});

describe('RunLock', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-lock-'));
    path = join(dir, 'state', 'outage.state.lock');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('writes the holder when free and removes it on release', async () => {
    const lock = await RunLock.acquire(path, holder(7), seams);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(holder(7));
    expect(lock.tookOverFrom).toBeUndefined();
    await lock.release();
    expect(await readdir(join(dir, 'state'))).toEqual([]);
  });

  it.each([
    { name: 'a live holder on this host', current: holder(8) },
    { name: 'a holder on another host, whatever its pid', current: holder(5000, 'titan-01') },
  ])('refuses while held by $name, naming it, and leaves its file alone', async ({ current }) => {
    await RunLock.acquire(path, current, { ...seams, host: current.host });
    const before = await readFile(path, 'utf8');
    const refused = RunLock.acquire(path, holder(9), seams);
    await expect(refused).rejects.toThrow(RunLockHeldError);
    await expect(refused).rejects.toThrow(
      `another hecate run holds ${path}: "hecate shutdown --execute" (pid ${current.pid} on ${current.host}, since ${current.startedAt})`,
    );
    expect(await readFile(path, 'utf8')).toBe(before);
  });

  it('takes over a holder on this host whose process is gone, and says whose it was', async () => {
    await RunLock.acquire(path, holder(4242), seams);
    const lock = await RunLock.acquire(path, holder(10), seams);
    expect(lock.tookOverFrom).toEqual(holder(4242));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(holder(10));
    expect((await readdir(join(dir, 'state'))).sort()).toEqual(['outage.state.lock']);
  });

  it('refuses an unreadable lock file instead of guessing', async () => {
    await RunLock.acquire(path, holder(4242), seams);
    await writeFile(path, 'not json');
    await expect(RunLock.acquire(path, holder(11), seams)).rejects.toThrow(/its holder could not be read/);
    expect(await readFile(path, 'utf8')).toBe('not json');
  });

  it('gives the lock to exactly one of many runs started together', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => RunLock.acquire(path, holder(20 + i), seams)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toSatisfy(
      (reasons: unknown[]) => reasons.every((r) => r instanceof RunLockHeldError),
    );
    expect(await readdir(join(dir, 'state'))).toEqual(['outage.state.lock']);
  });

  it('lets exactly one of many runs take over the same stale lock', async () => {
    await RunLock.acquire(path, holder(4242), seams);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => RunLock.acquire(path, holder(40 + i), seams)),
    );
    const winners = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(winners).toHaveLength(1);
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(winners[0]?.holder);
    expect(await readdir(join(dir, 'state'))).toEqual(['outage.state.lock']);
  });

  it("never releases another run's lock", async () => {
    const mine = await RunLock.acquire(path, holder(12), seams);
    await rm(path);
    await RunLock.acquire(path, holder(13), seams);
    await mine.release();
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual(holder(13));
  });
});

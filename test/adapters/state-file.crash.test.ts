/**
 * Crash safety of StateFile.save: a child process saves distinct states in a loop and is SIGKILLed at random
 * moments; after every kill the file must hold one complete state, never a mix or a torn write.
 * Reproduce a failure with HECATE_CRASH_SEED=<seed printed in the failure>.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateFile } from '../../adapters/state-file.js';
import { stateFile } from '../../core/api/progress.js';
import { counterOf } from './fixtures/state-writer.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/state-writer.ts', import.meta.url));
const NAME = 'cluster_power_recovery.state';
/** Steps per state: ~200 KB of JSON, so that a kill often lands inside a write. */
const STEPS = 1_500;
const MIN_KILLS = 20;
const MIN_WRITES = 200;
/** Kills stop after this, whatever the counts (the assertions below then say what was missed). */
const BUDGET_MS = 200_000; // generous: under load (CI beside a Go build, or beside another suite) fsyncs slow down and each run writes less
/** A kill lands this long (uniformly random) after the child reports it is ready. */
const MAX_DELAY_MS = 250;

const seed = Number(process.env.HECATE_CRASH_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function random(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Run {
  /** Counters the child reported as saved, in order. */
  reported: number[];
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Starts the writer, SIGKILLs it `delayMs` after it is ready, and resolves once it has exited. */
function killedRun(path: string, delayMs: number, children: Set<ChildProcess>): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path, String(STEPS)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const run: Run = { reported: [], signal: null, stderr: '' };
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => {
    run.stderr += chunk.toString();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    const first = stdout === '';
    stdout += chunk.toString();
    if (first) setTimeout(() => child.kill('SIGKILL'), delayMs);
  });
  return new Promise((resolve) => {
    child.on('close', (_code, signal) => {
      children.delete(child);
      run.signal = signal;
      run.reported = [...stdout.matchAll(/^wrote (\d+)$/gm)].map((m) => Number(m[1]));
      resolve(run);
    });
  });
}

/** The file as a reader sees it after a crash: absent, or one complete state whose counter it returns. */
async function inspect(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const doc = stateFile.parse(JSON.parse(text));
  const n = counterOf(doc.outage.reason);
  expect(doc.outage.suspendedByHecate.kustomizations).toEqual([`flux-system/k${n}`]);
  expect(doc.progress?.steps).toHaveLength(STEPS);
  expect(doc.progress?.steps.every((s) => s.message?.startsWith(`write ${n} `))).toBe(true);
  const loaded = await new StateFile(path).load();
  expect(loaded?.outage.reason).toBe(`write ${n}`);
  return n;
}

describe('StateFile crash safety', () => {
  let dir: string;
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-crash-'));
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it(`given a writer SIGKILLed at random points (≥${MIN_KILLS} kills, ≥${MIN_WRITES} writes), then every kill leaves one whole state`, async () => {
    const path = join(dir, NAME);
    const next = random(seed);
    const started = Date.now();
    let kills = 0;
    let writes = 0;
    let last: number | undefined;

    while ((kills < MIN_KILLS || writes < MIN_WRITES) && Date.now() - started < BUDGET_MS) {
      const run = await killedRun(path, Math.floor(next() * MAX_DELAY_MS), children);
      const context = `seed ${seed}, kill ${kills + 1}, stderr: ${run.stderr}`;
      expect(run.signal, context).toBe('SIGKILL');
      kills += 1;
      writes += run.reported.length;
      const lastReported = run.reported.at(-1) ?? last ?? 0;

      const found = await inspect(path).catch((error: Error) => {
        throw new Error(`${context}: ${error.message}`, { cause: error });
      });

      if (found === undefined) expect(lastReported, `${context}: file vanished`).toBe(0);
      // NOTE: the child prints after the rename, so the file holds the last reported state or the one after it.
      else expect([lastReported, lastReported + 1], context).toContain(found);
      last = found;
    }

    expect(kills, `seed ${seed}`).toBeGreaterThanOrEqual(MIN_KILLS);
    expect(writes, `seed ${seed}`).toBeGreaterThanOrEqual(MIN_WRITES);
    expect(last, `seed ${seed}`).toBeGreaterThanOrEqual(writes);

    // A crash may leave temp files; they are never taken for the state, and the stale ones can be cleaned.
    const temps = await new StateFile(path).cleanStaleTemps(new Date(Date.now() + 120_000));
    const took = Date.now() - started;
    console.info(
      `Crash test: ${kills} kills, ${writes} writes, ${temps.length} temp files left, ${took} ms (seed ${seed})`,
    );
    expect(await readdir(dir)).toEqual([NAME]);
  }, 240_000);
});

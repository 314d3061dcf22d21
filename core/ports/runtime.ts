/** What every part of the engine needs from its host: time, a log, and where a run's progress is kept. */
import type { OutageRecord, Progress } from '../api/index.js';

/** Time as an input, so that a test moves it and core/ never reads the wall clock. */
export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

/**
 * Where progress and the outage record live: the CLI's state file or a PowerEvent's status. Both hold the same
 * shape. `save` is atomic: after a crash a reader sees the previous or the new content, never a mix.
 */
export interface ProgressStore {
  load(): Promise<{ outage: OutageRecord; progress?: Progress } | undefined>;
  save(state: { outage: OutageRecord; progress?: Progress }): Promise<void>;
}

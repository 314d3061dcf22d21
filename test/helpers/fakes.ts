import type { OutageRecord, Progress } from '../../core/api/index.js';
import type { Clock, Logger, ProgressStore } from '../../core/ports/index.js';

/** A clock that only moves when told to; `sleep` advances it at once. */
export class FakeClock implements Clock {
  constructor(private ms = Date.parse('2026-11-25T02:00:00Z')) {}
  now(): Date {
    return new Date(this.ms);
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw signal.reason;
    this.ms += ms;
  }
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };

type Saved = { outage: OutageRecord; progress?: Progress };

/** An in-memory progress store that keeps every saved version, like a state file's history. */
export class MemoryStore implements ProgressStore {
  readonly history: Saved[] = [];
  constructor(private current?: Saved) {}
  async load(): Promise<Saved | undefined> {
    return this.current && structuredClone(this.current);
  }
  async save(state: Saved): Promise<void> {
    this.current = structuredClone(state);
    this.history.push(structuredClone(state));
  }
  get latest(): Saved | undefined {
    return this.current;
  }
}

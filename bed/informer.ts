/**
 * The stand-ins' (kubelet, Flux, Longhorn) informers on the real API server: the operator's Informer
 * (operator/runtime/informer.ts: restarts with backoff, guarded against its own stop), with the bed's defaults:
 * quick restarts (200 ms → 5 s), no watchdog (a bed lives for minutes), an optional log function, and a
 * `deleted` flag for consumers that keep per-object state. Also the kubelet stand-in's key queue.
 */
import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../core/ports/index.js';
import { Informer } from '../operator/runtime/informer.js';

export interface WatchedOptions<T extends KubernetesObject> {
  /** For log lines, e.g. "pods". */
  name: string;
  /** The watch path, e.g. "/api/v1/pods". */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** Called for every add, update and delete (level-based consumers just enqueue a key). */
  onChange: (obj: T, deleted: boolean) => void;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** First and largest restart delay (default 200 ms → 5 s). */
  backoffMs?: { min: number; max: number };
}

export class Watched<T extends KubernetesObject> {
  private readonly informer: Informer<T>;

  constructor(kubeConfig: KubeConfig, options: WatchedOptions<T>) {
    const log = options.log ?? (() => undefined);
    const logger: Logger = { info: log, warn: log, error: log, debug: () => undefined };
    this.informer = new Informer<T>(kubeConfig, {
      name: options.name,
      path: options.path,
      list: options.list,
      // NOTE: client-node changes its cache before it calls back: an object gone from it was deleted
      onChange: (obj) => options.onChange(obj, !this.get(obj.metadata?.name ?? '', obj.metadata?.namespace)),
      logger,
      backoffMs: options.backoffMs ?? { min: 200, max: 5_000 },
      staleAfterMs: 0,
    });
  }

  /** Lists and starts watching; resolves once the first list is in the cache (or failed and a retry is planned). */
  start(): Promise<void> {
    return this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }
}

/** A timestamp from the cache: watch events carry strings, typed list calls carry Dates. */
export function toMs(value: Date | string | undefined | null): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Runs `work(key)` for dirty keys, at most one run per key at a time and `concurrency` overall. A key marked
 * dirty while it runs is run again afterwards. Errors go to `onError` and the key is retried after a delay.
 */
export class KeyQueue {
  private readonly dirty = new Set<string>();
  private readonly running = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private active = 0;
  private closed = false;

  constructor(
    private readonly work: (key: string) => Promise<void>,
    private readonly options: {
      concurrency?: number;
      retryMs?: number;
      onError?: (key: string, error: unknown) => void;
    } = {},
  ) {}

  add(key: string): void {
    if (this.closed) return;
    this.dirty.add(key);
    this.pump();
  }

  /** Marks `key` dirty after `ms` (replacing an earlier timer for the same key). */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(
        () => {
          this.timers.delete(key);
          this.add(key);
        },
        Math.max(0, ms),
      ),
    );
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.dirty.clear();
  }

  private pump(): void {
    const limit = this.options.concurrency ?? 4;
    for (const key of this.dirty) {
      if (this.active >= limit) return;
      if (this.running.has(key)) continue;
      this.dirty.delete(key);
      this.running.add(key);
      this.active += 1;
      void this.work(key)
        .catch((error: unknown) => {
          this.options.onError?.(key, error);
          this.addAfter(key, this.options.retryMs ?? 1_000);
        })
        .finally(() => {
          this.running.delete(key);
          this.active -= 1;
          this.pump();
        });
    }
  }
}

/**
 * A client-node 1.4 informer that keeps running: the stand-ins (kubelet, Flux, Longhorn) watch the real API
 * server through these.
 *
 * NOTE: in client-node 1.4 any watch error other than 410 stops the informer and fires `error`; the caller must
 * restart it. `stop()` itself fires `error` with an AbortError, so restarts are guarded by `stopped`. Restarts back
 * off (bounded) because 1.4 builds a new https.Agent per reconnect (kubernetes-client/javascript#2893).
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';

export interface WatchedOptions<T extends KubernetesObject> {
  /** For log lines, e.g. "pods". */
  name: string;
  /** The watch path, e.g. "/api/v1/pods". */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** Called for every add, update and delete (level-based consumers just enqueue a key). */
  onChange: (obj: T, deleted: boolean) => void;
  labelSelector?: string;
  fieldSelector?: string;
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** First and largest restart delay. */
  backoffMs?: { min: number; max: number };
}

export class Watched<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private stopped = false;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: WatchedOptions<T>,
  ) {
    this.informer = new ListWatch<T>(
      options.path,
      new Watch(kubeConfig),
      options.list,
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    this.informer.on('add', (obj) => options.onChange(obj, false));
    this.informer.on('update', (obj) => options.onChange(obj, false));
    this.informer.on('delete', (obj) => options.onChange(obj, true));
    this.informer.on('error', (error) => this.onError(error));
  }

  /** Lists and starts watching; resolves once the first list is in the cache (or failed and a retry is planned). */
  async start(): Promise<void> {
    this.stopped = false;
    const before = this.failures;
    await this.informer.start();
    if (this.failures === before) this.failures = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    await this.informer.stop();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  private onError(error: unknown): void {
    if (this.stopped) return; // stop() aborts the watch, which reports an AbortError: not a failure
    this.failures += 1;
    const { min, max } = this.options.backoffMs ?? { min: 200, max: 5_000 };
    const delay = Math.min(max, min * 2 ** (this.failures - 1));
    this.options.log?.('Informer failed, restarting', {
      informer: this.options.name,
      delayMs: delay,
      error: error instanceof Error ? error.message : String(error),
    });
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (!this.stopped) void this.start();
    }, delay);
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

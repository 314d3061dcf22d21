/**
 * A client-node 1.4 informer (list, then watch from the list's resourceVersion, relist on 410) that never stops
 * for good and never exits the process.
 *
 * NOTE: in client-node 1.4 any watch error other than 410 stops the informer and fires `error`; the caller must
 * restart it. `stop()` itself fires `error` with an AbortError, so restarts are guarded by `stopping`. Restarts
 * back off exponentially (capped) because 1.4 builds a new https.Agent per reconnect
 * (kubernetes-client/javascript#2893), and a watchdog restarts a watch that has been silent for too long
 * (kubernetes-client/javascript#596).
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import type { Logger } from '../../core/ports/index.js';

export interface InformerOptions<T extends KubernetesObject> {
  /** For log lines and metrics, e.g. "powerevents". */
  name: string;
  /** The watch path, e.g. "/apis/power.hecate.dev/v1alpha1/namespaces/hecate-system/powerevents". */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** Called for every add, update and delete; level-based consumers only enqueue a key. */
  onChange: (obj: T) => void;
  logger: Logger;
  /** First and largest restart delay (default 500 ms → 30 s). */
  backoffMs?: { min: number; max: number };
  /** Restart the watch when nothing arrived for this long (default 10 min; 0 disables). */
  staleAfterMs?: number;
}

/**
 * What the cache keeps of an object: everything but `metadata.managedFields` (server-side apply's bookkeeping, often
 * larger than the object itself; the operator never reads it). The object is trimmed in place: it came fresh from a
 * list or a watch event and nothing else holds it.
 */
export function forTheCache<T extends KubernetesObject>(obj: T): T {
  if (obj?.metadata?.managedFields) delete obj.metadata.managedFields;
  return obj;
}

/** A Watch whose events reach the informer's cache trimmed by {@link forTheCache}. */
class TrimmingWatch extends Watch {
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const trimmed = (phase: string, obj: unknown, watchObj?: unknown) =>
      callback(phase, forTheCache(obj as KubernetesObject), watchObj);
    return super.watch(path, queryParams, trimmed, done);
  }
}

export class Informer<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private stopping = false;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastEventAt = Date.now();
  private synced = false;
  /** Restarts since start, for metrics. */
  restarts = 0;

  constructor(
    kubeConfig: KubeConfig,
    private readonly options: InformerOptions<T>,
  ) {
    const list = async () => {
      const listed = await options.list();
      return { ...listed, items: listed.items.map(forTheCache) };
    };
    this.informer = new ListWatch<T>(options.path, new TrimmingWatch(kubeConfig), list, false);
    const seen = (obj: T) => {
      this.lastEventAt = Date.now();
      options.onChange(obj);
    };
    this.informer.on('add', seen);
    this.informer.on('update', seen);
    this.informer.on('delete', seen);
    this.informer.on('connect', () => {
      this.lastEventAt = Date.now();
    });
    this.informer.on('error', (error) => this.onError(error));
  }

  /**
   * Lists and starts watching. Resolves when the first attempt is over: check `hasSynced`. NOTE: in 1.4 a failed
   * list fires `error` (which schedules a restart) and `start()` still resolves.
   */
  async start(): Promise<void> {
    this.stopping = false;
    const failures = this.failures;
    await this.informer.start();
    if (this.informer.latestResourceVersion()) {
      this.synced = true;
      // NOTE: a watch that cannot connect fires `error` before start() resolves, and the list's resourceVersion
      // outlives it: only an attempt without a new failure ends the backoff
      if (this.failures === failures) this.failures = 0;
    }
    this.armWatchdog();
  }

  /** Resolves once a list has completed, or rejects after `timeoutMs`. */
  async waitForSync(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.synced) {
      if (Date.now() > deadline) throw new Error(`informer ${this.options.name} did not sync in ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    await this.informer.stop();
  }

  get name(): string {
    return this.options.name;
  }

  /** True once a list has completed. */
  get hasSynced(): boolean {
    return this.synced;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.informer.list(namespace);
  }

  private onError(error: unknown): void {
    if (this.stopping) return; // stop() aborts the watch, which reports an AbortError: not a failure
    this.failures += 1;
    const { min, max } = this.options.backoffMs ?? { min: 500, max: 30_000 };
    const delay = Math.min(max, min * 2 ** (this.failures - 1));
    this.options.logger.warn('Informer failed, restarting', {
      informer: this.options.name,
      delayMs: delay,
      error: error instanceof Error ? error.message : String(error),
    });
    this.scheduleRestart(delay);
  }

  private scheduleRestart(delay: number): void {
    clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      if (this.stopping) return;
      this.restarts += 1;
      // NOTE: a failed list fires `error` too, which schedules the next attempt; the rejection is not a new failure.
      this.start().catch(() => undefined);
    }, delay);
  }

  private armWatchdog(): void {
    const staleAfter = this.options.staleAfterMs ?? 600_000;
    clearInterval(this.watchdog);
    if (staleAfter <= 0) return;
    this.watchdog = setInterval(
      () => {
        if (this.stopping || Date.now() - this.lastEventAt < staleAfter) return;
        this.options.logger.info('Informer quiet for too long, restarting the watch', { informer: this.options.name });
        this.lastEventAt = Date.now();
        clearInterval(this.watchdog);
        this.stopping = true;
        void this.informer.stop().finally(() => {
          this.stopping = false;
          this.scheduleRestart(0);
        });
      },
      Math.min(staleAfter, 60_000),
    );
    this.watchdog.unref?.();
  }
}

/**
 * A ChangeFeed (core/ports/index.ts) from API watches: every event on the watched objects wakes the wait that holds the
 * feed, which then looks again at once instead of at its next poll. A watch that ends is not restarted: the wait's
 * slow poll is the safety net. Closing the feed stops every watch.
 */
import { type KubeConfig, Watch } from '@kubernetes/client-node';
import type { ChangeFeed } from '../../core/ports/index.js';

/** A {@link ChangeFeed} bumped on each watch event; `onClose` stops the watches. */
export class ChangeCounter implements ChangeFeed {
  private count = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly onClose: () => void = () => {}) {}

  get version(): number {
    return this.count;
  }

  bump(): void {
    this.count += 1;
    for (const wake of [...this.waiters]) wake();
  }

  changedSince(since: number, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.count > since || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  close(): void {
    for (const wake of [...this.waiters]) wake();
    this.onClose();
  }
}

/** One watch: a collection path (`/api/v1/nodes`) and what to select in it. */
export interface WatchTarget {
  path: string;
  fieldSelector?: string;
  labelSelector?: string;
}

/** How long opening the watches may take before the wait goes on polling instead. */
const OPEN_TIMEOUT_MS = 5_000;

export async function watchFeed(kc: KubeConfig, targets: readonly WatchTarget[]): Promise<ChangeFeed> {
  const controllers: AbortController[] = [];
  let closed = false;
  const feed = new ChangeCounter(() => {
    closed = true;
    for (const controller of controllers) controller.abort();
  });
  const watch = new Watch(kc);
  const opened = Promise.all(
    targets.map(async ({ path, fieldSelector, labelSelector }) => {
      const query = {
        allowWatchBookmarks: false,
        ...(fieldSelector ? { fieldSelector } : {}),
        ...(labelSelector ? { labelSelector } : {}),
      };
      const controller = await watch.watch(
        path,
        query,
        () => feed.bump(),
        () => undefined, // ended: the wait's poll goes on
      );
      if (closed) controller.abort();
      else controllers.push(controller);
    }),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watches did not open in ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
  });
  try {
    await Promise.race([opened, timeout]);
    return feed;
  } catch (error) {
    feed.close();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** The collection path and name selector of one object's API path (`/apis/apps/v1/namespaces/a/deployments/b`). */
export function objectWatch(objectPath: string): WatchTarget {
  const cut = objectPath.lastIndexOf('/');
  return { path: objectPath.slice(0, cut), fieldSelector: `metadata.name=${objectPath.slice(cut + 1)}` };
}

/** How long after a shared watch ended it is opened again for the waits still holding it. */
const REOPEN_MS = 1_000;

/**
 * One watch of a whole collection, shared by every wait in flight on its objects: a power-off of 200 workers holds
 * one watch of the Nodes, not 200 connections. Each feed is bumped only by events on the objects it names (all of
 * them when it names none). The watch opens with the first feed and stops with the last. One that ends while waits
 * hold it (the API server restarted, or timed the watch out) wakes them all to look again and is opened again for
 * them a second later, and again until it opens or the last of them is done: the waits do not fall back to their
 * slow poll for the rest of their run.
 */
export class SharedWatch {
  private readonly subscribers = new Set<{ names: ReadonlySet<string>; counter: ChangeCounter }>();
  private open: Promise<AbortController> | undefined;

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
  ) {}

  async feed(names: readonly string[]): Promise<ChangeFeed> {
    const subscriber = {
      names: new Set(names),
      counter: new ChangeCounter(() => {
        this.subscribers.delete(subscriber);
        if (this.subscribers.size === 0) this.stop();
      }),
    };
    this.subscribers.add(subscriber);
    try {
      await this.opened();
      return subscriber.counter;
    } catch (error) {
      subscriber.counter.close();
      throw error;
    }
  }

  private opened(): Promise<AbortController> {
    if (this.open) return this.open;
    let open: Promise<AbortController> | undefined;
    const ended = () => {
      if (open === undefined || this.open !== open) return; // stopped, or already replaced
      this.open = undefined;
      for (const s of this.subscribers) s.counter.bump(); // look again now: events may have been missed
      this.reopenLater();
    };
    const opening = new Watch(this.kc).watch(
      this.path,
      { allowWatchBookmarks: false },
      (_type: string, object: { metadata?: { name?: string } }) => {
        const name = object?.metadata?.name ?? '';
        for (const s of this.subscribers) if (s.names.size === 0 || s.names.has(name)) s.counter.bump();
      },
      ended,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`watches did not open in ${OPEN_TIMEOUT_MS} ms`)), OPEN_TIMEOUT_MS);
    });
    open = Promise.race([opening, timeout]).finally(() => clearTimeout(timer));
    this.open = open;
    const failed = open;
    failed.catch(() => {
      if (this.open !== failed) return;
      this.open = undefined;
      this.reopenLater();
    });
    return open;
  }

  /** Opens the watch again for the waits still holding it; none left: nothing (the loop ends by itself). */
  private reopenLater(): void {
    if (this.subscribers.size === 0) return;
    const timer = setTimeout(() => {
      if (this.subscribers.size > 0 && !this.open) this.opened().catch(() => undefined);
    }, REOPEN_MS);
    timer.unref?.();
  }

  private stop(): void {
    const open = this.open;
    this.open = undefined;
    void open?.then((controller) => controller.abort()).catch(() => undefined);
  }
}

/**
 * A ChangeFeed (core/ports.ts) from API watches: every event on the watched objects wakes the wait that holds the
 * feed, which then looks again at once instead of at its next poll. A watch that ends is not restarted: the wait's
 * slow poll is the safety net. Closing the feed stops every watch.
 */
import { type KubeConfig, Watch } from '@kubernetes/client-node';
import type { ChangeFeed } from '../../core/ports.js';

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

/**
 * A watch of one API path (`/api/v1/nodes`, a custom resource's collection) that reconnects by itself: after an
 * error or an end it says so (`onRestart`) and starts again after a backoff, doubling up to `maxBackoffMs`, back to
 * one second once an event arrives. For views that follow the cluster (`hecate status --watch`).
 */
import { type KubeConfig, Watch } from '@kubernetes/client-node';

export interface PathWatchOptions {
  onEvent(phase: string, object: unknown): void;
  /** The watch ended or failed; it starts again after the backoff. */
  onRestart(): void;
  maxBackoffMs: number;
}

/** Starts watching `path`; the returned function stops it for good. */
export function watchApiPath(kc: KubeConfig, path: string, options: PathWatchOptions): () => void {
  const watcher = new Watch(kc);
  let controller: AbortController | undefined;
  let retry: NodeJS.Timeout | undefined;
  let stopped = false;
  let backoff = 1_000;
  const start = () => {
    if (stopped) return;
    watcher
      .watch(
        path,
        { allowWatchBookmarks: false },
        (phase, object) => {
          backoff = 1_000;
          options.onEvent(phase, object);
        },
        () => restart(),
      )
      .then((c) => {
        if (stopped) c.abort();
        else controller = c;
      })
      .catch(() => restart());
  };
  const restart = () => {
    if (stopped || retry) return;
    options.onRestart();
    retry = setTimeout(() => {
      retry = undefined;
      start();
    }, backoff);
    backoff = Math.min(backoff * 2, options.maxBackoffMs);
  };
  start();
  return () => {
    stopped = true;
    clearTimeout(retry);
    controller?.abort();
  };
}

/**
 * Change notifications for `status --watch` and the console: Kubernetes watches (nodes, Flux objects and source,
 * workloads, Harbor's pods, PowerEvents), the state file's folder, and the UPS at the plan's poll interval (NUT has
 * no push). Each change schedules one refresh after a short quiet period; nothing polls the API server.
 *
 * NOTE: a watch that ends (the API went away, or its timeout) is restarted with backoff; the failed restart itself
 * schedules a refresh, so the screen says "unreachable" within a second or two of the API going down.
 */
import { watch as watchFiles } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { watchApiPath } from '../../adapters/kube/path-watch.js';
import { type PowerPlanSpec, parseDuration } from '../../core/api/index.js';

const SOURCE_PLURAL: Record<string, string> = {
  GitRepository: 'gitrepositories',
  OCIRepository: 'ocirepositories',
  Bucket: 'buckets',
};

/** The API paths watched: everything the status shows that lives in the cluster. */
export function watchedPaths(spec: PowerPlanSpec): string[] {
  const { source, namespace } = spec.flux;
  const paths = [
    '/api/v1/nodes',
    '/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations',
    '/apis/helm.toolkit.fluxcd.io/v2/helmreleases',
    `/apis/source.toolkit.fluxcd.io/v1/namespaces/${namespace}/${SOURCE_PLURAL[source.kind] ?? 'gitrepositories'}`,
    '/apis/apps/v1/deployments',
    '/apis/apps/v1/statefulsets',
    '/apis/apps/v1/daemonsets',
    '/apis/power.hecate.dev/v1alpha1/powerevents',
  ];
  if (spec.harbor) paths.push(`/api/v1/namespaces/${spec.harbor.namespace}/pods`);
  return paths;
}

/** What a change invalidates: the cluster (a watch), the state file, the UPS reading. */
export type StatusPart = 'cluster' | 'state' | 'ups';

export interface ChangeFeedOptions {
  kubeConfig?: KubeConfig;
  spec: PowerPlanSpec;
  stateFile: string;
  /** Called after each burst of changes, at most once per `quietMs`, with what changed. */
  onChange: (changed: ReadonlySet<StatusPart>) => void;
  quietMs?: number;
  /** Restart delay of a watch that ended: doubles from 1 s up to this. */
  maxBackoffMs?: number;
}

export interface ChangeFeed {
  stop(): void;
}

/** Starts every source of change; `stop()` ends them all. */
export function startChangeFeed(options: ChangeFeedOptions): ChangeFeed {
  const quietMs = options.quietMs ?? 300;
  let stopped = false;
  let pending: NodeJS.Timeout | undefined;
  let changed = new Set<StatusPart>();
  const schedule = (part: StatusPart) => {
    if (stopped) return;
    changed.add(part);
    pending ??= setTimeout(() => {
      pending = undefined;
      const parts = changed;
      changed = new Set();
      if (!stopped) options.onChange(parts);
    }, quietMs);
  };
  const stops: (() => void)[] = [];
  if (options.kubeConfig) {
    for (const path of watchedPaths(options.spec)) {
      stops.push(watchPath(options.kubeConfig, path, schedule, options.maxBackoffMs ?? 8_000));
    }
  }
  stops.push(watchStateFile(options.stateFile, schedule));
  const upsMs = options.spec.ups.source === 'none' ? 0 : parseDuration(options.spec.ups.pollInterval);
  if (upsMs > 0) {
    const timer = setInterval(() => schedule('ups'), Math.max(1_000, upsMs));
    stops.push(() => clearInterval(timer));
  }
  return {
    stop: () => {
      stopped = true;
      clearTimeout(pending);
      for (const stop of stops) stop();
    },
  };
}

/**
 * What the status can show of an object: everything but bookkeeping. NOTE: kubelets rewrite node conditions with a
 * new lastHeartbeatTime every few seconds; without this, every heartbeat would re-read the whole status.
 */
export function fingerprint(object: unknown): string {
  return JSON.stringify(object, (key, value) =>
    key === 'resourceVersion' || key === 'managedFields' || key === 'lastHeartbeatTime' || key === 'renewTime'
      ? undefined
      : value,
  );
}

/** Schedules a refresh only when an object changed in a way the status can show. */
function changeFilter(schedule: () => void): (phase: string, object: unknown) => void {
  const seen = new Map<string, string>();
  return (phase, object) => {
    const meta = (object as { metadata?: { uid?: string; namespace?: string; name?: string } })?.metadata;
    const key = meta?.uid ?? `${meta?.namespace}/${meta?.name}`;
    if (phase === 'DELETED') {
      seen.delete(key);
      schedule();
      return;
    }
    const print = fingerprint(object);
    if (seen.get(key) === print) return;
    seen.set(key, print);
    schedule();
  };
}

function watchPath(
  kc: KubeConfig,
  path: string,
  schedule: (part: StatusPart) => void,
  maxBackoffMs: number,
): () => void {
  const changed = changeFilter(() => schedule('cluster'));
  return watchApiPath(kc, path, { onEvent: changed, onRestart: () => schedule('cluster'), maxBackoffMs });
}

/** The state file is replaced by rename: watch its folder and filter by name. A missing folder is waited for. */
function watchStateFile(path: string, schedule: (part: StatusPart) => void): () => void {
  const name = basename(path);
  let closer: (() => void) | undefined;
  let retry: NodeJS.Timeout | undefined;
  const start = () => {
    try {
      const watcher = watchFiles(dirname(path), (_event, file) => {
        if (file === null || String(file) === name) schedule('state');
      });
      watcher.on('error', () => undefined);
      closer = () => watcher.close();
    } catch {
      retry = setTimeout(start, 2_000);
    }
  };
  start();
  return () => {
    clearTimeout(retry);
    closer?.();
  };
}

import { CoreV1Api, type KubeConfig, type V1DeleteOptions, type V1Pod, Watch } from '@kubernetes/client-node';
import type { MutationOptions, PodLike, PodPort, PodRef, PodRequestOutcome } from '../../core/ports/index.js';
import { statusOf } from './errors.js';

export interface KubePodsOptions {
  /**
   * After the first watch event, how long `nextChange` gathers more before it resolves, so that one eviction (which
   * sets deletionTimestamp, then the kubelet's status update, then the removal) wakes the drain once, not thrice.
   */
  settleMs?: number;
}

/**
 * PodPort on client-node: evictions through policy/v1 `pods/eviction`, deletes with a uid precondition, and a
 * watch on the node's pods for `nextChange`.
 *
 * NOTE: `nextChange` watches from the resourceVersion of the last `listOnNode` of that node, so that a change
 * between the caller's last look and the watch is not missed; a watch without one would replay every pod as ADDED.
 */
export class KubePods implements PodPort {
  private readonly api: CoreV1Api;
  private readonly watch: Watch;
  private readonly settleMs: number;
  private readonly listedAt = new Map<string, string>();

  constructor(kc: KubeConfig, options: KubePodsOptions = {}) {
    this.api = kc.makeApiClient(CoreV1Api);
    this.watch = new Watch(kc);
    this.settleMs = options.settleMs ?? 100;
  }

  async listOnNode(node: string): Promise<PodLike[]> {
    const list = await this.api.listPodForAllNamespaces({ fieldSelector: nodeSelector(node) });
    const version = list.metadata?.resourceVersion;
    if (version) this.listedAt.set(node, version);
    return list.items as PodLike[];
  }

  async get(namespace: string, name: string): Promise<PodLike | undefined> {
    try {
      return (await this.api.readNamespacedPod({ namespace, name })) as V1Pod as PodLike;
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** 201 → accepted, 429 → too-many-requests (a PodDisruptionBudget), 404 → not-found; anything else throws. */
  evict(
    pod: PodRef,
    gracePeriodSeconds: number | undefined,
    options: MutationOptions = {},
  ): Promise<PodRequestOutcome> {
    const deleteOptions = deleteOptionsFor(pod, gracePeriodSeconds, options);
    return outcomeOf(
      this.api.createNamespacedPodEviction({
        name: pod.name,
        namespace: pod.namespace,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: pod.name, namespace: pod.namespace },
          deleteOptions,
        },
        ...(options.dryRun ? { dryRun: 'All' } : {}),
      }),
    );
  }

  /** A plain DELETE (PodDisruptionBudgets bypassed) that only hits this uid: 409 when the name has a new pod. */
  delete(
    pod: PodRef,
    gracePeriodSeconds: number | undefined,
    options: MutationOptions = {},
  ): Promise<PodRequestOutcome> {
    return outcomeOf(
      this.api.deleteNamespacedPod({
        name: pod.name,
        namespace: pod.namespace,
        ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
        ...(options.dryRun ? { dryRun: 'All' } : {}),
        body: deleteOptionsFor(pod, gracePeriodSeconds, options),
      }),
    );
  }

  /**
   * Resolves shortly after the first watch event on the node's pods (bookmarks aside), when the watch ends or fails
   * (the caller looks again either way), after `timeoutMs`, or when `signal` aborts. Never rejects; the watch is
   * always aborted before it resolves.
   */
  async nextChange(node: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    if (!this.listedAt.has(node)) await this.listOnNode(node);
    const query = {
      fieldSelector: nodeSelector(node),
      resourceVersion: this.listedAt.get(node),
      timeoutSeconds: Math.max(1, Math.ceil(timeoutMs / 1000)),
    };
    await new Promise<void>((resolve) => {
      const finish = once(() => {
        clearTimeout(timer);
        clearTimeout(settle);
        signal?.removeEventListener('abort', finish);
        void started.then(
          (controller) => controller.abort(),
          () => {},
        );
        resolve();
      });
      let settle: NodeJS.Timeout | undefined;
      const timer = setTimeout(finish, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', finish, { once: true });
      const started = this.watch.watch(
        '/api/v1/pods',
        query,
        (type) => {
          if (type !== 'BOOKMARK') settle ??= setTimeout(finish, this.settleMs);
        },
        finish,
      );
      started.catch(finish);
    });
  }
}

function nodeSelector(node: string): string {
  return `spec.nodeName=${node}`;
}

function deleteOptionsFor(pod: PodRef, gracePeriodSeconds: number | undefined, options: MutationOptions) {
  const body: V1DeleteOptions = { preconditions: { uid: pod.uid } };
  if (gracePeriodSeconds !== undefined) body.gracePeriodSeconds = gracePeriodSeconds;
  if (options.dryRun) body.dryRun = ['All'];
  return body;
}

async function outcomeOf(request: Promise<unknown>): Promise<PodRequestOutcome> {
  try {
    await request;
    return 'accepted';
  } catch (error) {
    const status = statusOf(error);
    if (status === 429) return 'too-many-requests';
    if (status === 404) return 'not-found';
    throw error;
  }
}

function once(fn: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}

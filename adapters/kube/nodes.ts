import { CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions, type V1Node } from '@kubernetes/client-node';
import type { ChangeFeed, MutationOptions, NodePort, NodeView } from '../../core/ports/index.js';
import { within } from '../within.js';
import { isNotFound } from './errors.js';
import { SharedWatch } from './watch-feed.js';

export const CORDONED_BY = 'power.hecate.dev/cordoned-by';
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function toNodeView(node: V1Node): NodeView {
  const cordonedBy = node.metadata?.annotations?.[CORDONED_BY];
  const arch = node.metadata?.labels?.['kubernetes.io/arch'];
  const bootId = node.status?.nodeInfo?.bootID;
  const condition = node.status?.conditions?.find((c) => c.type === 'Ready');
  const ready = condition?.status === 'True';
  const transition = condition?.lastTransitionTime;
  const since = transition ? new Date(transition).toISOString() : undefined;
  const downSince = ready ? undefined : since;
  const readySince = ready ? since : undefined;
  return {
    name: node.metadata?.name ?? '',
    ready,
    unschedulable: node.spec?.unschedulable === true,
    ...(cordonedBy ? { cordonedBy } : {}),
    ...(arch ? { arch } : {}),
    ...(bootId ? { bootId } : {}),
    ...(downSince ? { downSince } : {}),
    ...(readySince ? { readySince } : {}),
  };
}

/** How long one node read may take by default (`get`). */
export const NODE_READ_TIMEOUT_MS = 15_000;

/** A read the API server accepted but never answered (an etcd without quorum makes it hang, not refuse). */
export class ApiReadTimeoutError extends Error {
  override readonly name = 'ApiReadTimeoutError';
}

/**
 * NodePort on client-node: cordon is a merge patch of `spec.unschedulable` plus Hecate's annotation.
 * NOTE: `get` is bounded (`readTimeoutMs`): the power-off steps read nodes while the control plane goes down, and a
 * k3s server whose etcd lost quorum accepts the connection and hangs; unbounded, the last power-offs would wait on it.
 */
export class KubeNodes implements NodePort {
  private readonly api: CoreV1Api;
  private readonly nodeWatch: SharedWatch;

  constructor(
    kc: KubeConfig,
    private readonly options: { readTimeoutMs?: number } = {},
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
    this.nodeWatch = new SharedWatch(kc, '/api/v1/nodes');
  }

  async list(): Promise<NodeView[]> {
    return (await this.api.listNode()).items.map(toNodeView);
  }

  async get(name: string): Promise<NodeView | undefined> {
    const ms = this.options.readTimeoutMs ?? NODE_READ_TIMEOUT_MS;
    try {
      const node = await within(ms, this.api.readNode({ name }));
      if (node === undefined) {
        throw new ApiReadTimeoutError(`reading node ${name}: the API server did not answer within ${ms} ms`);
      }
      return toNodeView(node);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Events on the named nodes (every node when none is named): the node-down and nodes-Ready waits look again on
   * each. Every wait of this adapter shares one watch of the Nodes.
   */
  watch(names: readonly string[]): Promise<ChangeFeed> {
    return this.nodeWatch.feed(names);
  }

  async cordon(name: string, owner: string, options: MutationOptions = {}): Promise<void> {
    await this.patch(
      name,
      { spec: { unschedulable: true }, metadata: { annotations: { [CORDONED_BY]: owner } } },
      options,
    );
  }

  async uncordon(name: string, options: MutationOptions = {}): Promise<void> {
    await this.patch(
      name,
      { spec: { unschedulable: null }, metadata: { annotations: { [CORDONED_BY]: null } } },
      options,
    );
  }

  private async patch(name: string, body: object, options: MutationOptions): Promise<void> {
    await this.api.patchNode(
      { name, body, fieldManager: 'hecate', ...(options.dryRun ? { dryRun: 'All' } : {}) },
      MERGE_PATCH,
    );
  }
}

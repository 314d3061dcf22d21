/**
 * The live cluster's nodes for `hecate analyze --emit-plan --kubeconfig`: names, roles from the node-role labels,
 * and architecture. One read; nothing is changed.
 */
import { CoreV1Api, type KubeConfig, type V1Node } from '@kubernetes/client-node';
import type { DraftNode, DraftNodes } from '../../core/ports/analyze.js';
import { within } from '../within.js';
import { describeTarget } from './config.js';

/** How long the node list may take: an API server that accepts and never answers must not hang analyze. */
export const NODE_LIST_TIMEOUT_MS = 15_000;

const CONTROL_PLANE_LABELS = ['node-role.kubernetes.io/control-plane', 'node-role.kubernetes.io/master'];

/** A node as a draft plan lists it. NOTE: k3s servers carry both control-plane and master labels. */
export function toDraftNode(node: V1Node): DraftNode {
  const labels = node.metadata?.labels ?? {};
  const arch = labels['kubernetes.io/arch'] ?? node.status?.nodeInfo?.architecture;
  return {
    name: node.metadata?.name ?? '',
    role: CONTROL_PLANE_LABELS.some((l) => l in labels) ? 'control-plane' : 'worker',
    ...(arch === 'amd64' || arch === 'arm64' ? { arch } : {}),
  };
}

/** Lists the cluster's nodes; throws when the API server refuses or does not answer in time. */
export async function readDraftNodes(kc: KubeConfig, timeoutMs = NODE_LIST_TIMEOUT_MS): Promise<DraftNodes> {
  const target = describeTarget(kc);
  const list = await within(timeoutMs, kc.makeApiClient(CoreV1Api).listNode());
  if (!list) throw new Error(`listing the nodes of ${target}: no answer within ${timeoutMs} ms`);
  const nodes = list.items.map(toDraftNode).filter((n) => n.name !== '');
  return { nodes: nodes.sort((a, b) => a.name.localeCompare(b.name)), from: `the cluster at ${target}` };
}

/**
 * What the power-off steps read from a Node: Ready, the boot ID, and since when a node that is not Ready has been so
 * (the Ready condition's lastTransitionTime, which the node-lifecycle controller sets when heartbeats stop).
 */
import type { V1Node, V1NodeSystemInfo } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { toNodeView } from '../../../adapters/kube/nodes.js';

const node = (status: string, transition?: string): V1Node => ({
  metadata: { name: 'titan-03', labels: { 'kubernetes.io/arch': 'amd64' } },
  status: {
    nodeInfo: { bootID: 'b-1' } as V1NodeSystemInfo,
    conditions: [
      { type: 'MemoryPressure', status: 'False' },
      {
        type: 'Ready',
        status,
        reason: status === 'Unknown' ? 'NodeStatusUnknown' : 'KubeletReady',
        ...(transition ? { lastTransitionTime: new Date(transition) } : {}),
      },
    ],
  },
});

describe('toNodeView', () => {
  it('gives a node that is not Ready the time its Ready condition changed', () => {
    expect(toNodeView(node('Unknown', '2026-12-07T02:00:05Z'))).toEqual({
      name: 'titan-03',
      ready: false,
      unschedulable: false,
      arch: 'amd64',
      bootId: 'b-1',
      downSince: '2026-12-07T02:00:05.000Z',
    });
    expect(toNodeView(node('False', '2026-12-07T02:00:05Z')).downSince).toBe('2026-12-07T02:00:05.000Z');
  });

  it('gives a Ready node the time it became Ready, and no downSince; a NotReady one without a transition time neither', () => {
    expect(toNodeView(node('True', '2026-12-07T01:00:00Z'))).not.toHaveProperty('downSince');
    expect(toNodeView(node('True', '2026-12-07T01:00:00Z')).readySince).toBe('2026-12-07T01:00:00.000Z');
    expect(toNodeView(node('Unknown', '2026-12-07T02:00:05Z'))).not.toHaveProperty('readySince');
    expect(toNodeView(node('Unknown'))).not.toHaveProperty('downSince');
    expect(toNodeView(node('Unknown')).ready).toBe(false);
  });
});

/**
 * A larger bed from the Atlas scenario (atlas.yaml): its 3 control-plane nodes and 4 workers, Flux, the bootstrap
 * chain and apps, plus generated workers `titan-08` … up to `total` nodes, each running a small Deployment pinned to
 * it (nodeSelector, so an evicted pod's replacement stays Pending instead of landing on a worker still to drain)
 * beside the Atlas DaemonSets. `fleetPlanNodes` is the matching `spec.nodes` of the PowerPlan: Atlas's own entries
 * (roles, arch, power-off order) and every generated worker.
 *
 *   withFleet(atlas)            # 50 nodes: 3 control-plane + 47 workers
 *   withFleet(atlas, 20, 3)     # 20 nodes, 3 pinned pods per generated worker
 */
import type { Scenario } from '../scenario.js';

export interface PlanNode {
  name: string;
  role: 'control-plane' | 'worker';
  arch: 'amd64' | 'arm64';
  order?: number;
}

const FIRST_GENERATED = 8;

/** The names of the workers `withFleet` adds to a 7-node Atlas to reach `total` nodes. */
export function fleetWorkerNames(total: number): string[] {
  return Array.from(
    { length: Math.max(0, total - (FIRST_GENERATED - 1)) },
    (_, i) => `titan-${String(FIRST_GENERATED + i).padStart(2, '0')}`,
  );
}

/** Atlas with generated workers up to `total` nodes, `podsPerWorker` pinned pods on each (10 s grace). */
export function withFleet(atlas: Scenario, total = 50, podsPerWorker = 2): Scenario {
  if (atlas.nodes.length !== FIRST_GENERATED - 1) {
    throw new Error(`withFleet expects the 7-node Atlas scenario, got ${atlas.nodes.length} nodes`);
  }
  const names = fleetWorkerNames(total);
  return {
    ...atlas,
    name: `atlas-fleet-${total}`,
    nodes: [
      ...atlas.nodes,
      ...names.map((name, i) => ({
        name,
        role: 'worker' as const,
        arch: i % 2 === 0 ? ('amd64' as const) : ('arm64' as const),
        labels: {},
        taints: [],
        capacity: { cpu: '4', memory: '16Gi', pods: 110 },
        images: [],
      })),
    ],
    workloads: [
      ...atlas.workloads,
      ...names.map((name) => ({
        kind: 'Deployment' as const,
        namespace: 'fleet',
        name: `${name}-svc`,
        image: 'registry.k8s.io/pause:3.10',
        labels: {},
        nodeSelector: { 'kubernetes.io/hostname': name },
        tolerations: [],
        emptyDir: false,
        terminationGracePeriodSeconds: 10,
        requests: { cpu: '10m', memory: '16Mi' },
        replicas: podsPerWorker,
        pvcs: [],
        pvcSize: '1Gi',
      })),
    ],
  };
}

/** The PowerPlan's `spec.nodes` for a fleet scenario: Atlas's entries as written, then the generated workers. */
export function fleetPlanNodes(atlasPlanNodes: readonly PlanNode[], scenario: Scenario): PlanNode[] {
  const known = new Set(atlasPlanNodes.map((n) => n.name));
  return [
    ...atlasPlanNodes,
    ...scenario.nodes.filter((n) => !known.has(n.name)).map((n) => ({ name: n.name, role: n.role, arch: n.arch })),
  ];
}

/** PreflightPort on client-node: one read-only snapshot of PDBs, StatefulSets, pods and nodes. */
import { AppsV1Api, CoreV1Api, type KubeConfig, PolicyV1Api } from '@kubernetes/client-node';
import type { PreflightPort, PreflightSnapshot } from '../../core/steps/prepare-ports.js';
import { toNodeView } from './nodes.js';

export class KubePreflight implements PreflightPort {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly policy: PolicyV1Api;

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.policy = kc.makeApiClient(PolicyV1Api);
  }

  async snapshot(): Promise<PreflightSnapshot> {
    const [pdbs, sets, pods, nodes] = await Promise.all([
      this.policy.listPodDisruptionBudgetForAllNamespaces(),
      this.apps.listStatefulSetForAllNamespaces(),
      this.core.listPodForAllNamespaces(),
      this.core.listNode(),
    ]);
    return {
      pdbs: pdbs.items.map((p) => ({
        namespace: p.metadata?.namespace ?? '',
        name: p.metadata?.name ?? '',
        disruptionsAllowed: p.status?.disruptionsAllowed ?? 0,
        ...(p.status ? { currentHealthy: p.status.currentHealthy, expectedPods: p.status.expectedPods } : {}),
      })),
      statefulSets: sets.items.map((s) => ({
        namespace: s.metadata?.namespace ?? '',
        name: s.metadata?.name ?? '',
        replicas: s.spec?.replicas ?? 1,
      })),
      pods: pods.items,
      nodes: nodes.items.map(toNodeView),
    };
  }
}

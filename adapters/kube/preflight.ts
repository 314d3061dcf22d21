/** PreflightPort on client-node: one read-only snapshot of PDBs, StatefulSets, pods, nodes and Longhorn placement. */
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, PolicyV1Api } from '@kubernetes/client-node';
import type {
  LonghornPlacement,
  LonghornVolumeView,
  PreflightPort,
  PreflightSnapshot,
  ReplicaView,
} from '../../core/ports/prepare.js';
import { statusOf } from './errors.js';
import { toNodeView } from './nodes.js';
import { LONGHORN_VOLUMES } from './storage.js';

/** Longhorn's Replica custom resource: which node holds each copy of a volume's data. */
export const LONGHORN_REPLICAS = { group: 'longhorn.io', version: 'v1beta2', plural: 'replicas' } as const;

interface LonghornVolume {
  metadata?: { name?: string };
  status?: {
    state?: string;
    kubernetesStatus?: {
      namespace?: string;
      pvcName?: string;
      workloadsStatus?: { podName?: string; workloadName?: string; workloadType?: string }[] | null;
    };
  };
}

interface LonghornReplica {
  metadata?: { name?: string; deletionTimestamp?: unknown };
  spec?: { volumeName?: string; nodeID?: string; healthyAt?: string; failedAt?: string };
  status?: { currentState?: string };
}

export function toLonghornVolumeView(volume: LonghornVolume): LonghornVolumeView {
  const k8s = volume.status?.kubernetesStatus;
  const workloads = (k8s?.workloadsStatus ?? []).map((w) =>
    w.workloadName
      ? `${w.workloadType || 'workload'} ${k8s?.namespace}/${w.workloadName}`
      : `Pod ${k8s?.namespace}/${w.podName}`,
  );
  return {
    name: volume.metadata?.name ?? '',
    state: volume.status?.state ?? '',
    ...(k8s?.namespace && k8s.pvcName ? { pvc: { namespace: k8s.namespace, name: k8s.pvcName } } : {}),
    workloads: [...new Set(workloads)],
  };
}

export function toReplicaView(replica: LonghornReplica): ReplicaView {
  const { healthyAt, failedAt } = replica.spec ?? {};
  const state = replica.status?.currentState;
  return {
    name: replica.metadata?.name ?? '',
    volume: replica.spec?.volumeName ?? '',
    node: replica.spec?.nodeID ?? '',
    ...(healthyAt ? { healthyAt } : {}),
    ...(failedAt ? { failedAt } : {}),
    ...(state ? { state } : {}),
    ...(replica.metadata?.deletionTimestamp ? { deleting: true } : {}),
  };
}

/** Why a Longhorn list failed, in words an operator can act on; undefined for errors that should fail the step. */
function unreadable(error: unknown, resource: string): string | undefined {
  const status = statusOf(error);
  if (status === 404) return `${resource} is not served by this cluster (no Longhorn, or one without that CRD)`;
  if (status === 403) return `listing ${resource} is forbidden (the ClusterRole needs "list" on it)`;
  return undefined;
}

type Listed<T> = { items: T[] } | { reason: string };

export class KubePreflight implements PreflightPort {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly policy: PolicyV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.policy = kc.makeApiClient(PolicyV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
  }

  async snapshot(options: { longhornNamespace?: string } = {}): Promise<PreflightSnapshot> {
    const namespace = options.longhornNamespace;
    const [pdbs, sets, pods, nodes, longhorn] = await Promise.all([
      this.policy.listPodDisruptionBudgetForAllNamespaces(),
      this.apps.listStatefulSetForAllNamespaces(),
      this.core.listPodForAllNamespaces(),
      this.core.listNode(),
      namespace ? this.longhorn(namespace) : undefined,
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
      ...(longhorn ? { longhorn } : {}),
    };
  }

  /** Volumes and replicas in `namespace`, one list call each; a missing CRD or permission is reported, not thrown. */
  private async longhorn(namespace: string): Promise<LonghornPlacement> {
    const list = async <T>(crd: { group: string; version: string; plural: string }): Promise<Listed<T>> => {
      try {
        const result = (await this.custom.listNamespacedCustomObject({ ...crd, namespace })) as { items?: T[] };
        return { items: result.items ?? [] };
      } catch (error) {
        const reason = unreadable(error, `${crd.plural}.${crd.group}`);
        if (reason === undefined) throw error;
        return { reason };
      }
    };
    const [volumes, replicas] = await Promise.all([
      list<LonghornVolume>(LONGHORN_VOLUMES),
      list<LonghornReplica>(LONGHORN_REPLICAS),
    ]);
    if ('reason' in volumes) return { readable: false, reason: volumes.reason };
    if ('reason' in replicas) return { readable: false, reason: replicas.reason };
    return {
      readable: true,
      volumes: volumes.items.map(toLonghornVolumeView),
      replicas: replicas.items.map(toReplicaView),
    };
  }
}

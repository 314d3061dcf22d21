/**
 * Longhorn stand-in: the CSI provisioner and the manager, reduced to what Hecate observes.
 *
 * - Provisions every PVC of a StorageClass whose provisioner is `driver.longhorn.io`: a CSI PersistentVolume
 *   `pvc-<uid>` with a claimRef (the real PV controller then binds it) and a `volumes.longhorn.io` Volume of the
 *   same name in `longhorn-system`.
 * - A Volume is `attached` (status.currentNodeID = the node, robustness healthy) while a Running pod using its PVC
 *   is on a node, and `detached` (robustness unknown) once no such pod is left.
 * - When a PVC is gone its Volume and PersistentVolume are deleted (reclaim policy Delete).
 * - When the `replicas.longhorn.io` CRD is served, each Volume gets the Replica objects its claim's placement
 *   annotation asks for (numberOfReplicas is their count; see longhorn-replicas.ts). Without the CRD (an older
 *   Longhorn), or without the annotation, there are none.
 */
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  PatchStrategy,
  StorageV1Api,
  setHeaderOptions,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
} from '@kubernetes/client-node';
import { Watched } from './informer.js';
import { type LonghornReplica, LonghornReplicas, replicaPlacement } from './longhorn-replicas.js';
import { PassScheduler } from './pass-scheduler.js';

export const LONGHORN = {
  driver: 'driver.longhorn.io',
  namespace: 'longhorn-system',
  group: 'longhorn.io',
  version: 'v1beta2',
  plural: 'volumes',
} as const;

export interface LonghornVolume extends KubernetesObject {
  // biome-ignore lint/suspicious/noExplicitAny: the Volume CRD is read loosely
  spec?: any;
  // biome-ignore lint/suspicious/noExplicitAny: status is rewritten by this stand-in
  status?: any;
}

export interface LonghornStandInOptions {
  resyncMs?: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class LonghornStandIn {
  private readonly core: CoreV1Api;
  private readonly storage: StorageV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly pvcs: Watched<V1PersistentVolumeClaim>;
  private readonly pods: Watched<V1Pod>;
  private readonly volumes: Watched<LonghornVolume>;
  /** Undefined when the Replica CRD is not served. */
  private replicas: LonghornReplicas | undefined;
  private readonly passes: PassScheduler;

  private constructor(
    kubeConfig: KubeConfig,
    private readonly options: LonghornStandInOptions,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.storage = kubeConfig.makeApiClient(StorageV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.passes = new PassScheduler(() => this.pass(), {
      resyncMs: options.resyncMs ?? 5_000,
      onError: (error) => {
        this.options.log?.('Longhorn pass failed', { error: String(error) });
        this.passes.schedule();
      },
    });
    const onChange = () => this.passes.schedule();
    const { group, version, plural, namespace } = LONGHORN;
    this.pvcs = new Watched(kubeConfig, {
      name: 'persistentvolumeclaims',
      path: '/api/v1/persistentvolumeclaims',
      list: () => this.core.listPersistentVolumeClaimForAllNamespaces(),
      onChange,
      log: options.log,
    });
    this.pods = new Watched(kubeConfig, {
      name: 'pods',
      path: '/api/v1/pods',
      list: () => this.core.listPodForAllNamespaces(),
      onChange: (pod) => {
        if (pod.spec?.volumes?.some((v) => v.persistentVolumeClaim)) this.passes.schedule();
      },
      log: options.log,
    });
    this.volumes = new Watched<LonghornVolume>(kubeConfig, {
      name: 'volumes.longhorn.io',
      path: `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
      list: () =>
        this.custom.listNamespacedCustomObject({ group, version, plural, namespace }) as Promise<
          KubernetesListObject<LonghornVolume>
        >,
      onChange,
      log: options.log,
    });
  }

  static async start(kubeConfig: KubeConfig, options: LonghornStandInOptions = {}): Promise<LonghornStandIn> {
    const standIn = new LonghornStandIn(kubeConfig, options);
    standIn.replicas = await LonghornReplicas.watch(kubeConfig, standIn.custom, options.log);
    await Promise.all([standIn.pvcs.start(), standIn.pods.start(), standIn.volumes.start(), standIn.replicas?.start()]);
    standIn.passes.startResync();
    await standIn.reconcileNow();
    return standIn;
  }

  async stop(): Promise<void> {
    this.passes.stop();
    await Promise.all([this.pvcs.stop(), this.pods.stop(), this.volumes.stop(), this.replicas?.stop()]);
    await this.passes.idle();
  }

  /** The Replica objects of a volume, from the cache (empty without the Replica CRD). */
  replicasOf(volume: string): LonghornReplica[] {
    return this.replicas?.of(volume) ?? [];
  }

  /** The Volume backing a PVC, from the cache. */
  volumeFor(namespace: string, pvc: string): LonghornVolume | undefined {
    const claim = this.pvcs.get(pvc, namespace);
    return claim ? this.volumes.get(volumeName(claim), LONGHORN.namespace) : undefined;
  }

  /**
   * Each claim a Running pod in this stand-in's cache holds attached, with that pod as cached: what a wait for the
   * volumes to detach is waiting on, to set beside the API's own view when it takes too long.
   */
  holders(): { claim: string; pod: string; uid: string; node: string; deleting: boolean }[] {
    return this.pods.list().flatMap((p) =>
      p.status?.phase === 'Running' && p.spec?.nodeName
        ? (p.spec.volumes ?? []).flatMap((v) =>
            v.persistentVolumeClaim
              ? [
                  {
                    claim: `${p.metadata?.namespace}/${v.persistentVolumeClaim.claimName}`,
                    pod: `${p.metadata?.namespace}/${p.metadata?.name}`,
                    uid: p.metadata?.uid ?? '',
                    node: p.spec?.nodeName ?? '',
                    deleting: Boolean(p.metadata?.deletionTimestamp),
                  },
                ]
              : [],
          )
        : [],
    );
  }

  /** One full pass now (after any running one); a failed pass is logged and scheduled again. */
  reconcileNow(): Promise<void> {
    return this.passes.reconcileNow();
  }

  private async pass(): Promise<void> {
    if (this.passes.isStopped) return;
    const classes = new Set(
      (await this.storage.listStorageClass()).items
        .filter((sc) => sc.provisioner === LONGHORN.driver)
        .map((sc) => sc.metadata?.name ?? ''),
    );
    const claims = this.pvcs.list().filter((c) => classes.has(c.spec?.storageClassName ?? ''));
    const wanted = new Set<string>();
    for (const claim of claims) {
      if (claim.metadata?.deletionTimestamp) continue;
      const name = volumeName(claim);
      wanted.add(name);
      if (!claim.spec?.volumeName) await this.provision(claim, name);
      const volume = this.volumes.get(name, LONGHORN.namespace) ?? (await this.createVolume(claim, name));
      const state = volume ? await this.updateStatus(volume, claim) : undefined;
      if (volume && state) await this.replicas?.sync(volume, claim, state);
    }
    for (const volume of this.volumes.list(LONGHORN.namespace)) {
      const name = volume.metadata?.name ?? '';
      if (wanted.has(name) || volume.metadata?.labels?.['bed.hecate.dev/provisioned'] !== 'true') continue;
      await ignore404(this.custom.deleteNamespacedCustomObject({ ...crd(), name }));
      await ignore404(this.core.deletePersistentVolume({ name }));
    }
  }

  private async provision(claim: V1PersistentVolumeClaim, name: string): Promise<void> {
    const body: V1PersistentVolume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': LONGHORN.driver } },
      spec: {
        accessModes: claim.spec?.accessModes ?? ['ReadWriteOnce'],
        capacity: { storage: claim.spec?.resources?.requests?.storage ?? '1Gi' },
        claimRef: {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          namespace: claim.metadata?.namespace,
          name: claim.metadata?.name,
          uid: claim.metadata?.uid,
        },
        csi: {
          driver: LONGHORN.driver,
          volumeHandle: name,
          fsType: 'ext4',
          volumeAttributes: { numberOfReplicas: '3', staleReplicaTimeout: '30' },
        },
        persistentVolumeReclaimPolicy: 'Delete',
        storageClassName: claim.spec?.storageClassName,
        volumeMode: claim.spec?.volumeMode ?? 'Filesystem',
      },
    };
    try {
      await this.core.createPersistentVolume({ body });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 409)) throw error;
    }
  }

  private async createVolume(claim: V1PersistentVolumeClaim, name: string): Promise<LonghornVolume | undefined> {
    const body = {
      apiVersion: `${LONGHORN.group}/${LONGHORN.version}`,
      kind: 'Volume',
      metadata: { name, namespace: LONGHORN.namespace, labels: { 'bed.hecate.dev/provisioned': 'true' } },
      spec: {
        size: String(bytes(claim.spec?.resources?.requests?.storage ?? '1Gi')),
        numberOfReplicas: replicaPlacement(claim)?.length ?? 3,
        frontend: 'blockdev',
        accessMode: 'rwo',
        dataEngine: 'v1',
        dataLocality: 'disabled',
        staleReplicaTimeout: 30,
      },
    };
    try {
      return (await this.custom.createNamespacedCustomObject({ ...crd(), body })) as LonghornVolume;
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) return undefined; // the watch brings it
      throw error;
    }
  }

  /** Returns the volume's state: attached or detached. */
  private async updateStatus(volume: LonghornVolume, claim: V1PersistentVolumeClaim): Promise<string> {
    const namespace = claim.metadata?.namespace ?? '';
    const users = this.pods
      .list(namespace)
      .filter((p) => p.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === claim.metadata?.name));
    const runner = users.find((p) => p.status?.phase === 'Running' && p.spec?.nodeName);
    const node = runner?.spec?.nodeName ?? '';
    const previous = volume.status ?? {};
    const status = {
      state: runner ? 'attached' : 'detached',
      currentNodeID: node,
      ownerID: node || previous.ownerID || '',
      robustness: runner ? 'healthy' : 'unknown',
      frontendDisabled: false,
      actualSize: runner ? 52_428_800 : (previous.actualSize ?? 0),
      kubernetesStatus: {
        namespace,
        pvcName: claim.metadata?.name ?? '',
        pvName: claim.spec?.volumeName ?? volume.metadata?.name ?? '',
        pvStatus: claim.status?.phase === 'Bound' ? 'Bound' : (claim.status?.phase ?? 'Pending'),
        lastPodRefAt:
          users.length > 0
            ? ''
            : previous.kubernetesStatus?.lastPodRefAt || new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        workloadsStatus: users.map((p) => ({
          podName: p.metadata?.name ?? '',
          podStatus: p.status?.phase ?? 'Pending',
          workloadName: p.metadata?.ownerReferences?.[0]?.name ?? '',
          workloadType: p.metadata?.ownerReferences?.[0]?.kind ?? '',
        })),
      },
    };
    if (sameVolumeStatus(previous, status)) return status.state;
    if (previous.state !== status.state) {
      this.options.log?.(runner ? 'Volume attached' : 'Volume detached', {
        volume: volume.metadata?.name,
        claim: `${namespace}/${claim.metadata?.name}`,
        ...(runner ? { node, pod: runner.metadata?.name, uid: runner.metadata?.uid } : {}),
      });
    }
    try {
      await this.custom.patchNamespacedCustomObjectStatus(
        { ...crd(), name: volume.metadata?.name ?? '', body: { status } },
        MERGE,
      );
      if ((volume.spec?.nodeID ?? '') !== node) {
        await this.custom.patchNamespacedCustomObject(
          { ...crd(), name: volume.metadata?.name ?? '', body: { spec: { nodeID: node } } },
          MERGE,
        );
      }
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
    }
    return status.state;
  }
}

function sameVolumeStatus(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const pick = (s: Record<string, unknown>) =>
    JSON.stringify([
      s.state,
      s.currentNodeID,
      s.robustness,
      s.ownerID,
      s.actualSize,
      s.kubernetesStatus && sortKeys(s.kubernetesStatus),
    ]);
  return pick(a) === pick(b);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, v]) => [k, sortKeys(v)]),
    );
  }
  return value;
}

function crd() {
  const { group, version, plural, namespace } = LONGHORN;
  return { group, version, plural, namespace };
}

/** Longhorn names a volume after its PersistentVolume: `pvc-<claim uid>`. */
export function volumeName(claim: V1PersistentVolumeClaim): string {
  return claim.spec?.volumeName || `pvc-${claim.metadata?.uid}`;
}

/** `10Gi` → bytes. */
export function bytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGTE]i?)?$/.exec(quantity.trim());
  if (!match) return 0;
  const units: Record<string, number> = {
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
  };
  return Math.round(Number(match[1]) * (units[match[2] ?? ''] ?? 1));
}

async function ignore404(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 404)) throw error;
  }
}

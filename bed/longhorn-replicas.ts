/**
 * The Longhorn stand-in's Replica objects (`replicas.longhorn.io`, Longhorn's own CRD from its Go module): one per
 * entry of a claim's placement annotation, rendered from the scenario.
 *
 * - Each replica is created once with its node, `healthyAt` (absent while rebuilding) and `failedAt` (failed only),
 *   owned by its Volume (the garbage collector removes it with the Volume).
 * - `status.currentState` follows the volume: healthy and rebuilding replicas run while it is attached and stop
 *   when it detaches; failed and stopped ones never run.
 * - Without the CRD (an older Longhorn) there is nothing to do: {@link LonghornReplicas.watch} returns undefined.
 */
import {
  ApiException,
  ApiextensionsV1Api,
  type CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
  type V1PersistentVolumeClaim,
} from '@kubernetes/client-node';
import { Watched } from './informer.js';

/** On a PVC: JSON list of `{ node, state }` (healthy | failed | stopped | rebuilding), rendered from the scenario. */
export const REPLICAS_ANNOTATION = 'bed.hecate.dev/longhorn-replicas';

export const LONGHORN_REPLICAS = {
  group: 'longhorn.io',
  version: 'v1beta2',
  plural: 'replicas',
  namespace: 'longhorn-system',
} as const;

export interface ReplicaPlacementAnnotation {
  node: string;
  state: 'healthy' | 'failed' | 'stopped' | 'rebuilding';
}

export interface LonghornReplica extends KubernetesObject {
  spec?: { volumeName?: string; nodeID?: string; healthyAt?: string; failedAt?: string; desireState?: string };
  status?: { currentState?: string; ownerID?: string; instanceManagerName?: string };
}

const MERGE = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The placement a claim asks for (see {@link REPLICAS_ANNOTATION}); undefined without the annotation. */
export function replicaPlacement(claim: V1PersistentVolumeClaim): ReplicaPlacementAnnotation[] | undefined {
  const text = claim.metadata?.annotations?.[REPLICAS_ANNOTATION];
  if (!text) return undefined;
  const parsed = JSON.parse(text) as ReplicaPlacementAnnotation[];
  return Array.isArray(parsed) && parsed.length > 0 ? parsed : undefined;
}

export class LonghornReplicas {
  private constructor(
    private readonly custom: CustomObjectsApi,
    private readonly cache: Watched<LonghornReplica>,
  ) {}

  /**
   * A replica writer with its cache, or undefined when the CRD is not installed. NOTE: the probe reads the CRD, not
   * the resource: a CRD Established a moment ago can still answer lists with 429 "storage is (re)initializing",
   * which the informer's restart absorbs.
   */
  static async watch(
    kubeConfig: KubeConfig,
    custom: CustomObjectsApi,
    log?: (message: string, fields?: Record<string, unknown>) => void,
  ): Promise<LonghornReplicas | undefined> {
    const { group, version, plural, namespace } = LONGHORN_REPLICAS;
    try {
      await kubeConfig.makeApiClient(ApiextensionsV1Api).readCustomResourceDefinition({ name: `${plural}.${group}` });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
    const list = () =>
      custom.listNamespacedCustomObject({ group, version, plural, namespace }) as Promise<
        KubernetesListObject<LonghornReplica>
      >;
    const cache = new Watched<LonghornReplica>(kubeConfig, {
      name: 'replicas.longhorn.io',
      path: `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
      list,
      // NOTE: only this stand-in writes replicas, so their changes need no reconcile pass
      onChange: () => undefined,
      log,
    });
    return new LonghornReplicas(custom, cache);
  }

  start(): Promise<void> {
    return this.cache.start();
  }

  stop(): Promise<void> {
    return this.cache.stop();
  }

  /** The Replica objects of a volume, from the cache. */
  of(volume: string): LonghornReplica[] {
    return this.cache.list(LONGHORN_REPLICAS.namespace).filter((r) => r.spec?.volumeName === volume);
  }

  /** Creates the replicas `claim` places for `volume` and keeps their currentState in step with `volumeState`. */
  async sync(volume: KubernetesObject, claim: V1PersistentVolumeClaim, volumeState: string): Promise<void> {
    const placement = replicaPlacement(claim);
    if (!placement) return;
    const volumeName = volume.metadata?.name ?? '';
    for (const [index, place] of placement.entries()) {
      const name = `${volumeName}-r-${index}`;
      const running = volumeState === 'attached' && (place.state === 'healthy' || place.state === 'rebuilding');
      const currentState = running ? 'running' : 'stopped';
      const existing = this.cache.get(name, LONGHORN_REPLICAS.namespace);
      if (existing?.status?.currentState === currentState) continue;
      if (!existing && !(await this.create(volume, name, place))) continue;
      const status = { currentState, ownerID: place.node, instanceManagerName: `instance-manager-${place.node}` };
      const desireState = place.state === 'failed' || place.state === 'stopped' ? 'stopped' : currentState;
      await ignore404(
        this.custom.patchNamespacedCustomObjectStatus({ ...LONGHORN_REPLICAS, name, body: { status } }, MERGE),
      );
      await ignore404(
        this.custom.patchNamespacedCustomObject({ ...LONGHORN_REPLICAS, name, body: { spec: { desireState } } }, MERGE),
      );
    }
  }

  /** False when it already exists (the watch brings it). */
  private async create(volume: KubernetesObject, name: string, place: ReplicaPlacementAnnotation): Promise<boolean> {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const volumeName = volume.metadata?.name ?? '';
    const apiVersion = `${LONGHORN_REPLICAS.group}/${LONGHORN_REPLICAS.version}`;
    const body = {
      apiVersion,
      kind: 'Replica',
      metadata: {
        name,
        namespace: LONGHORN_REPLICAS.namespace,
        labels: { longhornvolume: volumeName, longhornnode: place.node, 'bed.hecate.dev/provisioned': 'true' },
        ownerReferences: [{ apiVersion, kind: 'Volume', name: volumeName, uid: volume.metadata?.uid ?? '' }],
      },
      spec: {
        volumeName,
        nodeID: place.node,
        diskID: `bed-disk-${place.node}`,
        dataEngine: 'v1',
        active: true,
        healthyAt: place.state === 'rebuilding' ? '' : now,
        failedAt: place.state === 'failed' ? now : '',
        desireState: 'stopped',
      },
    };
    try {
      await this.custom.createNamespacedCustomObject({ ...LONGHORN_REPLICAS, body });
      return true;
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) return false;
      throw error;
    }
  }
}

async function ignore404(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof ApiException && error.code === 404)) throw error;
  }
}

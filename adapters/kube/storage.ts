import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { StoragePort, VolumeView } from '../../core/ports/index.js';
import { isNotFound } from './errors.js';

/** Longhorn's Volume custom resource, where Hecate reads attachment. */
export const LONGHORN_VOLUMES = { group: 'longhorn.io', version: 'v1beta2', plural: 'volumes' } as const;

interface LonghornVolume {
  metadata?: { name?: string };
  status?: { state?: string; currentNodeID?: string; robustness?: string };
}

export function toVolumeView(volume: LonghornVolume): VolumeView {
  const node = volume.status?.currentNodeID;
  const robustness = volume.status?.robustness;
  return {
    name: volume.metadata?.name ?? '',
    state: volume.status?.state ?? '',
    ...(node ? { node } : {}),
    ...(robustness ? { robustness } : {}),
  };
}

/** StoragePort on client-node: Longhorn `volumes.longhorn.io`; a cluster without the CRD has no volumes. */
export class KubeStorage implements StoragePort {
  private readonly api: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async volumes(namespace: string): Promise<VolumeView[]> {
    try {
      const list = (await this.api.listNamespacedCustomObject({ ...LONGHORN_VOLUMES, namespace })) as {
        items?: LonghornVolume[];
      };
      return (list.items ?? []).map(toVolumeView);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }
}

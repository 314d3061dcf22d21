import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../core/api/index.js';

/** Every PowerPlan in the cluster (cluster-scoped), as the API returns them; the caller validates. */
export async function listPowerPlans(kc: KubeConfig): Promise<unknown[]> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const list = (await api.listClusterCustomObject({ group: GROUP, version: VERSION, plural: 'powerplans' })) as {
    items?: unknown[];
  };
  return list.items ?? [];
}

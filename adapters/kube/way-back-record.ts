/**
 * The PowerPlan's `status.wayBack`: the verdict `hecate prepare --execute` reached on the control host, written where
 * the operator reads it before an executing shutdown (operator/reconcile/powerevent.ts). A server-side apply of that
 * one field on the status subresource, as its own field manager, so it never touches what the operator writes.
 */
import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { API_VERSION, GROUP, VERSION, type WayBackRecord } from '../../core/api/index.js';
import { isNotFound } from './errors.js';

export const WAY_BACK_FIELD_MANAGER = 'hecate-cli-way-back';
const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

/** Writes `record` to PowerPlan `plan`'s status; false when the cluster has no PowerPlan of that name. */
export async function recordWayBack(kc: KubeConfig, plan: string, record: WayBackRecord): Promise<boolean> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const body = { apiVersion: API_VERSION, kind: 'PowerPlan', metadata: { name: plan }, status: { wayBack: record } };
  try {
    await api.patchClusterCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        plural: 'powerplans',
        name: plan,
        body,
        fieldManager: WAY_BACK_FIELD_MANAGER,
        force: true,
      },
      APPLY,
    );
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

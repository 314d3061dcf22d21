/**
 * Stop records as ConfigMaps in the operator's namespace: when an executing PowerEvent is deleted, its status (the
 * outage record startup needs, the progress, where it stopped) would go with it. One ConfigMap per PowerEvent uid,
 * created once (an existing one means it is recorded already), labelled so that `kubectl get cm -l
 * power.hecate.dev/record=stopped-powerevent` (and `hecate status`) can find it.
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { STOP_RECORD_LABEL, STOP_RECORD_VALUE, type StopRecord } from '../../core/api/index.js';
import type { StopRecords } from '../../core/ports/index.js';
import { isConflict } from './errors.js';

/** `hecate-stopped-<event>-<uid prefix>`, a valid ConfigMap name. Pure. */
export function stopRecordName(record: StopRecord): string {
  const uid = record.powerEvent.uid.replace(/[^a-z0-9]/g, '').slice(0, 8);
  const name = record.powerEvent.name.slice(0, 200).replace(/[^a-z0-9-.]/g, '-');
  return `hecate-stopped-${name}${uid ? `-${uid}` : ''}`;
}

/** The ConfigMap of a record. Pure. */
export function stopRecordConfigMap(record: StopRecord, namespace: string): V1ConfigMap {
  const { powerEvent, stopped } = record;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: stopRecordName(record),
      namespace,
      labels: {
        'app.kubernetes.io/name': 'hecate',
        'app.kubernetes.io/component': 'operator',
        [STOP_RECORD_LABEL]: STOP_RECORD_VALUE,
      },
      annotations: {
        'power.hecate.dev/powerevent': `${powerEvent.namespace}/${powerEvent.name}`,
        'power.hecate.dev/powerevent-uid': powerEvent.uid,
      },
    },
    data: {
      powerEvent: `${powerEvent.namespace}/${powerEvent.name}`,
      action: record.action,
      plan: record.planName,
      stoppedBeforeStep: stopped.beforeStep,
      stoppedAt: stopped.at,
      reason: stopped.reason,
      'record.json': `${JSON.stringify(record, null, 2)}\n`,
    },
  };
}

export class ConfigMapStopRecords implements StopRecords {
  private readonly core: CoreV1Api;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  async save(record: StopRecord): Promise<string> {
    const body = stopRecordConfigMap(record, this.namespace);
    try {
      await this.core.createNamespacedConfigMap({ namespace: this.namespace, body });
    } catch (error) {
      if (!isConflict(error)) throw error; // 409: recorded by an earlier attempt
    }
    return `ConfigMap ${this.namespace}/${body.metadata?.name}`;
  }
}

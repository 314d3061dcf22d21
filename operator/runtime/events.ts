/**
 * Kubernetes Events about PowerEvents (`kubectl describe powerevent` shows them): stage start, finish and failure,
 * the rendered dry-run, waiting and stalling. Recording never fails a reconcile; a failed create is logged.
 */
import { randomBytes } from 'node:crypto';
import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../core/ports/index.js';

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
}

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(object: InvolvedObject, type: EventType, reason: string, message: string): void;
  /** Resolves when every event recorded so far was sent (or failed). */
  flush(): Promise<void>;
}

export const REPORTING_COMPONENT = 'hecate-operator';

/** Creates core/v1 Events through the API. */
export class KubeEventRecorder implements EventRecorder {
  private readonly api: CoreV1Api;
  private pending = new Set<Promise<void>>();

  constructor(
    kc: KubeConfig,
    private readonly instance: string,
    private readonly logger: Logger,
  ) {
    this.api = kc.makeApiClient(CoreV1Api);
  }

  record(object: InvolvedObject, type: EventType, reason: string, message: string): void {
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { name: `${object.name}.${randomBytes(8).toString('hex')}`, namespace: object.namespace },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        namespace: object.namespace,
        name: object.name,
        ...(object.uid ? { uid: object.uid } : {}),
        ...(object.resourceVersion ? { resourceVersion: object.resourceVersion } : {}),
      },
      type,
      reason,
      message: message.slice(0, 1024),
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
      source: { component: REPORTING_COMPONENT },
      reportingComponent: REPORTING_COMPONENT,
      reportingInstance: this.instance,
    };
    const sent = this.api
      .createNamespacedEvent({ namespace: object.namespace, body })
      .then(() => undefined)
      .catch((error: unknown) => {
        this.logger.warn('Could not record an event', {
          kind: object.kind,
          name: `${object.namespace}/${object.name}`,
          reason,
          error: error instanceof Error ? error.message : String(error),
        });
      });
    this.pending.add(sent);
    void sent.finally(() => this.pending.delete(sent));
  }

  async flush(): Promise<void> {
    await Promise.all([...this.pending]);
  }
}

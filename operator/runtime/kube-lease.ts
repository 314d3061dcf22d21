/** LeasePort on client-node: read, create and replace (with resourceVersion) of one coordination.k8s.io Lease. */
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { isConflict, isNotFound } from '../../adapters/kube/errors.js';
import { LeaseConflictError, type LeasePort, type LeaseRecord, type LeaseState } from './leader.js';

export class KubeLease implements LeasePort {
  private readonly api: CoordinationV1Api;

  constructor(
    kc: KubeConfig,
    private readonly namespace: string,
    private readonly name: string,
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
  }

  async get(): Promise<LeaseState | undefined> {
    try {
      return toState(await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async create(record: LeaseRecord): Promise<LeaseState> {
    return this.conflictAware(() =>
      this.api.createNamespacedLease({ namespace: this.namespace, body: this.body(record) }),
    );
  }

  async update(record: LeaseRecord, resourceVersion: string): Promise<LeaseState> {
    return this.conflictAware(() =>
      this.api.replaceNamespacedLease({
        name: this.name,
        namespace: this.namespace,
        body: this.body(record, resourceVersion),
      }),
    );
  }

  private async conflictAware(request: () => Promise<V1Lease>): Promise<LeaseState> {
    try {
      return toState(await request());
    } catch (error) {
      if (isConflict(error)) throw new LeaseConflictError(`lease ${this.namespace}/${this.name} changed meanwhile`);
      throw error;
    }
  }

  private body(record: LeaseRecord, resourceVersion?: string): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      spec: {
        ...(record.holderIdentity !== undefined ? { holderIdentity: record.holderIdentity } : {}),
        ...(record.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: record.leaseDurationSeconds } : {}),
        ...(record.leaseTransitions !== undefined ? { leaseTransitions: record.leaseTransitions } : {}),
        // NOTE: MicroTime must be written with 6 fractional digits; V1MicroTime's toISOString does that.
        ...(record.acquireTime ? { acquireTime: new V1MicroTime(record.acquireTime.getTime()) } : {}),
        ...(record.renewTime ? { renewTime: new V1MicroTime(record.renewTime.getTime()) } : {}),
      },
    };
  }
}

function toState(lease: V1Lease): LeaseState {
  const spec = lease.spec ?? {};
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? '',
    record: {
      holderIdentity: spec.holderIdentity,
      leaseDurationSeconds: spec.leaseDurationSeconds,
      leaseTransitions: spec.leaseTransitions,
      acquireTime: toDate(spec.acquireTime),
      renewTime: toDate(spec.renewTime),
    },
  };
}

function toDate(value: Date | string | undefined): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * One mutating run at a time across both front doors: a coordination.k8s.io Lease (`hecate-system/hecate-run`)
 * that the CLI takes for an executing run and the operator takes for the executing PowerEvent it runs. Whoever
 * holds it acts; the CLI refuses (exit 3) and the operator waits while the other holds it.
 *
 * - Expiry is judged from the holder's `renewTime` plus `leaseDurationSeconds`: a one-shot CLI cannot watch the
 *   record over time as client-go's leader election does, and a holder that died (a killed CLI, a powered-off
 *   operator node) must not block the next run for longer than that.
 * - Writes carry the resourceVersion, so two takers cannot both win; the loser reads who won.
 * - While held, the Lease is renewed every third of its duration; a release empties the holder (client-go's way).
 * - A cluster without the namespace (no operator installed) has nobody to exclude: the run goes on.
 */
import {
  CoordinationV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Lease,
  V1MicroTime,
} from '@kubernetes/client-node';
import { GROUP, VERSION } from '../../core/api/index.js';
import { isConflict, isNotFound } from './errors.js';

export const RUN_LEASE = { namespace: 'hecate-system', name: 'hecate-run' } as const;

export type LeaseAttempt =
  | { ok: true; note?: string }
  | { ok: false; holder: string; renewedAt?: string; lease: string };

export interface RunLeaseOptions {
  namespace?: string;
  name?: string;
  /** How long the Lease stays valid after its last renewal (default 60 s). */
  durationSeconds?: number;
  /**
   * Holders this taker may replace before they expire: the operator's leader replaces any operator holder (leader
   * election already makes it the only one, so that holder is a dead predecessor); a CLI run replaces a run of
   * its own host whose process is gone.
   */
  takeOverFrom?: (holder: string) => boolean | Promise<boolean>;
  now?: () => Date;
}

export class KubeRunLease {
  private readonly api: CoordinationV1Api;
  private readonly namespace: string;
  private readonly name: string;
  private readonly durationSeconds: number;
  private readonly now: () => Date;
  private readonly takeOverFrom: (holder: string) => boolean | Promise<boolean>;
  private renewal: NodeJS.Timeout | undefined;
  private held = false;

  constructor(
    kc: KubeConfig,
    /** Who acts: `cli/<host>/<pid>: hecate shutdown --execute`, `operator/<pod>: PowerEvent ns/name`. */
    readonly identity: string,
    options: RunLeaseOptions = {},
  ) {
    this.api = kc.makeApiClient(CoordinationV1Api);
    this.namespace = options.namespace ?? RUN_LEASE.namespace;
    this.name = options.name ?? RUN_LEASE.name;
    this.durationSeconds = options.durationSeconds ?? 60;
    this.now = options.now ?? (() => new Date());
    this.takeOverFrom = options.takeOverFrom ?? (() => false);
  }

  get path(): string {
    return `${this.namespace}/${this.name}`;
  }

  /** Takes (or keeps) the Lease; `ok: false` names the holder. Starts the renewals while held. */
  async acquire(): Promise<LeaseAttempt> {
    let current: V1Lease | undefined;
    try {
      current = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const holder = current?.spec?.holderIdentity;
    const free = !holder || holder === this.identity || this.expired(current) || (await this.takeOverFrom(holder));
    if (current && !free) return this.refused(current);
    try {
      if (current)
        await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: this.body(current) });
      else await this.api.createNamespacedLease({ namespace: this.namespace, body: this.body() });
    } catch (error) {
      if (isConflict(error)) {
        return this.refused(await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace }));
      }
      if (isNotFound(error))
        return { ok: true, note: `namespace ${this.namespace} does not exist: no operator to keep out` };
      throw error;
    }
    this.held = true;
    this.renewal = setInterval(() => void this.renew(), (this.durationSeconds * 1000) / 3);
    this.renewal.unref();
    return { ok: true };
  }

  /** Empties the holder if it is still this one; never throws. */
  async release(): Promise<void> {
    clearInterval(this.renewal);
    if (!this.held) return;
    this.held = false;
    try {
      const current = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      if (current.spec?.holderIdentity !== this.identity) return;
      const spec = {
        ...current.spec,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        ...(current.spec.acquireTime ? { acquireTime: micro(current.spec.acquireTime) } : {}),
        ...(current.spec.renewTime ? { renewTime: micro(current.spec.renewTime) } : {}),
      };
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: { ...current, spec } });
    } catch {
      // expires on its own
    }
  }

  private async renew(): Promise<void> {
    try {
      const current = await this.api.readNamespacedLease({ name: this.name, namespace: this.namespace });
      if (current.spec?.holderIdentity !== this.identity) return;
      await this.api.replaceNamespacedLease({ name: this.name, namespace: this.namespace, body: this.body(current) });
    } catch {
      // the next renewal tries again; the Lease outlives two missed ones
    }
  }

  private expired(lease: V1Lease | undefined): boolean {
    if (!lease) return true;
    const renewed = lease.spec?.renewTime ?? lease.spec?.acquireTime;
    if (!renewed) return true;
    const seconds = lease.spec?.leaseDurationSeconds ?? this.durationSeconds;
    return new Date(renewed).getTime() + seconds * 1000 < this.now().getTime();
  }

  private refused(lease: V1Lease): LeaseAttempt {
    const renewed = lease.spec?.renewTime;
    return {
      ok: false,
      holder: lease.spec?.holderIdentity || '(unknown)',
      lease: this.path,
      ...(renewed ? { renewedAt: new Date(renewed).toISOString() } : {}),
    };
  }

  private body(current?: V1Lease): V1Lease {
    const now = new V1MicroTime(this.now().getTime());
    const mine = current?.spec?.holderIdentity === this.identity;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.name,
        namespace: this.namespace,
        ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      spec: {
        holderIdentity: this.identity,
        leaseDurationSeconds: this.durationSeconds,
        acquireTime: mine && current?.spec?.acquireTime ? micro(current.spec.acquireTime) : now,
        renewTime: now,
        leaseTransitions: (current?.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
  }
}

/**
 * The operator names the PowerEvent it runs in its holder identity (`operator/<id>: PowerEvent ns/name`). Its run is
 * over once that event is no longer Running: gone, finished, or holding the last status an operator writes before
 * it powers off its own node (it dies with the Lease still held, and a cold-boot startup must not wait for that).
 */
export async function operatorRunEnded(kc: KubeConfig, holder: string): Promise<boolean> {
  const [, namespace, name] = /^operator\/[^:]*: PowerEvent ([^/\s]+)\/(\S+)$/.exec(holder) ?? [];
  if (!namespace || !name) return false;
  try {
    const event = (await kc
      .makeApiClient(CustomObjectsApi)
      .getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: 'powerevents', name })) as {
      status?: { phase?: string };
    };
    return event.status?.phase !== 'Running';
  } catch (error) {
    return isNotFound(error);
  }
}

/** NOTE: a MicroTime must be written with 6 fractional digits; a Date read back from the API has 3. */
function micro(value: Date | string): V1MicroTime {
  return new V1MicroTime(new Date(value).getTime());
}

/** "the run Lease hecate-system/hecate-run is held by X (renewed at T)" for messages. */
export function describeRefusal(attempt: Extract<LeaseAttempt, { ok: false }>): string {
  const when = attempt.renewedAt ? `, renewed at ${attempt.renewedAt}` : '';
  return `the run Lease ${attempt.lease} is held by ${attempt.holder}${when}`;
}

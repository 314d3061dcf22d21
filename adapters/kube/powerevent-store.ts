/**
 * A PowerEvent's status as the operator's one place to write it, and as the runner's ProgressStore (the CLI's state
 * file has the same shape). Every write is a server-side apply of the WHOLE status to the /status subresource with
 * field manager `hecate-operator`.
 *
 * NOTE: the whole status, always: with server-side apply, a field this manager applied before and leaves out now is
 * removed. Writing only `progress` would delete the conditions and the plan.
 */
import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import {
  API_VERSION,
  GROUP,
  type OutageRecord,
  outageRecord,
  type PowerEventStatus,
  VERSION,
} from '../../core/api/index.js';
import type { ProgressStore } from '../../core/ports.js';
import { isConflict, isNotFound, statusOf } from './errors.js';

export const FIELD_MANAGER = 'hecate-operator';
const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

/** The PowerEvent was deleted while its status was being written. */
export class PowerEventGoneError extends Error {
  override readonly name = 'PowerEventGoneError';
}

export interface PowerEventRef {
  namespace: string;
  name: string;
}

/** Applies a status document; the adapter below does it over HTTP, tests may do it in memory. */
export type StatusApply = (ref: PowerEventRef, status: PowerEventStatus) => Promise<void>;

/** SSA of `status` on the /status subresource, retried on 409, 429 and 5xx (bounded), 404 → PowerEventGoneError. */
export function kubeStatusApply(kc: KubeConfig, options: { attempts?: number; delayMs?: number } = {}): StatusApply {
  const api = kc.makeApiClient(CustomObjectsApi);
  const attempts = options.attempts ?? 4;
  return async (ref, status) => {
    const body = { apiVersion: API_VERSION, kind: 'PowerEvent', metadata: { ...ref }, status };
    for (let attempt = 1; ; attempt++) {
      try {
        await api.patchNamespacedCustomObjectStatus(
          {
            group: GROUP,
            version: VERSION,
            plural: 'powerevents',
            ...ref,
            body,
            fieldManager: FIELD_MANAGER,
            force: true,
          },
          APPLY,
        );
        return;
      } catch (error) {
        if (isNotFound(error)) throw new PowerEventGoneError(`PowerEvent ${ref.namespace}/${ref.name} is gone`);
        if (!retriable(error) || attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, (options.delayMs ?? 100) * 2 ** (attempt - 1)));
      }
    }
  };
}

function retriable(error: unknown): boolean {
  const code = statusOf(error);
  return isConflict(error) || code === 429 || (code !== undefined && code >= 500);
}

/**
 * One PowerEvent's status, held in memory and written through `apply`. Writes are serialised (parallel runner steps
 * never interleave) and skipped when nothing changed. `fence` runs before every write; it throws when this process
 * may no longer write (it lost the leader lease).
 */
export class PowerEventStatusStore implements ProgressStore {
  private status: PowerEventStatus;
  private written: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly ref: PowerEventRef,
    current: PowerEventStatus,
    private readonly apply: StatusApply,
    private readonly fence: () => void = () => undefined,
    private readonly onWrite?: (status: PowerEventStatus) => void,
  ) {
    this.status = structuredClone(current);
    this.written = JSON.stringify(current);
  }

  /** The status as last written. */
  get current(): PowerEventStatus {
    return structuredClone(this.status);
  }

  /** Changes the status and writes it; resolves when the write (and every earlier one) is done. */
  update(change: (status: PowerEventStatus) => PowerEventStatus): Promise<void> {
    const run = this.chain.then(async () => {
      const next = change(structuredClone(this.status));
      const text = JSON.stringify(next);
      if (text !== this.written) {
        this.fence();
        await this.apply(this.ref, next);
        this.written = text;
      }
      this.status = next; // NOTE: only once written, so `current` never shows what the API refused
      this.onWrite?.(structuredClone(next));
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async load(): Promise<{ outage: OutageRecord; progress?: PowerEventStatus['progress'] } | undefined> {
    const { outage, progress } = this.status;
    if (!outage && !progress) return undefined;
    return { outage: outage ?? emptyOutage(), ...(progress ? { progress } : {}) };
  }

  save(state: { outage: OutageRecord; progress?: PowerEventStatus['progress'] }): Promise<void> {
    return this.update((status) => ({
      ...status,
      outage: state.outage,
      ...(state.progress ? { progress: state.progress } : {}),
    }));
  }
}

function emptyOutage(): OutageRecord {
  return outageRecord.parse({});
}

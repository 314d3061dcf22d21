/**
 * Every write to a PowerEvent, from either front door: {@link KubePowerEvents} creates and merge-patches the object
 * (the UPS watcher's shutdown request, the CLI's cold-boot hand-off), and {@link PowerEventStatusStore} writes its
 * status, as the operator's one place to write it and as the runner's ProgressStore (the CLI's state file has the
 * same shape). Every write is a server-side apply of the WHOLE status to the /status subresource with
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
  type PowerEvent,
  type PowerEventStatus,
  VERSION,
} from '../../core/api/index.js';
import type { ProgressStore } from '../../core/ports/index.js';
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

/** A change waiting for the next write, and the caller waiting for it (none for a note). */
interface Pending {
  change: (status: PowerEventStatus) => PowerEventStatus;
  done?: { resolve(): void; reject(error: unknown): void };
}

/**
 * One PowerEvent's status, held in memory and written through `apply`. Writes are serialised (parallel runner steps
 * never interleave) and skipped when nothing changed. `fence` runs before every write; it throws when this process
 * may no longer write (it lost the leader lease).
 *
 * Status writes never hold the work: the changes that arrive while a write is in flight go out together in the next
 * one (each `update` still resolves only once a write holding its change is done, so what a resume needs is
 * recorded before the caller acts), and a `note` (progress shown to people: a stage condition) waits up to
 * `noteDelayMs` to ride along with the next write instead of making its own.
 */
export class PowerEventStatusStore implements ProgressStore {
  private status: PowerEventStatus;
  private written: string;
  private pending: Pending[] = [];
  private writing: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly ref: PowerEventRef,
    current: PowerEventStatus,
    private readonly apply: StatusApply,
    private readonly fence: () => void = () => undefined,
    private readonly noteDelayMs = 250,
  ) {
    this.status = structuredClone(current);
    this.written = JSON.stringify(current);
  }

  /** The status as last written. */
  get current(): PowerEventStatus {
    return structuredClone(this.status);
  }

  /** Changes the status and writes it; resolves when a write holding the change (and every earlier one) is done. */
  update(change: (status: PowerEventStatus) => PowerEventStatus): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ change, done: { resolve, reject } });
      this.flushSoon(0);
    });
  }

  /** Changes the status in the next write, within `noteDelayMs`; nobody waits for it. */
  note(change: (status: PowerEventStatus) => PowerEventStatus): void {
    this.pending.push({ change });
    this.flushSoon(this.noteDelayMs);
  }

  /** Resolves once every change made so far is written (or failed). */
  async flushed(): Promise<void> {
    this.flushSoon(0);
    while (this.writing) await this.writing;
  }

  private flushSoon(delayMs: number): void {
    if (this.writing) return; // the write in flight takes the rest when it ends
    if (delayMs > 0) {
      this.timer ??= setTimeout(() => this.startWriting(), delayMs);
      return;
    }
    this.startWriting();
  }

  private startWriting(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.pending.length === 0) return;
    this.writing = this.writeAll().finally(() => {
      this.writing = undefined;
      // notes that came during the write wait their delay; updates go at once
      if (this.pending.some((p) => p.done)) this.startWriting();
      else if (this.pending.length > 0) this.flushSoon(this.noteDelayMs);
    });
  }

  /** One write for every pending change, in the order they came; a change that throws fails only its caller. */
  private async writeAll(): Promise<void> {
    const batch = this.pending.splice(0);
    let next = structuredClone(this.status);
    const applied: Pending[] = [];
    for (const pending of batch) {
      try {
        next = pending.change(next);
        applied.push(pending);
      } catch (error) {
        pending.done?.reject(error);
      }
    }
    try {
      const text = JSON.stringify(next);
      if (text !== this.written) {
        this.fence();
        await this.apply(this.ref, next);
        this.written = text;
      }
      this.status = next; // NOTE: only once written, so `current` never shows what the API refused
      for (const pending of applied) pending.done?.resolve();
    } catch (error) {
      for (const pending of applied) pending.done?.reject(error);
    }
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

const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** PowerEvents in one namespace: read, created and merge-patched with field manager `hecate-operator`. */
export class KubePowerEvents {
  private readonly api: CustomObjectsApi;
  private readonly ref: { group: string; version: string; plural: string; namespace: string };

  constructor(
    private readonly kc: KubeConfig,
    readonly namespace: string,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.ref = { group: GROUP, version: VERSION, plural: 'powerevents', namespace };
  }

  /** The object; undefined after a 404. */
  async get(name: string): Promise<PowerEvent | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({ ...this.ref, name })) as PowerEvent;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Creates `body`; undefined when an object of that name exists (409). */
  async create(body: object): Promise<PowerEvent | undefined> {
    try {
      return (await this.api.createNamespacedCustomObject({
        ...this.ref,
        body,
        fieldManager: FIELD_MANAGER,
      })) as PowerEvent;
    } catch (error) {
      if (isConflict(error)) return undefined;
      throw error;
    }
  }

  /** A JSON merge patch of the object (metadata and spec; `null` removes a key). */
  async mergePatch(name: string, body: object): Promise<PowerEvent> {
    return (await this.api.patchNamespacedCustomObject(
      { ...this.ref, name, body, fieldManager: FIELD_MANAGER },
      MERGE_PATCH,
    )) as PowerEvent;
  }

  /** The status of `name` as a store whose writes apply the whole status (see {@link PowerEventStatusStore}). */
  statusStore(name: string, current: PowerEventStatus): PowerEventStatusStore {
    return new PowerEventStatusStore({ namespace: this.namespace, name }, current, kubeStatusApply(this.kc));
  }
}

/**
 * What every part of the PowerEvent reconciler (./powerevent.ts, ./run.ts, ./last-status.ts, ./stop.ts) does the same
 * way with the event it works on: the facts a status write carries, a Kubernetes Event about it, and the object as
 * the informer cache holds it now.
 */
import { API_VERSION, type PowerEvent } from '../../core/api/index.js';
import type { Clock } from '../../core/ports/index.js';
import type * as next from '../../core/status/powerevent.js';
import type { EventRecorder, EventType, InvolvedObject } from '../runtime/events.js';
import type { PowerEventReconcilerDeps } from './deps.js';

/** The generation being handled and the time of the write, as every status transition takes them. */
export function factsOf(clock: Clock, event: PowerEvent): next.Facts {
  return { generation: event.metadata.generation, now: clock.now() };
}

/** Records a Kubernetes Event on the PowerEvent (`kubectl describe powerevent` shows it). */
export function emit(recorder: EventRecorder, event: PowerEvent, type: EventType, reason: string, message: string) {
  recorder.record(involved(event), type, reason, message);
}

/** The event as the cache holds it now (its metadata, for the finalizer), else as parsed. */
export function liveEvent(events: PowerEventReconcilerDeps['events'], event: PowerEvent): unknown {
  return events.get(event.metadata.namespace ?? '', event.metadata.name ?? '') ?? event;
}

/** A raw object from the cache that the API server is deleting. */
export function isBeingDeleted(raw: unknown): boolean {
  return Boolean((raw as { metadata?: { deletionTimestamp?: unknown } } | undefined)?.metadata?.deletionTimestamp);
}

function involved(event: PowerEvent): InvolvedObject {
  return {
    apiVersion: API_VERSION,
    kind: 'PowerEvent',
    namespace: event.metadata.namespace ?? '',
    name: event.metadata.name ?? '',
    uid: event.metadata.uid,
    resourceVersion: event.metadata.resourceVersion,
  };
}

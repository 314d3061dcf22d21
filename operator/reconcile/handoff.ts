/**
 * The hecate CLI hands a cold boot back by creating (or updating) a startup PowerEvent and then writing its status
 * in a second request (status is a subresource). Between the two the event looks fresh: an operator that compiled
 * its own plan then would replace the CLI's status and run done steps again. The CLI marks the event with
 * {@link HANDOFF_PENDING_ANNOTATION} (its value: when the hand-off began) and removes it once the status is written.
 */
import { HANDOFF_PENDING_ANNOTATION, type PowerEvent } from '../../core/api/index.js';

/** A hand-off older than this is taken as abandoned (the CLI died between its two requests): the operator goes on. */
export const HANDOFF_PATIENCE_MS = 10 * 60_000;

/**
 * Milliseconds to wait before looking at the event again while a hand-off is in progress; undefined when there is
 * none (or it was abandoned). Pure.
 */
export function handOffWait(event: PowerEvent, nowMs: number): number | undefined {
  const began = event.metadata.annotations?.[HANDOFF_PENDING_ANNOTATION];
  if (began === undefined) return undefined;
  const beganMs = Date.parse(began);
  const left = (Number.isNaN(beganMs) ? nowMs : beganMs) + HANDOFF_PATIENCE_MS - nowMs;
  return left > 0 ? Math.min(left, 30_000) : undefined;
}

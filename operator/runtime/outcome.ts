/**
 * What one reconcile decided. The work queue acts on it: `done` forgets the key's failures,
 * `requeueAfter` looks again later, `retry` backs off exponentially, `stalled` waits for the next change.
 */
export type Outcome =
  | { kind: 'done' }
  | { kind: 'requeueAfter'; ms: number }
  | { kind: 'retry'; error: Error }
  | { kind: 'stalled'; reason: string };

export const Outcome = {
  done: (): Outcome => ({ kind: 'done' }),
  requeueAfter: (ms: number): Outcome => ({ kind: 'requeueAfter', ms }),
  retry: (error: unknown): Outcome => ({
    kind: 'retry',
    error: error instanceof Error ? error : new Error(String(error)),
  }),
  stalled: (reason: string): Outcome => ({ kind: 'stalled', reason }),
} as const;

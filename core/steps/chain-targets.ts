/**
 * What a chain stage waits for, and the report when it gives up. Pure helpers of core/steps/chain.ts.
 */

import { FLUX_HEALTH_KINDS } from '../api/kinds.js';
import type { ChainStage } from '../api/powerplan.js';
import type { FluxKustomizationView, KubeObject, ObjectKey, Readiness } from '../ports/chain.js';
import { DeadlineExceededError } from '../run/errors.js';
import { describeKey, UNSEAL_HINT } from './readiness.js';

export function keyOf(ref: ObjectKey): string {
  return `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
}

export function refOf(object: KubeObject): ObjectKey {
  const { name, namespace } = object.metadata;
  return { apiVersion: object.apiVersion, kind: object.kind, name, ...(namespace ? { namespace } : {}) };
}

/**
 * The stage's waitFor, then the Kustomization's health checks (or, with `wait: true`, every built object Flux
 * would health-check), without duplicates. Empty when the stage names nothing to wait for.
 */
export function waitTargets(
  stage: ChainStage,
  ks: FluxKustomizationView | undefined,
  built?: KubeObject[],
): ObjectKey[] {
  const declared: ObjectKey[] = ks?.wait
    ? (built ?? []).filter((o) => FLUX_HEALTH_KINDS.has(o.kind)).map(refOf)
    : (ks?.healthChecks ?? []);
  const seen = new Set<string>();
  return [...stage.waitFor, ...declared].filter((ref) => {
    const key = keyOf(ref);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export interface Observation {
  ref: ObjectKey;
  readiness: Readiness;
}

/** One line for progress: the first object not Ready (the seal hint first), and how many more. */
export function statusLine(stage: string, waiting: readonly Observation[]): string {
  const sealed = waiting.find((o) => o.readiness.sealed && o.readiness.sealed.length > 0);
  const first = sealed ?? waiting[0];
  if (!first) return `${stage}: Ready`;
  const more = waiting.length > 1 ? ` (and ${waiting.length - 1} more not Ready)` : '';
  const text = sealed ? `${UNSEAL_HINT} (${sealed.readiness.message})` : first.readiness.message;
  return `${stage}: ${text}${more}`;
}

/** A stage did not become Ready by its deadline; `notReady` names each object and why. */
export class StageNotReadyError extends DeadlineExceededError {
  constructor(
    readonly stage: string,
    readonly notReady: readonly { ref: ObjectKey; message: string; details: readonly string[] }[],
    elapsed: string,
  ) {
    super(
      `${stage} not Ready after ${elapsed}: ${notReady
        .map((o) => `${o.message}${o.details.length > 0 ? ` (${o.details.join('; ')})` : ''}`)
        .join('; ')}`,
    );
  }
}

/** Report lines for a stage that gave up: one per object, with its details indented. */
export function reportLines(error: StageNotReadyError): string[] {
  return [
    `${error.stage}: not Ready by the deadline; a rerun resumes at this stage`,
    ...error.notReady.flatMap((o) => [`  ${o.message}`, ...o.details.map((d) => `    ${d}`)]),
  ];
}

export { describeKey };

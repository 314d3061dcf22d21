import { describe, expect, it } from 'vitest';
import { toFluxObject } from '../../../adapters/kube/flux.js';

const ready = (status: string, observedGeneration?: number) => ({
  type: 'Ready',
  status,
  ...(observedGeneration === undefined ? {} : { observedGeneration }),
});

describe('toFluxObject readiness (kstatus: Ready counts only for the current generation)', () => {
  it.each([
    ['Ready for the current generation', 3, { observedGeneration: 3, conditions: [ready('True', 3)] }, true],
    [
      'Ready from before a resume (generation bumped)',
      4,
      { observedGeneration: 3, conditions: [ready('True', 3)] },
      false,
    ],
    [
      'root observedGeneration current, condition stale',
      4,
      { observedGeneration: 4, conditions: [ready('True', 3)] },
      false,
    ],
    ['no observedGeneration anywhere', 4, { conditions: [ready('True')] }, true],
    ['not Ready', 3, { observedGeneration: 3, conditions: [ready('False', 3)] }, false],
    ['no Ready condition', 3, { observedGeneration: 3, conditions: [] }, undefined],
  ])('given %s, then ready is %s', (_what, generation, status, expected) => {
    const object = toFluxObject('Kustomization', {
      metadata: { name: 'apps', namespace: 'flux-system', generation },
      spec: {},
      status,
    });
    expect(object.ready).toBe(expected);
  });
});

import { describe, expect, it } from 'vitest';
import { toFluxObject } from '../../../adapters/kube/flux.js';
import { fluxKey, parseFluxKey } from '../../../core/flux/objects.js';
import { DependencyCycleError, dependencyOrder, resumeOrder, suspendOrder } from '../../../core/flux/order.js';
import type { FluxObject } from '../../../core/ports/index.js';

const root = { kind: 'Kustomization' as const, namespace: 'flux-system', name: 'flux-system' };
const ks = (name: string, dependsOn: string[] = [], suspended = false): FluxObject => ({
  kind: 'Kustomization',
  namespace: 'flux-system',
  name,
  suspended,
  dependsOn: dependsOn.map((d) => ({ namespace: 'flux-system', name: d })),
});

describe('Flux ordering', () => {
  it("reads dependsOn with the namespace defaulted to the object's own", () => {
    const obj = toFluxObject('Kustomization', {
      metadata: { name: 'apps', namespace: 'flux-system' },
      spec: { suspend: true, dependsOn: [{ name: 'infra' }, { name: 'db', namespace: 'data' }] },
      status: { conditions: [{ type: 'Ready', status: 'False' }] },
    });
    expect(obj).toEqual({
      kind: 'Kustomization',
      namespace: 'flux-system',
      name: 'apps',
      suspended: true,
      ready: false,
      dependsOn: [
        { namespace: 'flux-system', name: 'infra' },
        { namespace: 'data', name: 'db' },
      ],
    });
  });

  it('round-trips keys and rejects foreign ones', () => {
    expect(parseFluxKey(fluxKey(root))).toEqual(root);
    expect(parseFluxKey('Deployment/a/b')).toBeUndefined();
    expect(parseFluxKey('Kustomization/a')).toBeUndefined();
  });

  it('orders dependencies before dependents, not alphabetically', () => {
    const order = dependencyOrder([ks('a-apps', ['z-infra']), ks('m-db', ['z-infra']), ks('z-infra')]).map(
      (o) => o.name,
    );
    expect(order).toEqual(['z-infra', 'a-apps', 'm-db']);
  });

  it('names every object of a dependsOn cycle', () => {
    expect(() => dependencyOrder([ks('a', ['b']), ks('b', ['c']), ks('c', ['a'])])).toThrowError(
      new DependencyCycleError(['flux-system/a', 'flux-system/b', 'flux-system/c', 'flux-system/a']),
    );
  });

  it('suspends the root first and skips what is already suspended', () => {
    const order = suspendOrder(root, [ks('b'), ks('flux-system'), ks('a', [], true)]).map((o) => o.name);
    expect(order).toEqual(['flux-system', 'b']);
  });

  it('resumes the root first, then Kustomizations in dependsOn order, then HelmReleases', () => {
    const hr: FluxObject = { kind: 'HelmRelease', namespace: 'harbor', name: 'harbor', suspended: true, dependsOn: [] };
    const order = resumeOrder(root, [
      hr,
      ks('apps', ['infra'], true),
      ks('infra', [], true),
      ks('flux-system', [], true),
    ]);
    expect(order.map(fluxKey)).toEqual([
      'Kustomization/flux-system/flux-system',
      'Kustomization/flux-system/infra',
      'Kustomization/flux-system/apps',
      'HelmRelease/harbor/harbor',
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { toKustomizationView } from '../../../adapters/flux-kustomization.js';
import { podProblems } from '../../../adapters/kube/readiness.js';
import type { ObservedObject } from '../../../core/ports/index.js';
import { conditionReadiness, readinessOf, sealedPods, workloadReadiness } from '../../../core/steps/readiness.js';

const sts = { kind: 'StatefulSet', namespace: 'vault', name: 'vault' };
const deploy = { kind: 'Deployment', namespace: 'git', name: 'forge' };
const ds = { kind: 'DaemonSet', namespace: 'store', name: 'csi' };
const hr = { kind: 'HelmRelease', namespace: 'edge', name: 'proxy' };

describe('workloadReadiness', () => {
  it.each<[string, { kind: string; namespace: string; name: string }, ObservedObject, boolean, string]>([
    [
      'a StatefulSet with no ready replica',
      sts,
      { spec: { replicas: 1 }, status: {} },
      false,
      'StatefulSet vault/vault 0/1 ready',
    ],
    [
      'a ready StatefulSet',
      sts,
      { spec: { replicas: 1 }, status: { readyReplicas: 1 } },
      true,
      'StatefulSet vault/vault 1/1 ready',
    ],
    [
      'a Deployment available but not updated',
      deploy,
      { spec: { replicas: 2 }, status: { availableReplicas: 2, updatedReplicas: 1 } },
      false,
      'Deployment git/forge 1/2 available',
    ],
    [
      'an available, updated Deployment',
      deploy,
      { spec: { replicas: 2 }, status: { availableReplicas: 2, updatedReplicas: 2 } },
      true,
      'Deployment git/forge 2/2 available',
    ],
    [
      'a DaemonSet on 3 nodes with 2 ready',
      ds,
      { status: { desiredNumberScheduled: 3, numberReady: 2, updatedNumberScheduled: 3 } },
      false,
      'DaemonSet store/csi 2/3 ready',
    ],
    [
      'a DaemonSet ready everywhere',
      ds,
      { status: { desiredNumberScheduled: 3, numberReady: 3, updatedNumberScheduled: 3 } },
      true,
      'DaemonSet store/csi 3/3 ready',
    ],
    [
      'a StatefulSet whose controller has not seen the latest spec',
      sts,
      { metadata: { generation: 3 }, spec: { replicas: 1 }, status: { observedGeneration: 2, readyReplicas: 1 } },
      false,
      'StatefulSet vault/vault 1/1 ready (the controller has not seen the latest spec yet)',
    ],
  ])('given %s', (_what, ref, object, ready, message) => {
    expect(workloadReadiness(ref, object)).toEqual({ ready, message });
  });

  it('says why a Deployment is stuck', () => {
    const result = workloadReadiness(deploy, {
      status: {
        conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'too slow' }],
      },
    });
    expect(result?.message).toBe('Deployment git/forge 0/1 available (ProgressDeadlineExceeded: too slow)');
  });
});

describe('conditionReadiness', () => {
  const ready = (extra: object = {}) => ({ type: 'Ready', status: 'True', reason: 'InstallSucceeded', ...extra });
  it.each<[string, ObservedObject, boolean, string]>([
    ['Ready=True', { status: { conditions: [ready()] } }, true, 'HelmRelease edge/proxy Ready'],
    [
      'Ready=False',
      { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'InstallFailed', message: 'timeout' }] } },
      false,
      'HelmRelease edge/proxy not Ready: InstallFailed: timeout',
    ],
    [
      'Ready=True for an older generation',
      { metadata: { generation: 2 }, status: { conditions: [ready({ observedGeneration: 1 })] } },
      false,
      'HelmRelease edge/proxy Ready for an older generation',
    ],
    [
      'suspended, with the Ready=True it had before the outage',
      { spec: { suspend: true }, status: { conditions: [ready()] } },
      false,
      'HelmRelease edge/proxy is suspended: Flux does not reconcile it until it is resumed',
    ],
    [
      'a reconcile requested and not handled yet',
      {
        metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': 't2' } },
        status: { lastHandledReconcileAt: 't1', conditions: [ready()] },
      },
      false,
      'HelmRelease edge/proxy Ready, but the reconcile requested at t2 is not handled yet',
    ],
    [
      'a reconcile requested and handled',
      {
        metadata: { annotations: { 'reconcile.fluxcd.io/requestedAt': 't2' } },
        status: { lastHandledReconcileAt: 't2', conditions: [ready()] },
      },
      true,
      'HelmRelease edge/proxy Ready',
    ],
    ['no status at all (a plain object)', {}, true, 'HelmRelease edge/proxy exists'],
    [
      'conditions without Ready',
      { status: { conditions: [{ type: 'Reconciling', status: 'True' }] } },
      false,
      'HelmRelease edge/proxy has no Ready condition yet',
    ],
  ])('given %s', (_what, object, isReady, message) => {
    const result = conditionReadiness(hr, object);
    expect({ ready: result.ready, message: result.message }).toEqual({ ready: isReady, message });
  });
});

describe('the Vault seal signal', () => {
  const pod = (
    name: string,
    phase: string,
    labels: Record<string, string> = {},
    annotations: Record<string, string> = {},
  ) => ({
    metadata: { name, labels, annotations },
    status: { phase },
  });
  it('finds running pods labelled vault-sealed=true, as Vault labels its own pods (an annotation does not count)', () => {
    expect(
      sealedPods([
        pod('vault-0', 'Running', { 'vault-sealed': 'true' }),
        pod('vault-1', 'Running', { 'vault-sealed': 'false' }),
        pod('vault-2', 'Running', {}, { 'vault-sealed': 'true' }),
        pod('vault-3', 'Pending', { 'vault-sealed': 'true' }),
      ]),
    ).toEqual(['vault-0']);
  });

  it('makes a StatefulSet whose replicas are ready but sealed not Ready', () => {
    const result = readinessOf(sts, { spec: { replicas: 1 }, status: { readyReplicas: 1 } }, [
      pod('vault-0', 'Running', { 'vault-sealed': 'true' }),
    ]);
    expect(result).toEqual({
      ready: false,
      message: 'StatefulSet vault/vault 1/1 ready; vault-0 sealed',
      sealed: ['vault-0'],
    });
  });
});

describe('podProblems', () => {
  it.each([
    [
      'unschedulable',
      {
        status: {
          phase: 'Pending',
          conditions: [
            { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' },
          ],
        },
      },
      ['pod p: Unschedulable: 0/3 nodes are available'],
    ],
    [
      'pulling',
      {
        status: {
          phase: 'Pending',
          containerStatuses: [
            { name: 'main', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off' } } },
          ],
        },
      },
      ['pod p: container main ImagePullBackOff: Back-off'],
    ],
    ['ready', { status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } }, []],
  ])('given a pod %s', (_what, pod, expected) => {
    expect(podProblems({ metadata: { name: 'p' }, ...pod })).toEqual(expected);
  });
});

describe('toKustomizationView', () => {
  it('reads postBuild, health checks (namespace defaulted) and fields Hecate does not replicate', () => {
    const view = toKustomizationView(
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'db' },
        spec: {
          path: './apps/db',
          targetNamespace: 'db',
          postBuild: {
            substitute: { N: 3 },
            substituteFrom: [
              { kind: 'Secret', name: 's', optional: true },
              { kind: 'Bogus', name: 'x' },
            ],
          },
          healthChecks: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'pg' }],
          patches: [],
        },
      },
      'clusters/lab/db.yaml',
      'flux-system',
    );
    expect(view).toEqual({
      namespace: 'flux-system',
      name: 'db',
      path: './apps/db',
      postBuild: { substitute: { N: '3' }, substituteFrom: [{ kind: 'Secret', name: 's', optional: true }] },
      healthChecks: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'pg', namespace: 'flux-system' }],
      wait: false,
      unsupported: ['targetNamespace'],
      from: 'clusters/lab/db.yaml',
    });
  });
});

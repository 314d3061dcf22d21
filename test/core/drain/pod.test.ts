import { describe, expect, it } from 'vitest';
import { InvalidPodError, toDrainPod } from '../../../core/drain/pod.js';
import type { PodLike, Toleration } from '../../../core/ports/index.js';

const base = {
  metadata: { name: 'web-1', namespace: 'apps', uid: 'u1' },
  spec: { nodeName: 'worker-1', terminationGracePeriodSeconds: 10 },
  status: { phase: 'Running' },
};

describe('toDrainPod', () => {
  it.each<[string, PodLike, Record<string, unknown>]>([
    [
      'a plain pod',
      base,
      {
        controller: null,
        isMirror: false,
        hasEmptyDir: false,
        terminationGracePeriodSeconds: 10,
        toleratesCordon: false,
        isHecateHelper: false,
      },
    ],
    [
      "one of Hecate's helper pods (managed by hecate, with a purpose)",
      {
        ...base,
        metadata: {
          ...base.metadata,
          labels: { 'app.kubernetes.io/managed-by': 'hecate', 'hecate.dev/helper': 'power-off' },
        },
      },
      { isHecateHelper: true },
    ],
    [
      'a pod managed by hecate with no helper purpose, or a helper label someone else manages',
      { ...base, metadata: { ...base.metadata, labels: { 'app.kubernetes.io/managed-by': 'hecate' } } },
      { isHecateHelper: false },
    ],
    [
      'a helper label without the hecate manager',
      {
        ...base,
        metadata: {
          ...base.metadata,
          labels: { 'app.kubernetes.io/managed-by': 'helm', 'hecate.dev/helper': 'power-off' },
        },
      },
      { isHecateHelper: false },
    ],
    [
      'owner references of which one is the controller',
      {
        ...base,
        metadata: {
          ...base.metadata,
          ownerReferences: [
            { kind: 'ConfigMap', name: 'cm' },
            { kind: 'ReplicaSet', name: 'web-abc', controller: true },
          ],
        },
      },
      { controller: { kind: 'ReplicaSet', name: 'web-abc' } },
    ],
    [
      'an owner reference that is not the controller',
      {
        ...base,
        metadata: { ...base.metadata, ownerReferences: [{ kind: 'ReplicaSet', name: 'rs', controller: false }] },
      },
      { controller: null },
    ],
    [
      'the mirror annotation (even empty)',
      { ...base, metadata: { ...base.metadata, annotations: { 'kubernetes.io/config.mirror': '' } } },
      { isMirror: true },
    ],
    ['an emptyDir volume', { ...base, spec: { volumes: [{}, { emptyDir: {} }] } }, { hasEmptyDir: true, nodeName: '' }],
    ['no grace period', { ...base, spec: {} }, { terminationGracePeriodSeconds: 30 }],
    ...tolerationCases(),
    [
      'a string deletionTimestamp',
      { ...base, metadata: { ...base.metadata, deletionTimestamp: '2025-01-01T00:00:10Z' } },
      { deletionTimestampMs: Date.UTC(2025, 0, 1, 0, 0, 10) },
    ],
    [
      'a Date deletionTimestamp (client-node)',
      { ...base, metadata: { ...base.metadata, deletionTimestamp: new Date(5_000) } },
      { deletionTimestampMs: 5_000 },
    ],
    ['no namespace', { ...base, metadata: { name: 'p', uid: 'u' } }, { namespace: 'default', name: 'p', uid: 'u' }],
  ])('given %s, when converted, then the view says so', (_given, input, expected) => {
    expect(toDrainPod(input)).toMatchObject(expected);
  });

  it('given a plain pod, when converted, then no deletionTimestampMs key exists', () => {
    expect(toDrainPod(base)).toEqual({
      namespace: 'apps',
      name: 'web-1',
      uid: 'u1',
      nodeName: 'worker-1',
      phase: 'Running',
      controller: null,
      isMirror: false,
      hasEmptyDir: false,
      terminationGracePeriodSeconds: 10,
      toleratesCordon: false,
      isHecateHelper: false,
    });
  });

  it.each<[string, PodLike]>([
    ['no uid', { metadata: { name: 'p' } }],
    ['no name', { metadata: { uid: 'u' } }],
    ['no metadata', {}],
  ])('given %s, when converted, then InvalidPodError', (_given, input) => {
    expect(() => toDrainPod(input)).toThrow(InvalidPodError);
  });
});

/** Which tolerations let the scheduler rightly place a pod on a cordoned node (taint node.kubernetes.io/unschedulable:NoSchedule). */
function tolerationCases(): [string, PodLike, Record<string, unknown>][] {
  const key = 'node.kubernetes.io/unschedulable';
  const cases: [string, Toleration, boolean][] = [
    ['the cordon taint with Exists', { key, operator: 'Exists', effect: 'NoSchedule' }, true],
    ['the cordon taint with any effect', { key, operator: 'Exists' }, true],
    ['the cordon taint with Equal and no value', { key, effect: 'NoSchedule' }, true],
    ['every taint (empty key, Exists)', { operator: 'Exists' }, true],
    ['the cordon taint with another value', { key, operator: 'Equal', value: 'yes' }, false],
    ['the cordon taint for NoExecute only', { key, operator: 'Exists', effect: 'NoExecute' }, false],
    ['another taint', { key: 'node.kubernetes.io/not-ready', operator: 'Exists' }, false],
  ];
  return cases.map(([name, toleration, tolerates]) => [
    `a toleration of ${name}`,
    { ...base, spec: { ...base.spec, tolerations: [toleration] } },
    { toleratesCordon: tolerates },
  ]);
}

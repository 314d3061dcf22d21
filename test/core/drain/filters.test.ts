import { describe, expect, it } from 'vitest';
import { evaluatePod, selectPodsForDrain, summarize } from '../../../core/drain/filters.js';
import type { Level } from '../../../core/drain/options.js';
import { daemon, mirror, options, pod, unmanaged } from './fixtures.js';

const NOW = 1_000_000;
const DS_ERROR = 'cannot delete DaemonSet-managed Pods (set drain.ignoreDaemonSets to ignore)';
const DS_WARNING = 'ignoring DaemonSet-managed Pods';
const MIRROR_WARNING = 'ignoring mirror Pods of static Pods (the kubelet owns them)';
const EMPTYDIR_ERROR = 'cannot delete Pods with local storage (set drain.deleteEmptyDirData to override)';
const EMPTYDIR_WARNING = 'deleting Pods with local storage (their emptyDir data is lost)';
const UNMANAGED_ERROR = 'cannot delete Pods that declare no controller (needs the force escalation level)';
const UNMANAGED_WARNING = 'deleting Pods that declare no controller (escalation level force)';
const SKIPPED = 'deletion requested too long ago (skipWaitForDeleteTimeout)';

describe('evaluatePod', () => {
  it.each([
    ['a running ReplicaSet pod', 'evict', 'deleted (ok)', pod('web'), {}, { delete: true, level: 'ok', messages: [] }],
    [
      "Hecate's power-off helper (no controller) on a node already off, at the harshest level",
      'disable-eviction',
      'kept (warning)',
      unmanaged('hecate-power-off-worker-1-5f2c', { namespace: 'hecate-system', isHecateHelper: true }),
      {},
      { delete: false, level: 'warning', messages: ["ignoring Hecate's own helper Pods"] },
    ],
    [
      "Hecate's finished helper",
      'evict',
      'kept (warning)',
      unmanaged('hecate-prepull-worker-1-x', { isHecateHelper: true, phase: 'Succeeded' }),
      {},
      { delete: false, level: 'warning', messages: ["ignoring Hecate's own helper Pods"] },
    ],
    [
      'a DaemonSet pod with ignoreDaemonSets',
      'evict',
      'kept (warning)',
      daemon('agent'),
      {},
      { delete: false, level: 'warning', messages: [DS_WARNING] },
    ],
    [
      'a DaemonSet pod with ignoreDaemonSets at disable-eviction',
      'disable-eviction',
      'kept (warning)',
      daemon('agent'),
      {},
      { delete: false, level: 'warning', messages: [DS_WARNING] },
    ],
    [
      'a DaemonSet pod without ignoreDaemonSets',
      'disable-eviction',
      'kept (error)',
      daemon('agent'),
      { ignoreDaemonSets: false },
      { delete: false, level: 'error', messages: [DS_ERROR] },
    ],
    [
      'a Succeeded DaemonSet pod',
      'evict',
      'deleted (ok)',
      daemon('agent', { phase: 'Succeeded' }),
      { ignoreDaemonSets: false },
      { delete: true, level: 'ok', messages: [] },
    ],
    [
      'a mirror pod',
      'evict',
      'kept (warning)',
      mirror('etcd'),
      {},
      { delete: false, level: 'warning', messages: [MIRROR_WARNING] },
    ],
    [
      'a mirror pod at disable-eviction',
      'disable-eviction',
      'kept (warning)',
      mirror('etcd'),
      {},
      { delete: false, level: 'warning', messages: [MIRROR_WARNING] },
    ],
    [
      'a Failed mirror pod',
      'disable-eviction',
      'kept (warning)',
      mirror('etcd', { phase: 'Failed' }),
      {},
      { delete: false, level: 'warning', messages: [MIRROR_WARNING] },
    ],
    [
      'an emptyDir pod without deleteEmptyDirData',
      'disable-eviction',
      'kept (error)',
      pod('cache', { hasEmptyDir: true }),
      { deleteEmptyDirData: false },
      { delete: false, level: 'error', messages: [EMPTYDIR_ERROR] },
    ],
    [
      'an emptyDir pod with deleteEmptyDirData',
      'evict',
      'deleted (warning)',
      pod('cache', { hasEmptyDir: true }),
      {},
      { delete: true, level: 'warning', messages: [EMPTYDIR_WARNING] },
    ],
    [
      'a Failed emptyDir pod without deleteEmptyDirData',
      'evict',
      'deleted (ok)',
      pod('cache', { hasEmptyDir: true, phase: 'Failed' }),
      { deleteEmptyDirData: false },
      { delete: true, level: 'ok', messages: [] },
    ],
    [
      'an unmanaged pod at evict',
      'evict',
      'kept (error)',
      unmanaged('debug'),
      {},
      { delete: false, level: 'error', messages: [UNMANAGED_ERROR] },
    ],
    [
      'an unmanaged pod at force',
      'force',
      'deleted (warning)',
      unmanaged('debug'),
      {},
      { delete: true, level: 'warning', messages: [UNMANAGED_WARNING] },
    ],
    [
      'an unmanaged pod at disable-eviction',
      'disable-eviction',
      'deleted (warning)',
      unmanaged('debug'),
      {},
      { delete: true, level: 'warning', messages: [UNMANAGED_WARNING] },
    ],
    [
      'a Succeeded unmanaged pod at evict',
      'evict',
      'deleted (ok)',
      unmanaged('job', { phase: 'Succeeded' }),
      {},
      { delete: true, level: 'ok', messages: [] },
    ],
    [
      'an unmanaged emptyDir pod at evict',
      'evict',
      'kept (error)',
      unmanaged('debug', { hasEmptyDir: true }),
      {},
      { delete: false, level: 'error', messages: [EMPTYDIR_WARNING, UNMANAGED_ERROR] },
    ],
    [
      'a pod deleted 61 s ago, skip after 60 s',
      'evict',
      'kept (skip)',
      pod('old', { deletionTimestampMs: NOW - 61_000 }),
      { skipWaitForDeleteTimeoutMs: 60_000 },
      { delete: false, level: 'skip', messages: [SKIPPED] },
    ],
    [
      'a pod deleted 60 s ago, skip after 60 s',
      'evict',
      'deleted (ok)',
      pod('old', { deletionTimestampMs: NOW - 60_000 }),
      { skipWaitForDeleteTimeoutMs: 60_000 },
      { delete: true, level: 'ok', messages: [] },
    ],
    [
      'a pod deleted an hour ago, skipping disabled',
      'evict',
      'deleted (ok)',
      pod('old', { deletionTimestampMs: NOW - 3_600_000 }),
      {},
      { delete: true, level: 'ok', messages: [] },
    ],
    [
      'a skipped unmanaged pod at evict',
      'evict',
      'kept (skip)',
      unmanaged('old', { deletionTimestampMs: 0 }),
      { skipWaitForDeleteTimeoutMs: 1_000 },
      { delete: false, level: 'skip', messages: [SKIPPED] },
    ],
  ] as const)('given %s, when evaluated at %s, then %s', (_given, level, _then, subject, overrides, expected) => {
    const verdict = evaluatePod(subject, { options: options(overrides), level: level as Level, nowMs: NOW });
    expect(verdict).toEqual({ pod: subject, ...expected });
  });
});

describe('selectPodsForDrain', () => {
  const node = [
    pod('web'),
    daemon('agent'),
    mirror('etcd'),
    unmanaged('debug'),
    pod('cache', { hasEmptyDir: true }),
    unmanaged('debug-2'),
    pod('old', { deletionTimestampMs: 0 }),
  ];
  const names = (pods: readonly { name: string }[]) => pods.map((p) => p.name);
  const namesOf = (verdicts: readonly { pod: { name: string } }[]) => verdicts.map((v) => v.pod.name);

  it.each([
    ['evict', ['web', 'cache'], ['agent', 'etcd', 'cache'], ['debug', 'debug-2']],
    ['force', ['web', 'debug', 'cache', 'debug-2'], ['agent', 'etcd', 'debug', 'cache', 'debug-2'], []],
    ['disable-eviction', ['web', 'debug', 'cache', 'debug-2'], ['agent', 'etcd', 'debug', 'cache', 'debug-2'], []],
  ] as const)(
    'given a mixed node, when selecting at %s, then only the allowed pods are deleted',
    (level, toDelete, warnings, errors) => {
      const selection = selectPodsForDrain(node, options({ skipWaitForDeleteTimeoutMs: 60_000 }), level, NOW);
      expect(names(selection.toDelete)).toEqual(toDelete);
      expect(namesOf(selection.warnings)).toEqual(warnings);
      expect(namesOf(selection.errors)).toEqual(errors);
      expect(namesOf(selection.skipped)).toEqual(['old']);
    },
  );

  it('given errors on several pods, when summarized, then one kubectl-style line per message names its pods', () => {
    const selection = selectPodsForDrain(
      node,
      options({ ignoreDaemonSets: false, deleteEmptyDirData: false }),
      'evict',
      NOW,
    );
    expect(summarize(selection.errors)).toEqual([
      `${DS_ERROR}: apps/agent`,
      `${UNMANAGED_ERROR}: apps/debug, apps/debug-2`,
      `${EMPTYDIR_ERROR}: apps/cache`,
    ]);
  });
});

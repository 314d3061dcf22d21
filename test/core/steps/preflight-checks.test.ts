import { describe, expect, it } from 'vitest';
import type { PlanStep } from '../../../core/api/index.js';
import type { LonghornVolumeView, PreflightSnapshot, ReplicaView } from '../../../core/ports/prepare.js';
import {
  isHealthyReplica,
  lastReplicaFindings,
  preflightFindings,
  preflightUnchecked,
} from '../../../core/steps/preflight-checks.js';
import { preflight } from '../../../core/steps/prepare.js';
import { atlasSpec } from '../../helpers/atlas.js';

describe('preflightFindings', () => {
  const pod = (name: string, node: string, extra: { owner?: string; emptyDir?: boolean; mirror?: boolean } = {}) => ({
    metadata: {
      name,
      namespace: 'apps',
      uid: `uid-${name}`,
      ...(extra.mirror ? { annotations: { 'kubernetes.io/config.mirror': 'x' } } : {}),
      ...(extra.owner ? { ownerReferences: [{ kind: extra.owner, name: 'o', controller: true }] } : {}),
    },
    spec: { nodeName: node, ...(extra.emptyDir ? { volumes: [{ emptyDir: {} }] } : {}) },
    status: { phase: 'Running' },
  });
  const snapshot: PreflightSnapshot = {
    pdbs: [
      { namespace: 'vault', name: 'vault', disruptionsAllowed: 0, currentHealthy: 1, expectedPods: 1 },
      { namespace: 'apps', name: 'web', disruptionsAllowed: 1 },
    ],
    statefulSets: [
      { namespace: 'gitea', name: 'postgres', replicas: 1 },
      { namespace: 'gitea', name: 'redis', replicas: 3 },
    ],
    pods: [
      pod('naked', 'titan-04'),
      pod('cache', 'titan-05', { owner: 'ReplicaSet', emptyDir: true }),
      pod('agent', 'titan-05', { owner: 'DaemonSet', emptyDir: true }),
      pod('static', 'titan-06', { mirror: true }),
      pod('on-control-plane', 'titan-01'),
    ],
    nodes: [
      { name: 'titan-04', ready: true, unschedulable: true },
      { name: 'titan-05', ready: true, unschedulable: true, cordonedBy: 'hecate' },
      { name: 'elsewhere', ready: true, unschedulable: true },
    ],
  };

  it('given the Atlas plan, then it reports what would block or slow a shutdown, and nothing else', () => {
    expect(preflightFindings(snapshot, atlasSpec())).toEqual([
      'PodDisruptionBudget vault/vault allows no disruption now (1 of 1 healthy): its pods yield only at "disable-eviction"',
      'StatefulSet gitea/postgres has a single replica: it is unavailable while its node drains',
      'Pod apps/naked on titan-04 has no controller: deleted only from the "force" level on, and not recreated',
      'Pod apps/cache on titan-05 has emptyDir data: lost when the node drains',
      'Node titan-04 is already cordoned by someone else: startup leaves it cordoned',
    ]);
  });
});

describe('Longhorn volumes whose only healthy replica is on a worker', () => {
  const T = '2026-01-01T00:00:00Z';
  const healthy = (volume: string, node: string, extra: Partial<ReplicaView> = {}): ReplicaView => ({
    name: `${volume}-r-${node}`,
    volume,
    node,
    healthyAt: T,
    state: 'running',
    ...extra,
  });
  const volume = (name: string, state = 'attached', workloads = [`StatefulSet apps/${name}`]): LonghornVolumeView => ({
    name,
    state,
    pvc: { namespace: 'apps', name: `data-${name}` },
    workloads,
  });
  const named = (findings: string[]) => findings.map((f) => /^Longhorn volume (\S+) .* on worker (\S+):/.exec(f));

  it.each<[string, ReplicaView['state'] | 'failed' | 'rebuilding' | 'deleting', boolean, boolean]>([
    ['a running replica of an attached volume', 'running', true, true],
    ['a stopped replica of an attached volume', 'stopped', true, false],
    ['an errored replica of an attached volume', 'error', true, false],
    ['a stopped replica of a detached volume (Longhorn still protects its data)', 'stopped', false, true],
    ['a failed replica (failedAt set)', 'failed', true, false],
    ['a rebuilding replica (no healthyAt yet)', 'rebuilding', true, false],
    ['a replica being deleted', 'deleting', true, false],
  ])('given %s, then healthy is %s', (_what, kind, attached, expected) => {
    const replica =
      kind === 'failed'
        ? healthy('v', 'n', { failedAt: T, state: 'stopped' })
        : kind === 'rebuilding'
          ? { name: 'r', volume: 'v', node: 'n', state: 'running' }
          : kind === 'deleting'
            ? healthy('v', 'n', { deleting: true })
            : healthy('v', 'n', { state: kind });
    expect(isHealthyReplica(replica, attached)).toBe(expected);
  });

  it('given the Atlas plan and mixed placements, then only volumes whose healthy replicas are all on one worker are named', () => {
    const replicas = [
      // gitea: one replica, on a worker → named
      healthy('gitea', 'titan-06'),
      // postgres: two healthy on workers, one failed → not named
      healthy('postgres', 'titan-04'),
      healthy('postgres', 'titan-05'),
      healthy('postgres', 'titan-07', { failedAt: T, state: 'stopped' }),
      // vault: the second replica failed, the third is rebuilding, the fourth stopped → only titan-05 → named
      healthy('vault', 'titan-05'),
      healthy('vault', 'titan-06', { failedAt: T }),
      { name: 'vault-r-rebuild', volume: 'vault', node: 'titan-07', state: 'running' },
      healthy('vault', 'titan-04', { state: 'stopped' }),
      // etcd-backup: only healthy replica on a control-plane node → not named
      healthy('backup', 'titan-01'),
      // cache: one healthy on a worker, one on the control plane → not named (another node holds the data)
      healthy('cache', 'titan-04'),
      healthy('cache', 'titan-02'),
      // scratch: two healthy replicas on the same worker (soft anti-affinity) → named
      healthy('scratch', 'titan-07'),
      { ...healthy('scratch', 'titan-07'), name: 'scratch-r-2' },
      // faulted: no healthy replica at all → not this finding
      healthy('faulted', 'titan-04', { failedAt: T }),
      // a replica of a volume Longhorn no longer lists → ignored
      healthy('gone', 'titan-04'),
    ];
    const volumes = ['gitea', 'postgres', 'vault', 'backup', 'cache', 'scratch', 'faulted'].map((n) => volume(n));
    const findings = lastReplicaFindings({ readable: true, volumes, replicas }, atlasSpec());
    expect(named(findings).map((m) => `${m?.[1]} ${m?.[2]}`)).toEqual([
      'gitea titan-06',
      'scratch titan-07',
      'vault titan-05',
    ]);
    expect(findings[0]).toBe(
      'Longhorn volume gitea (PVC apps/data-gitea) has its only healthy replica on worker titan-06: Longhorn refuses to drain titan-06 (node drain policy block-if-contains-last-replica) until the volume detaches, so the storage quiesce has to stop what uses it: StatefulSet apps/gitea',
    );
  });

  it('given a detached volume whose replicas are all stopped, then its replicas still count (one on a worker is named)', () => {
    const replicas = [healthy('solo', 'titan-04', { state: 'stopped' })];
    const findings = lastReplicaFindings(
      { readable: true, volumes: [volume('solo', 'detached', [])], replicas },
      atlasSpec(),
    );
    expect(findings).toEqual([
      expect.stringContaining('solo (PVC apps/data-solo) has its only healthy replica on worker titan-04'),
    ]);
    expect(findings[0]).toMatch(/what uses it: no workload Longhorn knows of$/);
  });

  const base: PreflightSnapshot = { pdbs: [], statefulSets: [], pods: [], nodes: [] };

  it.each([
    ['no Longhorn read', undefined, ['which Longhorn volumes have their only healthy replica on a worker: not read']],
    [
      'a Longhorn without the Replica CRD',
      { readable: false as const, reason: 'replicas.longhorn.io is not served by this cluster' },
      [
        'which Longhorn volumes have their only healthy replica on a worker: replicas.longhorn.io is not served by this cluster',
      ],
    ],
    ['a readable Longhorn', { readable: true as const, volumes: [], replicas: [] }, []],
  ])('given %s, then the unchecked list is as expected and nothing is a finding', (_what, longhorn, unchecked) => {
    const snapshot = { ...base, ...(longhorn ? { longhorn } : {}) };
    expect(preflightUnchecked(snapshot, atlasSpec())).toEqual(unchecked);
    expect(preflightFindings(snapshot, atlasSpec())).toEqual([]);
  });

  it('given a plan with storage.longhorn false, then Longhorn is neither read nor reported', async () => {
    const spec = { ...atlasSpec(), storage: { ...atlasSpec().storage, longhorn: false } };
    const asked: unknown[] = [];
    const reports: string[] = [];
    const port = {
      snapshot: async (options?: unknown) => {
        asked.push(options);
        return base;
      },
    };
    await preflight(port, spec).apply({} as PlanStep, { report: (m: string) => reports.push(m) } as never);
    expect(asked).toEqual([{}]);
    expect(reports).toEqual(['nothing would block a shutdown']);
    expect(preflightUnchecked(base, spec)).toEqual([]);
  });

  it('given a Longhorn without the Replica CRD, then the step says what it could not check and still succeeds', async () => {
    const asked: unknown[] = [];
    const reports: string[] = [];
    const longhorn = { readable: false as const, reason: 'replicas.longhorn.io is not served by this cluster' };
    const port = {
      snapshot: async (options?: unknown) => {
        asked.push(options);
        return { ...base, longhorn };
      },
    };
    await preflight(port, atlasSpec()).apply({} as PlanStep, { report: (m: string) => reports.push(m) } as never);
    expect(asked).toEqual([{ longhornNamespace: 'longhorn-system' }]);
    expect(reports).toEqual([
      'Could not check which Longhorn volumes have their only healthy replica on a worker: replicas.longhorn.io is not served by this cluster',
      'nothing would block a shutdown (1 check not made)',
    ]);
  });
});

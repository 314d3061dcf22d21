import { describe, expect, it } from 'vitest';
import type { PlanStep } from '../../../core/api/index.js';
import { compilePlan } from '../../../core/plan/index.js';
import type { NodeAccessPort, NodeAddress } from '../../../core/ports.js';
import type { Executors } from '../../../core/run/executor.js';
import { runPlan } from '../../../core/run/runner.js';
import {
  isHealthyReplica,
  lastReplicaFindings,
  PrepareError,
  PrepullFailedError,
  preflight,
  preflightFindings,
  preflightUnchecked,
  prepullImage,
  recordFluxRevision,
  refreshSnapshot,
  verifyBundle,
} from '../../../core/steps/prepare.js';
import type {
  BundleFilesPort,
  LonghornVolumeView,
  PreflightSnapshot,
  ReplicaView,
  SnapshotPort,
} from '../../../core/steps/prepare-ports.js';
import { atlasInput, atlasSpec } from '../../helpers/atlas.js';
import { FakeFlux } from '../../helpers/fake-flux.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

/** Runs the steps of kind `kind` of the Atlas prepare plan; returns the reports and the store. */
async function runKind(kind: string, executors: Executors, store = new MemoryStore()) {
  const plan = compilePlan('prepare', atlasInput());
  const steps = plan.steps.filter((s) => s.kind === kind);
  const reports: string[] = [];
  const run = runPlan({
    plan: { ...plan, steps },
    action: 'prepare',
    executors,
    store,
    clock: new FakeClock(),
    logger: silentLogger,
    onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
  });
  return { run, reports, store, steps };
}

class FakeImages implements NodeAccessPort {
  readonly calls: string[] = [];
  constructor(private readonly cannot: Record<string, string>) {}
  async powerOff(): Promise<void> {}
  async ensureImage(node: NodeAddress, image: string) {
    this.calls.push(`${node.name} ${image}`);
    if (node.name === 'titan-07') throw new Error('API error 500');
    const why = this.cannot[node.name];
    return why ? { present: false, message: why } : { present: true, message: 'pulled' };
  }
}

describe('prepullImage', () => {
  it('given some nodes that cannot pull, then each failure is reported with its node and the step still succeeds', async () => {
    const access = new FakeImages({ 'titan-05': 'ErrImagePull: connection refused' });
    const { run, reports } = await runKind('prepull-image', { 'prepull-image': prepullImage(access, atlasSpec()) });
    const progress = await run;
    expect(access.calls).toHaveLength(7);
    expect(access.calls[0]).toBe('titan-01 docker.io/library/busybox:1.37');
    expect(reports).toContain(
      'titan-05: docker.io/library/busybox:1.37 NOT present (ErrImagePull: connection refused)',
    );
    expect(reports).toContain('titan-07: docker.io/library/busybox:1.37 NOT present (API error 500)');
    expect(reports.at(-1)).toBe('2 of 7 nodes could not pull docker.io/library/busybox:1.37: titan-05, titan-07');
    expect(progress.steps.map((s) => s.state)).toEqual(['done']);
  });

  it('given no node that can pull, then the step fails naming every node', async () => {
    const spec = atlasSpec();
    const all = Object.fromEntries(spec.nodes.map((n) => [n.name, 'ImagePullBackOff']));
    const { run } = await runKind('prepull-image', { 'prepull-image': prepullImage(new FakeImages(all), spec) });
    const error = await run.catch((e: Error) => e);
    expect((error as Error).cause).toBeInstanceOf(PrepullFailedError);
    expect(((error as Error).cause as PrepullFailedError).failures).toMatchObject({ 'titan-01': 'ImagePullBackOff' });
  });
});

describe('refreshSnapshot', () => {
  const snapshot = (calls: unknown[]): SnapshotPort => ({
    refresh: async (input) => {
      calls.push({ ...input, signal: undefined });
      return { revision: 'main@sha1:0123', cloned: false };
    },
  });

  it('given the Atlas source, then the snapshot dir is refreshed from its URL and branch', async () => {
    const calls: unknown[] = [];
    const { run, reports, steps } = await runKind('refresh-snapshot', {
      'refresh-snapshot': refreshSnapshot(snapshot(calls), '/home/ops/hecate-repo'),
    });
    await run;
    expect(calls).toEqual([
      { url: steps[0]?.params.url, branch: steps[0]?.params.branch, dir: '/home/ops/hecate-repo', signal: undefined },
    ]);
    expect(reports).toEqual(['updated /home/ops/hecate-repo at main@sha1:0123']);
  });

  it('given a plan without a source URL, then the step fails saying which field to set', async () => {
    const executor = refreshSnapshot(snapshot([]), '/tmp/x');
    const step = { params: { url: '', branch: '' } } as unknown as PlanStep;
    await expect(executor.apply(step, {} as never)).rejects.toThrow(/spec\.flux\.source\.url/);
  });
});

describe('recordFluxRevision', () => {
  it('given a source with an artifact, then its revision is recorded, and a rerun finds it done', async () => {
    const flux = new FakeFlux([]);
    const executors = { 'record-flux-revision': recordFluxRevision(flux, atlasSpec()) };
    const first = await runKind('record-flux-revision', executors);
    await first.run;
    expect(first.store.latest?.outage.fluxRevision).toBe('main@sha1:abc');
    const store = new MemoryStore({ outage: structuredClone(first.store.latest?.outage) as never });
    const second = await runKind('record-flux-revision', executors, store);
    expect((await second.run).steps[0]?.message).toBe('already done');
  });

  it('given a missing source, then the step fails naming it', async () => {
    const flux = new FakeFlux([]);
    flux.source = async () => undefined as never;
    const { run } = await runKind('record-flux-revision', {
      'record-flux-revision': recordFluxRevision(flux, atlasSpec()),
    });
    await expect(run).rejects.toThrow(/GitRepository flux-system\/flux-system not found/);
  });
});

describe('verifyBundle', () => {
  const SHA = 'a'.repeat(64);
  const files = (manifest: string | undefined, sha: string | undefined): BundleFilesPort => ({
    readText: async () => manifest,
    sha256: async () => sha,
  });
  const step = { params: { path: '/b/harbor.tar.zst' }, targets: [] } as unknown as PlanStep;
  const ctx = { report: () => undefined } as never;

  it.each([
    [JSON.stringify({ sha256: SHA }), SHA, undefined],
    [JSON.stringify({ sha256: SHA.toUpperCase() }), SHA, undefined],
    [undefined, SHA, 'bundle manifest not found: /b/harbor.tar.zst.manifest.json'],
    [JSON.stringify({ sha256: SHA }), undefined, 'Harbor bundle not found: /b/harbor.tar.zst'],
    ['{', SHA, '/b/harbor.tar.zst.manifest.json is not valid JSON'],
    [JSON.stringify({ sha: SHA }), SHA, 'has no "sha256" of 64 hex digits'],
    [JSON.stringify({ sha256: SHA }), 'b'.repeat(64), 'checksum mismatch: /b/harbor.tar.zst has sha256 bbbb'],
  ])('given manifest %s and bundle sha %s, then %s', async (manifest, sha, error) => {
    const result = verifyBundle(files(manifest, sha)).apply(step, ctx);
    if (error) {
      await expect(result).rejects.toThrow(PrepareError);
      await expect(result).rejects.toThrow(error);
    } else await expect(result).resolves.toBeUndefined();
  });
});

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

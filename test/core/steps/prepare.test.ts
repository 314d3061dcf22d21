import { describe, expect, it } from 'vitest';
import type { PlanStep } from '../../../core/api/index.js';
import { compilePlan } from '../../../core/plan/index.js';
import type { NodeAccessPort, NodeAddress } from '../../../core/ports/index.js';
import type { BundleFilesPort, SnapshotPort } from '../../../core/ports/prepare.js';
import type { Executors } from '../../../core/run/executor.js';
import { runPlan } from '../../../core/run/runner.js';
import {
  PrepareError,
  PrepullFailedError,
  prepullImage,
  recordFluxRevision,
  refreshSnapshot,
  verifyBundle,
} from '../../../core/steps/prepare.js';
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

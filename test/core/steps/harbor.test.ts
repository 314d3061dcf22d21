import { describe, expect, it } from 'vitest';
import { type BundleManifestInput, manifestPathOf, renderBundleManifest } from '../../../core/api/bundle-manifest.js';
import type { PlanStep } from '../../../core/api/index.js';
import { compilePlan } from '../../../core/plan/index.js';
import type { FluxObject, NodeAddress } from '../../../core/ports/index.js';
import type { BundleFilesPort } from '../../../core/ports/prepare.js';
import {
  type ImageSeedPort,
  type ImportOptions,
  type NodeImage,
  SeedTransportError,
} from '../../../core/ports/seed.js';
import type { Executors } from '../../../core/run/executor.js';
import { runPlan } from '../../../core/run/runner.js';
import { reconcileHarbor, seedHarbor } from '../../../core/steps/harbor.js';
import { atlasInput, atlasSpec } from '../../helpers/atlas.js';
import { FakeFlux } from '../../helpers/fake-flux.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

const BUNDLE = '/home/ops/.local/share/hecate/bundles/harbor-bootstrap-v2.14.1-arm64.tar.zst';
const SHA = 'a'.repeat(64);
const digest = (n: number) => `sha256:${String(n).repeat(64)}`;
const IMAGES = [1, 2, 3].map((n) => ({
  reference: `docker.io/goharbor/c${n}:v2.14.1`,
  digest: digest(n),
  platform: 'linux/arm64',
}));
const MANIFEST: BundleManifestInput = {
  schemaVersion: 1,
  sha256: SHA,
  size: 300 * 1024 * 1024,
  platform: 'linux/arm64',
  harbor: { version: 'v2.14.1', arch: 'arm64' },
  createdAt: '2026-11-25T01:00:00Z',
  images: IMAGES,
};

/** The control host's files: one bundle and its manifest, or what a test changed. */
function files(manifest: BundleManifestInput | undefined = MANIFEST, sha = SHA): BundleFilesPort & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    readText: async (path) => {
      reads.push(path);
      return path === manifestPathOf(BUNDLE) && manifest ? renderBundleManifest(manifest) : undefined;
    },
    sha256: async (path) => (path === BUNDLE ? sha : undefined),
    size: async (path) => (path === BUNDLE ? MANIFEST.size : undefined),
  };
}

/** A node's containerd: an import adds the bundle's images, unless told to fail half-way or to import nothing. */
class FakeNode implements ImageSeedPort {
  readonly calls: string[] = [];
  images: NodeImage[] = [];
  failAfter?: number;
  importNothing = false;
  constructor(private readonly bundle: NodeImage[] = IMAGES) {}
  async importBundle(node: NodeAddress, path: string, options: ImportOptions) {
    this.calls.push(`import ${node.name}@${node.address} ${path} ${options.platform} ${options.sha256?.slice(0, 4)}`);
    const total = options.totalBytes ?? 0;
    for (let sent = 0; sent < total; sent += 50 * 1024 * 1024) {
      if (this.failAfter !== undefined && sent >= this.failAfter) {
        this.images.push(...this.bundle.slice(0, 1));
        throw new SeedTransportError(`ctr: failed to ingest: EOF (exit 1)`, sent);
      }
      options.onProgress?.(sent);
    }
    options.onProgress?.(total);
    if (!this.importNothing) this.images = [...this.images.filter((i) => !this.bundle.includes(i)), ...this.bundle];
    return { sent: total, output: 'unpacking…done\n' };
  }
  async listImages(node: NodeAddress) {
    this.calls.push(`list ${node.name}`);
    return structuredClone(this.images);
  }
  async imagesOn(node: NodeAddress) {
    return this.listImages(node);
  }
}

async function runSeed(executors: Executors, store = new MemoryStore()) {
  const plan = compilePlan('harbor-seed', atlasInput());
  const steps = plan.steps.filter((s) => s.id !== 'harbor/reconcile');
  const reports: string[] = [];
  const events: string[] = [];
  const clock = new FakeClock();
  const run = runPlan({
    plan: { ...plan, steps },
    action: 'harbor-seed',
    executors,
    store,
    clock,
    logger: silentLogger,
    onEvent: (e) => {
      if (e.type === 'report') {
        reports.push(e.message);
        clock.advance(1000);
      } else if (e.type !== 'resume') events.push(`${e.type} ${e.step.id}`);
    },
  });
  return { run, reports, events };
}

const spec = () => {
  const s = atlasSpec();
  return { ...s, nodes: s.nodes.map((n) => (n.name === 'titan-05' ? { ...n, address: '10.0.0.5' } : n)) };
};
const seedExecutor = (node: FakeNode, f = files(), options = {}) => ({
  'verify-bundle': { check: async () => false, apply: async () => {} },
  'seed-harbor': seedHarbor(node, node, f, spec(), { progressIntervalMs: 0, ...options }),
});

describe('seedHarbor', () => {
  it('given an empty node, then it streams with the platform and the verified checksum, and verifies every digest', async () => {
    const node = new FakeNode();
    const { run, reports, events } = await runSeed(seedExecutor(node));
    await run;
    expect(node.calls).toEqual([
      'list titan-05',
      'list titan-05',
      `import titan-05@10.0.0.5 ${BUNDLE} linux/arm64 aaaa`,
      'list titan-05',
    ]);
    expect(events).toContain('done harbor/seed');
    expect(reports[0]).toBe(`${BUNDLE} verified (sha256 aaaaaaaaaaaa…, 300.0 MiB, 3 images linux/arm64)`);
    expect(reports).toContain('3 of 3 images missing on titan-05: streaming the bundle');
    expect(reports.filter((r) => r.startsWith('sent 300.0 of 300.0 MiB (100%)'))).toHaveLength(1);
    expect(reports.at(-1)).toBe('imported 300.0 MiB; all 3 digests verified on titan-05');
  });

  it('given every digest on the node, then check says done and nothing is streamed', async () => {
    const node = new FakeNode();
    node.images = [...IMAGES, { reference: 'docker.io/library/pause:3.9', digest: digest(9) }];
    const { run, events } = await runSeed(seedExecutor(node));
    await run;
    expect(events).toContain('already-done harbor/seed');
    expect(node.calls.filter((c) => c.startsWith('import'))).toEqual([]);
  });

  it.each([
    ['a checksum mismatch', files(MANIFEST, 'b'.repeat(64)), /checksum mismatch: .* has sha256 bbbb/],
    [
      'a stale bundle',
      files({ ...MANIFEST, harbor: { version: 'v2.13.0', arch: 'arm64' } }),
      /stale bundle: built for Harbor v2\.13\.0/,
    ],
    [
      'another platform',
      files({ ...MANIFEST, platform: 'linux/amd64', images: IMAGES.map((i) => ({ ...i, platform: 'linux/amd64' })) }),
      /is linux\/amd64, the PowerPlan's Harbor node needs linux\/arm64/,
    ],
    [
      'a missing bundle',
      { readText: async () => undefined, sha256: async () => undefined, size: async () => undefined },
      /Harbor bundle not found: .*; build it with: hecate bundle build --harbor-version v2\.14\.1/,
    ],
    [
      'a checksum-only manifest',
      { ...files(), readText: async () => JSON.stringify({ sha256: SHA }) },
      /checksum-only manifest: its images cannot be verified on titan-05/,
    ],
  ])('given %s, then it fails before touching the node', async (_what, f, message) => {
    const node = new FakeNode();
    const { run } = await runSeed(seedExecutor(node, f as BundleFilesPort & { reads: string[] }));
    await expect(run).rejects.toThrow(message);
    expect(node.calls.filter((c) => !c.startsWith('list'))).toEqual([]);
  });

  it('given a stream that fails half-way, then the failure says how far it got, and a rerun completes', async () => {
    const node = new FakeNode();
    node.failAfter = 100 * 1024 * 1024;
    const first = await runSeed(seedExecutor(node));
    await expect(first.run).rejects.toThrow(
      /streaming .* into containerd on titan-05 failed: ctr: failed to ingest: EOF \(exit 1\)\. Images imported before the failure stay; rerun harbor-seed/,
    );
    node.failAfter = undefined;
    const second = await runSeed(seedExecutor(node));
    await second.run;
    expect(second.reports).toContain('2 of 3 images missing on titan-05: streaming the bundle');
    expect(new Set(node.images.map((i) => i.digest))).toEqual(new Set(IMAGES.map((i) => i.digest)));
  });

  it('given an import that exits 0 having imported nothing, then every missing digest is reported', async () => {
    const node = new FakeNode();
    node.importNothing = true;
    const { run } = await runSeed(seedExecutor(node));
    await expect(run).rejects.toThrow(
      /still lacks 3 of 3 images: docker\.io\/goharbor\/c1:v2\.14\.1 \(sha256:111111111111…\), .* \(the importer said: unpacking…done\)/,
    );
  });

  it('given a dry run, then the bundle is verified and the node is never contacted', async () => {
    const node = new FakeNode();
    const { run, reports } = await runSeed(seedExecutor(node, files(), { dryRun: true }));
    await run;
    expect(node.calls).toEqual([]);
    expect(reports.at(-1)).toBe(
      'dry run: would stream it to titan-05 and import it into containerd (k8s.io) for linux/arm64',
    );
  });
});

class ReconcilingFlux extends FakeFlux {
  /** Becomes Ready after this many list calls once a reconcile was requested. */
  readyAfter = 2;
  private countdown?: number;
  override async requestReconcile(ref: Parameters<FakeFlux['requestReconcile']>[0]) {
    await super.requestReconcile(ref);
    this.countdown = this.readyAfter;
  }
  override async list(kind: FluxObject['kind']) {
    if (this.countdown !== undefined && this.countdown-- <= 0) {
      for (const o of this.objects.values()) if (!o.suspended) o.ready = true;
    }
    return super.list(kind);
  }
}

const HR: FluxObject = {
  kind: 'HelmRelease',
  namespace: 'harbor',
  name: 'harbor',
  suspended: true,
  dependsOn: [],
  ready: false,
};
const KEY = 'HelmRelease/harbor/harbor';

async function runReconcile(flux: FakeFlux, suspendedByHecate: string[], options = {}) {
  const plan = compilePlan('harbor-seed', atlasInput());
  const store = new MemoryStore();
  const outage = {
    suspendedByHecate: { kustomizations: [], helmReleases: suspendedByHecate },
    alreadySuspended: suspendedByHecate.length ? [] : [KEY],
  };
  await store.save({ outage: (await import('../../../core/api/index.js')).outageRecord.parse(outage) });
  const reports: string[] = [];
  const step = plan.steps.find((s) => s.id === 'harbor/reconcile') as PlanStep;
  const run = runPlan({
    plan: { ...plan, steps: [{ ...step, timeoutSeconds: 60 }] },
    action: 'harbor-seed',
    executors: { 'reconcile-harbor': reconcileHarbor(flux, atlasSpec(), { intervalMs: 5_000, ...options }) },
    store,
    clock: new FakeClock(),
    logger: silentLogger,
    onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
  });
  return { run, reports, store };
}

describe('reconcileHarbor', () => {
  it('given Harbor suspended by Hecate, then it is resumed, dropped from the record, reconciled and waited Ready', async () => {
    const flux = new ReconcilingFlux([HR]);
    const { run, reports, store } = await runReconcile(flux, [KEY]);
    await run;
    expect(flux.mutations).toEqual([`resume ${KEY}`, `reconcile ${KEY}`]);
    expect(store.latest?.outage.suspendedByHecate.helmReleases).toEqual([]);
    expect(reports).toEqual([
      `resumed ${KEY}`,
      `requested a reconcile of ${KEY}`,
      `${KEY} is not Ready (waiting 0s of 1m00s)`,
    ]);
  });

  it('given Harbor suspended by someone else, then it is left suspended and not waited for', async () => {
    const flux = new ReconcilingFlux([HR]);
    const { run, reports } = await runReconcile(flux, []);
    await run;
    expect(flux.mutations).toEqual([]);
    expect(reports).toEqual([
      `${KEY} was suspended before the outage, not by Hecate: left suspended and not waited for`,
    ]);
  });

  it('given Harbor never becomes Ready, then the step fails at its deadline', async () => {
    const flux = new ReconcilingFlux([{ ...HR, suspended: false }]);
    flux.readyAfter = 1_000;
    const { run } = await runReconcile(flux, []);
    await expect(run).rejects.toThrow(/gave up after 1m0\ds: HelmRelease\/harbor\/harbor is not Ready/);
  });

  it('given a dry run, then nothing is patched or recorded', async () => {
    const flux = new ReconcilingFlux([HR]);
    const { run, store } = await runReconcile(flux, [KEY], { dryRun: true });
    await run;
    expect(flux.mutations).toEqual([`reconcile ${KEY}`]);
    expect(store.latest?.outage.suspendedByHecate.helmReleases).toEqual([KEY]);
  });
});

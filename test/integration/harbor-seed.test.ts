/**
 * harbor-seed against real parts on loopback: an OpenSSH server, a real containerd (root, state and socket in a
 * temporary folder) and bundles built from hand-made OCI layouts. The bundle goes through ssh's stdin, is
 * decompressed on the "node" and imported with ctr into containerd's k8s.io namespace.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshImageSeed } from '../../adapters/bundle/seed-ssh.js';
import { localBundleFiles } from '../../adapters/bundle-files.js';
import type { PowerPlanSpec } from '../../core/api/index.js';
import { compilePlan } from '../../core/plan/index.js';
import { type RunEvent, runPlan } from '../../core/run/runner.js';
import { seedHarbor } from '../../core/steps/harbor.js';
import { verifyBundle } from '../../core/steps/prepare.js';
import { atlasInput, atlasSpec } from '../helpers/atlas.js';
import { type Containerd, requireContainerd, startContainerd } from '../helpers/containerd.js';
import { FakeClock, MemoryStore, silentLogger } from '../helpers/fakes.js';
import { makeBundle } from '../helpers/oci-layout.js';
import { requireSshd, type Sshd, startSshd } from '../helpers/sshd.js';

const sshTools = requireSshd();
const ctrTools = requireContainerd();
const MiB = 1024 * 1024;

function harborSpec(): PowerPlanSpec {
  const spec = atlasSpec();
  return { ...spec, nodes: spec.nodes.map((n) => (n.name === 'titan-05' ? { ...n, address: '127.0.0.1' } : n)) };
}

describe.skipIf(!sshTools.ok || !ctrTools.ok)('harbor-seed over SSH into a real containerd', () => {
  let sshd: Sshd;
  let containerd: Containerd;
  let work: string;
  let seed: SshImageSeed;
  const spec = harborSpec();
  const files = localBundleFiles({ HOME: tmpdir() });
  const accepted = async () => (await sshd.log()).split('\n').filter((l) => l.includes('Accepted publickey')).length;

  beforeAll(async () => {
    if (!sshTools.ok || !ctrTools.ok) return;
    [sshd, containerd] = await Promise.all([startSshd(sshTools), startContainerd(ctrTools)]);
    work = await mkdtemp(join(tmpdir(), 'hecate-seed-'));
    seed = new SshImageSeed({
      user: sshd.user,
      keyFile: sshd.keyFile,
      port: sshd.port,
      knownHostsFile: sshd.knownHostsFile,
      ctr: [containerd.ctr],
      address: containerd.address,
      connectTimeout: '1s',
    });
  });
  afterAll(async () => {
    await Promise.all([sshd?.stop(), containerd?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Runs the harbor-seed plan's verify and seed steps for the bundle at `path`. */
  async function seedRun(path: string, options: { dryRun?: boolean; onEvent?: (e: RunEvent) => void } = {}) {
    const plan = compilePlan('harbor-seed', atlasInput({ spec, paths: { ...atlasInput().paths, harborBundle: path } }));
    const reports: string[] = [];
    const events: string[] = [];
    const run = runPlan({
      plan: { ...plan, steps: plan.steps.filter((s) => s.id !== 'harbor/reconcile') },
      action: 'harbor-seed',
      executors: {
        'verify-bundle': verifyBundle(files, spec),
        'seed-harbor': seedHarbor(seed, seed, files, spec, { progressIntervalMs: 0, ...options }),
      },
      store: new MemoryStore(),
      clock: new FakeClock(),
      logger: silentLogger,
      onEvent: (e) => {
        if (e.type === 'report') reports.push(e.message);
        else if (e.type !== 'resume') events.push(`${e.type} ${e.step.id}`);
        options.onEvent?.(e);
      },
    });
    return { run, reports, events };
  }

  const images = (prefix: string, n: number, platform = 'linux/arm64') =>
    Array.from({ length: n }, (_, i) => ({
      reference: `docker.io/goharbor/${prefix}-${i}:v2.14.1`,
      platforms: [platform],
    }));

  it('imports every image with its digest; a second run imports nothing and says so', async () => {
    const bundle = join(work, 'ok.tar.zst');
    const { manifest } = await makeBundle(bundle, images('core', 3), { platform: 'linux/arm64' });

    const first = await seedRun(bundle);
    await first.run;
    const listed = await containerd.images();
    for (const image of manifest.images)
      expect(listed).toContainEqual({ reference: image.reference, digest: image.digest });
    expect(first.reports).toContain('3 of 3 images missing on titan-05: streaming the bundle');
    expect(first.reports.at(-1)).toMatch(/^imported \d+\.\d MiB; all 3 digests verified on titan-05$/);
    expect(first.reports.some((r) => /^sent .* MB\/s/.test(r))).toBe(true);

    const second = await seedRun(bundle);
    await second.run;
    expect(second.events).toContain('already-done harbor/seed');
    const direct: string[] = [];
    const step = compilePlan('harbor-seed', atlasInput({ spec })).steps.find((s) => s.id === 'harbor/seed');
    await seedHarbor(seed, seed, files, spec).apply({ ...step!, params: { node: 'titan-05', path: bundle } }, {
      report: (m: string) => direct.push(m),
      signal: new AbortController().signal,
      clock: new FakeClock(),
    } as never);
    expect(direct.at(-1)).toBe('every image is already on titan-05 with its digest: nothing imported');
    expect(await containerd.images()).toEqual(listed);
  });

  it.each([
    ['a corrupted bundle (one flipped byte)', 'corrupt', /checksum mismatch: .*corrupt\.tar\.zst has sha256/],
    [
      'a bundle of the wrong platform',
      'amd64',
      /the bundle is linux\/amd64, the PowerPlan's Harbor node needs linux\/arm64/,
    ],
    [
      'a missing bundle',
      'missing',
      /Harbor bundle not found: .*missing\.tar\.zst; build it with: hecate bundle build --harbor-version v2\.14\.1 --arch arm64 --bundle .*missing\.tar\.zst --execute/,
    ],
  ])('refuses %s before any byte reaches the node', async (_what, name, message) => {
    const bundle = join(work, `${name}.tar.zst`);
    if (name === 'corrupt') {
      await makeBundle(bundle, images('corrupt', 1), { platform: 'linux/arm64' });
      const handle = await open(bundle, 'r+');
      const byte = Buffer.alloc(1);
      await handle.read(byte, 0, 1, 100);
      await handle.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, 100);
      await handle.close();
    }
    if (name === 'amd64') await makeBundle(bundle, images('amd', 1, 'linux/amd64'), { platform: 'linux/amd64' });
    const logins = await accepted();
    const before = await containerd.images();

    const { run, events } = await seedRun(bundle);
    await expect(run).rejects.toThrow(message);
    expect(events).toEqual(['start bundle/verify', 'failed bundle/verify']);
    // The seed executor on its own refuses too, before it connects.
    const step = compilePlan('harbor-seed', atlasInput({ spec })).steps.find((s) => s.id === 'harbor/seed');
    const apply = seedHarbor(seed, seed, files, spec).apply({ ...step!, params: { node: 'titan-05', path: bundle } }, {
      report: () => undefined,
      signal: new AbortController().signal,
      clock: new FakeClock(),
    } as never);
    await expect(apply).rejects.toThrow(message);
    expect(await accepted()).toBe(logins);
    expect(await containerd.images()).toEqual(before);
  });

  it('dry-run verifies the bundle and touches neither the node nor containerd', async () => {
    const bundle = join(work, 'dry.tar.zst');
    await makeBundle(bundle, images('dry', 2), { platform: 'linux/arm64' });
    const logins = await accepted();
    const before = await containerd.images();
    const { run, reports } = await seedRun(bundle, { dryRun: true });
    await run;
    expect(reports.at(-1)).toBe(
      'dry run: would stream it to titan-05 and import it into containerd (k8s.io) for linux/arm64',
    );
    expect(await accepted()).toBe(logins);
    expect(await containerd.images()).toEqual(before);
  });

  it('containerd stopped mid-stream gives a clear failure, and a rerun completes', async () => {
    const bundle = join(work, 'cut.tar.zst');
    const { manifest } = await makeBundle(
      bundle,
      [
        { reference: 'docker.io/goharbor/cut-small:v2.14.1', platforms: ['linux/arm64'] },
        { reference: 'docker.io/goharbor/cut-big:v2.14.1', platforms: ['linux/arm64'], randomBytes: 64 * MiB },
      ],
      { platform: 'linux/arm64' },
    );
    let killed: Promise<void> | undefined;
    const first = await seedRun(bundle, {
      onEvent: (e) => {
        if (e.type === 'report' && /^sent ([1-9]\d|[8-9])\.\d/.test(e.message)) killed ??= containerd.kill('SIGKILL');
      },
    });
    const failure = await first.run.catch((error: Error) => error);
    await killed;
    console.log(`Failure as reported: ${(failure as Error).message}`);
    expect(killed).toBeDefined();
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toMatch(
      /streaming .*cut\.tar\.zst into containerd on titan-05 failed: the import on titan-05 \(.*\) failed after \d+ of \d+ bytes \(exit \d+\).*rerun harbor-seed/s,
    );

    await containerd.start();
    const second = await seedRun(bundle);
    await second.run;
    const listed = await containerd.images();
    for (const image of manifest.images)
      expect(listed).toContainEqual({ reference: image.reference, digest: image.digest });
  });

  it('streams a 256 MiB bundle with the test process growing far less than the bundle', async () => {
    const bundle = join(work, 'big.tar.zst');
    await makeBundle(
      bundle,
      [{ reference: 'docker.io/goharbor/big:v2.14.1', platforms: ['linux/arm64'], randomBytes: 256 * MiB }],
      { platform: 'linux/arm64' },
    );
    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = performance.now();
    try {
      const { run } = await seedRun(bundle);
      await run;
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    const grew = (peak - baseline) / MiB;
    console.log(
      `Seeded 256 MiB in ${seconds.toFixed(1)} s; test process RSS grew ${grew.toFixed(1)} MiB (peak ${(peak / MiB).toFixed(0)} MiB)`,
    );
    expect(grew).toBeLessThan(64);
    await rm(bundle, { force: true });
  });
});

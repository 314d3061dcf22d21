/**
 * `hecate bundle build` against a real registry (Debian's docker-registry) holding multi-arch images that the test
 * builds as tiny OCI layouts and pushes with skopeo: the bundle holds only the arm64 variants, its manifest lists
 * each image's reference, digest and platform and the bundle's sha256; an amd64-only image is refused and nothing
 * is written; the dry-run writes nothing.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bed/binaries.js';
import { type BundleBuildOptions, runBundleBuild } from '../../cli/commands/bundle.js';
import type { CliDeps } from '../../cli/deps.js';
import { bundleManifest } from '../../core/api/bundle-manifest.js';
import { HARBOR_COMPONENTS } from '../../core/bundle/images.js';
import { type BuiltImage, writeOciLayout } from '../helpers/oci-layout.js';
import { type Registry, requireRegistry, startRegistry } from '../helpers/registry.js';

const tools = requireRegistry();
const VERSION = 'v2.14.1';

function deps(home: string) {
  const out = { stdout: '', stderr: '' };
  const d: CliDeps = {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    env: { HOME: home },
    cwd: REPO_ROOT,
    now: () => new Date(),
  };
  return { deps: d, out };
}

const sha256 = async (path: string) =>
  createHash('sha256')
    .update(await readFile(path))
    .digest('hex');

/** The file names inside a bundle (zstd -dc | tar -t). */
function listing(bundle: string): string[] {
  const tar = execFileSync('sh', ['-c', 'zstd -dc "$1" | tar -tf -', 'sh', bundle], { encoding: 'utf8' });
  return tar.split('\n').filter(Boolean);
}

describe.skipIf(!tools.ok)('bundle build against a real registry', () => {
  let registry: Registry;
  let work: string;
  const pushed = new Map<string, BuiltImage>();
  const ref = (name: string) => `${registry.host}/goharbor/${name}:${VERSION}`;

  beforeAll(async () => {
    if (!tools.ok) return;
    registry = await startRegistry(tools);
    work = await mkdtemp(join(tmpdir(), 'hecate-bundle-build-'));
    const layout = join(work, 'layout');
    const images = [
      ...HARBOR_COMPONENTS.map((c) => ({ reference: ref(c), platforms: ['linux/amd64', 'linux/arm64'] })),
      { reference: ref('amd64-only'), platforms: ['linux/amd64'] },
    ];
    for (const built of await writeOciLayout(layout, images)) {
      pushed.set(built.reference, built);
      await registry.push(layout, built.reference, built.reference.slice(registry.host.length + 1));
    }
  });
  afterAll(async () => {
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const build = (home: string, options: Partial<BundleBuildOptions>) => {
    const d = deps(home);
    const run = runBundleBuild({ execute: true, insecure: true, level: 1, ...options }, d.deps);
    return { run, out: d.out };
  };

  it('writes the arm64 variants of the plan-derived Harbor images, with a correct manifest and checksum', async () => {
    const home = await mkdtemp(join(work, 'home-'));
    const multi = await registry.manifest(`goharbor/harbor-core`, VERSION);
    expect((multi.body as { manifests: unknown[] }).manifests).toHaveLength(2);

    const { run, out } = build(home, {
      plan: 'examples/atlas-powerplan.yaml',
      repository: `${registry.host}/goharbor`,
    });
    await run;

    const bundle = join(home, '.local/share/hecate/bundles', `harbor-bootstrap-${VERSION}-arm64.tar.zst`);
    const manifest = bundleManifest.parse(JSON.parse(await readFile(`${bundle}.manifest.json`, 'utf8')));
    expect(manifest.sha256).toBe(await sha256(bundle));
    expect(manifest.harbor).toEqual({ version: VERSION, arch: 'arm64' });
    expect(manifest.platform).toBe('linux/arm64');
    const arm64 = async (c: string) => {
      const index = (await registry.manifest(`goharbor/${c}`, VERSION)).body as {
        manifests: { digest: string; platform: { architecture: string } }[];
      };
      return index.manifests.find((m) => m.platform.architecture === 'arm64')?.digest;
    };
    const expected = await Promise.all(HARBOR_COMPONENTS.map(async (c) => [ref(c), await arm64(c), 'linux/arm64']));
    expect(manifest.images.map((i) => [i.reference, i.digest, i.platform])).toEqual(expected);
    const files = listing(bundle);
    const index = (await registry.manifest('goharbor/harbor-core', VERSION)).body as {
      manifests: { digest: string; platform: { architecture: string } }[];
    };
    const amd64 = index.manifests.find((m) => m.platform.architecture === 'amd64')?.digest ?? 'none';
    expect(files).not.toContain(`blobs/sha256/${amd64.replace('sha256:', '')}`);
    expect(files).toContain(`blobs/sha256/${manifest.images[0]?.digest.replace('sha256:', '')}`);
    expect(out.stdout).toContain(`Wrote ${bundle}`);
    expect(await readdir(join(home, '.local/share/hecate/bundles'))).toEqual([
      `harbor-bootstrap-${VERSION}-arm64.tar.zst`,
      `harbor-bootstrap-${VERSION}-arm64.tar.zst.manifest.json`,
    ]);
  });

  it('refuses an image that has no arm64 variant and writes nothing at all', async () => {
    const home = await mkdtemp(join(work, 'home-'));
    const bundle = join(home, 'bundles', 'b.tar.zst');
    const { run } = build(home, {
      harborVersion: VERSION,
      bundle,
      image: [ref('harbor-core'), ref('amd64-only')],
    });
    await expect(run).rejects.toThrow(`refusing to write a linux/arm64 bundle: ${ref('amd64-only')} is linux/amd64`);
    expect(await readdir(join(home, 'bundles'))).toEqual([]);
  });

  it('names every image the registry does not have', async () => {
    const home = await mkdtemp(join(work, 'home-'));
    const { run } = build(home, {
      harborVersion: VERSION,
      bundle: join(home, 'b.tar.zst'),
      image: [ref('nope'), ref('harbor-core')],
    });
    await expect(run).rejects.toThrow(
      new RegExp(`cannot copy 1 of 2 images:\\n  ${ref('nope').replaceAll('.', '\\.')}`),
    );
    expect(existsSync(join(home, 'b.tar.zst'))).toBe(false);
  });

  it('dry-run lists the images and the target and writes nothing', async () => {
    const home = await mkdtemp(join(work, 'home-'));
    const d = deps(home);
    await runBundleBuild({ execute: false, plan: 'examples/atlas-powerplan.yaml' }, d.deps);
    expect(d.out.stdout).toContain(`Harbor ${VERSION} bundle, linux/arm64 only, 10 images:`);
    expect(d.out.stdout).toContain(`  docker.io/goharbor/harbor-core:${VERSION}`);
    expect(d.out.stdout).toContain('Dry-run: nothing copied or written');
    expect(await readdir(home)).toEqual([]);
  });
});

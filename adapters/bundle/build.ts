/**
 * `hecate bundle build`: copies the `linux/<arch>` variant of every image with skopeo (registry auth from the
 * usual docker and podman auth files, which skopeo reads itself) into one OCI layout, refuses any image that is not
 * of the platform, and packs the layout into the zstd bundle with its manifest beside it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { BUNDLE_MANIFEST_VERSION, type BundleImage, type BundleManifest } from '../../core/api/bundle-manifest.js';
import { formatPlatform, wrongPlatforms } from '../../core/api/platform.js';
import { CommandNotFoundError, isCommandNotFound, makeDirectory, requireCommands } from '../system.js';
import { BundleBuildError, packLayout, writeManifest } from './archive.js';
import { readLayout } from './layout.js';

export { BundleBuildError } from './archive.js';

export interface BuildInput {
  /** Normalised source references. */
  images: readonly string[];
  /** `linux/arm64`. */
  platform: string;
  harbor: { version: string; arch: string };
  output: string;
  /** zstd level (default 3). */
  level?: number;
  /** Allow plain HTTP and unverified TLS to the source registry (a local mirror, tests). */
  insecure?: boolean;
  /** An auth file other than skopeo's defaults ($REGISTRY_AUTH_FILE, containers/auth.json, ~/.docker/config.json). */
  authfile?: string;
  skopeo?: string;
  zstd?: string;
  tar?: string;
  /** PATH to find skopeo, tar and zstd in (default: the process's). */
  path?: string;
  now(): Date;
  onProgress?(message: string): void;
  signal?: AbortSignal;
}

export interface BuildResult {
  path: string;
  manifestPath: string;
  manifest: BundleManifest;
}

function skopeoArgs(reference: string, platform: string, layout: string, input: BuildInput): string[] {
  const [os = 'linux', arch = '', variant] = platform.split('/');
  return [
    '--override-os',
    os,
    '--override-arch',
    arch,
    ...(variant ? ['--override-variant', variant] : []),
    'copy',
    '--quiet',
    ...(input.insecure ? ['--src-tls-verify=false'] : []),
    ...(input.authfile ? ['--src-authfile', input.authfile] : []),
    `docker://${reference}`,
    `oci:${layout}:${reference}`,
  ];
}

/** Copies each image's platform variant into `layout`; throws naming every image that could not be copied. */
async function copyImages(layout: string, input: BuildInput): Promise<void> {
  const failures: string[] = [];
  for (const [i, reference] of input.images.entries()) {
    input.onProgress?.(`[${i + 1}/${input.images.length}] ${reference} (${input.platform})`);
    const skopeo = input.skopeo ?? 'skopeo';
    const result = await execa(skopeo, skopeoArgs(reference, input.platform, layout, input), {
      reject: false,
      ...(input.path !== undefined ? { env: { PATH: input.path } } : {}),
      ...(input.signal ? { cancelSignal: input.signal } : {}),
    });
    if (result.isCanceled) throw input.signal?.reason ?? new Error('cancelled');
    // NOTE: a missing skopeo fails every image the same way: say it once, and stop.
    if (isCommandNotFound(result)) throw new CommandNotFoundError([skopeo], { cause: result });
    if (result.exitCode !== 0) {
      const said = result.stderr.trim().split('\n').slice(-2).join(' / ');
      failures.push(`${reference}: ${said || `skopeo exited ${result.exitCode}`}`);
    }
  }
  if (failures.length > 0) {
    throw new BundleBuildError(
      `cannot copy ${failures.length} of ${input.images.length} images:\n  ${failures.join('\n  ')}`,
    );
  }
}

/**
 * Builds the bundle at `input.output` and its manifest. The layout is built in a temporary folder beside the output
 * (same file system, so the final rename is atomic) and removed afterwards, whatever happens. Throws
 * {@link CommandNotFoundError} before touching anything when skopeo, tar or zstd is missing.
 * NOTE: the bundle is renamed into place before its manifest: a crash in between leaves a bundle whose manifest
 * does not match, which verify-bundle refuses (checksum mismatch) until the next build.
 */
export async function buildBundle(input: BuildInput): Promise<BuildResult> {
  await requireCommands([input.skopeo ?? 'skopeo', input.tar ?? 'tar', input.zstd ?? 'zstd'], input.path);
  await makeDirectory(dirname(input.output));
  const work = await mkdtemp(join(dirname(input.output), '.hecate-bundle-'));
  try {
    const layout = join(work, 'layout');
    await copyImages(layout, input);
    return await writeBundle(layout, input);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export type WriteBundleInput = Pick<
  BuildInput,
  'platform' | 'harbor' | 'output' | 'level' | 'tar' | 'zstd' | 'path' | 'now' | 'onProgress'
> & {
  /** References the layout must name (all of them); default: whatever it names. */
  images?: readonly string[];
};

/**
 * Packs an OCI layout that already holds the images into the bundle and its manifest, after checking that every
 * image is of `platform`. Nothing is written when the check fails.
 */
export async function writeBundle(layout: string, input: WriteBundleInput): Promise<BuildResult> {
  const entries = await readLayout(layout);
  const named = new Set(entries.map((e) => e.reference));
  const lost = (input.images ?? []).filter((r) => !named.has(r));
  if (lost.length > 0) throw new BundleBuildError(`the layout lacks ${lost.join(', ')} after the copy`);
  if (entries.length === 0) throw new BundleBuildError('the layout names no image');
  const wrong = wrongPlatforms(entries, input.platform);
  if (wrong.length > 0) {
    const list = wrong.map((w) => `${w.reference} is ${w.platform}`).join(', ');
    throw new BundleBuildError(`refusing to write a ${input.platform} bundle: ${list}`);
  }
  input.onProgress?.(`packing ${entries.length} images into ${input.output}`);
  const { sha256, size } = await packLayout(layout, input.output, {
    ...(input.level !== undefined ? { level: input.level } : {}),
    ...(input.tar ? { tar: input.tar } : {}),
    ...(input.zstd ? { zstd: input.zstd } : {}),
    ...(input.path !== undefined ? { path: input.path } : {}),
  });
  const images: BundleImage[] = entries.map((e) => ({
    reference: e.reference,
    digest: e.digest,
    platform: formatPlatform(e.platform),
  }));
  const manifest: BundleManifest = {
    schemaVersion: BUNDLE_MANIFEST_VERSION,
    sha256,
    size,
    platform: input.platform,
    harbor: input.harbor,
    format: 'oci-archive+zstd',
    createdAt: input.now().toISOString(),
    images,
  };
  const manifestPath = await writeManifest(input.output, manifest);
  return { path: input.output, manifestPath, manifest };
}

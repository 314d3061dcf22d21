/**
 * Tiny OCI image layouts built by hand (research/test-components.md §2): a layer tar, a config with the platform, a
 * manifest per platform, an image index for multi-arch images, `index.json` naming each image by its full reference.
 * Layers are plain tars written here (ustar), so a layer can be any size of incompressible bytes without a tar
 * binary or holding it in memory.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeBundle } from '../../adapters/bundle/build.js';
import type { BundleManifest } from '../../core/api/bundle-manifest.js';

export interface LayoutImage {
  /** Full reference, also the `org.opencontainers.image.ref.name` annotation (what ctr and skopeo name it by). */
  reference: string;
  /** `linux/amd64`, `linux/arm64`...; more than one makes an image index. */
  platforms: string[];
  /** Bytes of random (incompressible) content in the layer's one file; default: a short text. */
  randomBytes?: number;
}

export interface BuiltImage {
  reference: string;
  /** What index.json points at: the index for multi-arch, else the manifest. */
  digest: string;
  /** Manifest digest per platform. */
  manifests: Record<string, string>;
}

const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

async function putBlob(dir: string, mediaType: string, bytes: Buffer | string): Promise<Descriptor> {
  const buffer = Buffer.from(bytes);
  const hex = createHash('sha256').update(buffer).digest('hex');
  await writeFile(join(dir, 'blobs', 'sha256', hex), buffer);
  return { mediaType, digest: `sha256:${hex}`, size: buffer.length };
}

/** One ustar header block for a regular file. */
function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const field = (value: string, offset: number, length: number) => h.write(value, offset, length, 'ascii');
  const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0');
  field(name, 0, 100);
  field(`${octal(0o644, 8)}\0`, 100, 8);
  field(`${octal(0, 8)}\0`, 108, 8);
  field(`${octal(0, 8)}\0`, 116, 8);
  field(`${octal(size, 12)}\0`, 124, 12);
  field(`${octal(0, 12)}\0`, 136, 12);
  field('        ', 148, 8);
  field('0', 156, 1);
  field('ustar\0', 257, 6);
  field('00', 263, 2);
  const sum = h.reduce((a, b) => a + b, 0);
  field(`${octal(sum, 7)}\0 `, 148, 8);
  return h;
}

/** A layer tar with one file, streamed to disk; returns its descriptor (uncompressed: digest == diff id). */
async function putLayer(dir: string, content: Buffer | number): Promise<Descriptor> {
  const tmp = join(dir, 'blobs', 'sha256', `layer-${randomBytes(4).toString('hex')}.tmp`);
  const out = createWriteStream(tmp);
  const hash = createHash('sha256');
  let size = 0;
  const write = async (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  };
  const length = typeof content === 'number' ? content : content.length;
  await write(tarHeader('payload', length));
  if (typeof content === 'number') {
    for (let left = content; left > 0; left -= 1 << 20) await write(randomBytes(Math.min(left, 1 << 20)));
  } else await write(content);
  const pad = (512 - (length % 512)) % 512;
  await write(Buffer.alloc(pad + 1024));
  out.end();
  await once(out, 'close');
  const hex = hash.digest('hex');
  await rename(tmp, join(dir, 'blobs', 'sha256', hex));
  return { mediaType: MT.layer, digest: `sha256:${hex}`, size };
}

async function putManifest(dir: string, image: LayoutImage, platform: string): Promise<Descriptor> {
  const [os = 'linux', architecture = 'amd64', variant] = platform.split('/');
  const layer = await putLayer(dir, image.randomBytes ?? Buffer.from(`${image.reference} for ${platform}\n`));
  const config = await putBlob(
    dir,
    MT.config,
    JSON.stringify({
      architecture,
      os,
      ...(variant ? { variant } : {}),
      config: { Cmd: ['/payload'] },
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  return putBlob(
    dir,
    MT.manifest,
    JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] }),
  );
}

/** Writes an OCI layout with `images` into `dir` (created). */
export async function writeOciLayout(dir: string, images: readonly LayoutImage[]): Promise<BuiltImage[]> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const entries: object[] = [];
  const built: BuiltImage[] = [];
  for (const image of images) {
    const manifests: Record<string, string> = {};
    const descriptors: (Descriptor & { platform: object })[] = [];
    for (const platform of image.platforms) {
      const d = await putManifest(dir, image, platform);
      manifests[platform] = d.digest;
      const [os, architecture, variant] = platform.split('/');
      descriptors.push({ ...d, platform: { os, architecture, ...(variant ? { variant } : {}) } });
    }
    const top =
      descriptors.length === 1
        ? { mediaType: MT.manifest, digest: descriptors[0]?.digest ?? '', size: descriptors[0]?.size ?? 0 }
        : await putBlob(
            dir,
            MT.index,
            JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: descriptors }),
          );
    const annotations = { 'org.opencontainers.image.ref.name': image.reference };
    entries.push({ ...top, annotations });
    built.push({ reference: image.reference, digest: top.digest, manifests });
  }
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries }),
  );
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  return built;
}

/** Total bytes of a file, for assertions on sizes. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/**
 * A bundle as `hecate bundle build` writes it, from images built here (no registry): the layout in a temporary
 * folder beside `output`, packed with zstd -1, the manifest beside it.
 */
export async function makeBundle(
  output: string,
  images: readonly LayoutImage[],
  options: { platform: string; version?: string },
): Promise<{ manifest: BundleManifest; images: BuiltImage[] }> {
  const layout = await mkdtemp(join(dirname(output), '.layout-'));
  try {
    const built = await writeOciLayout(layout, images);
    const arch = options.platform.split('/')[1] ?? 'arm64';
    const result = await writeBundle(layout, {
      platform: options.platform,
      harbor: { version: options.version ?? 'v2.14.1', arch },
      output,
      level: 1,
      now: () => new Date(),
    });
    return { manifest: result.manifest, images: built };
  } finally {
    await rm(layout, { recursive: true, force: true });
  }
}

/**
 * Reading an OCI image layout on disk: which images `index.json` names, and the platform of each from its config.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Platform } from '../../core/api/platform.js';

const INDEX_TYPES = new Set([
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

export interface LayoutEntry {
  reference: string;
  /** What index.json points at. */
  digest: string;
  mediaType: string;
  /** From the image config; `multi` when the entry is an index (several platforms). */
  platform: Platform;
}

interface Descriptor {
  mediaType?: string;
  digest?: string;
  annotations?: Record<string, string>;
}

async function blob(layout: string, digest: string): Promise<unknown> {
  const [algorithm, hex] = digest.split(':');
  return JSON.parse(await readFile(join(layout, 'blobs', algorithm ?? 'sha256', hex ?? ''), 'utf8'));
}

/** Every image `index.json` names (by `org.opencontainers.image.ref.name`), with its platform. */
export async function readLayout(layout: string): Promise<LayoutEntry[]> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
  const entries: LayoutEntry[] = [];
  for (const d of index.manifests ?? []) {
    const reference =
      d.annotations?.['org.opencontainers.image.ref.name'] ?? d.annotations?.['io.containerd.image.name'];
    if (!reference || !d.digest) continue;
    const mediaType = d.mediaType ?? '';
    if (INDEX_TYPES.has(mediaType)) {
      entries.push({ reference, digest: d.digest, mediaType, platform: { os: 'multi', architecture: 'multi' } });
      continue;
    }
    const manifest = (await blob(layout, d.digest)) as { config?: { digest?: string } };
    const config = (await blob(layout, manifest.config?.digest ?? '')) as Partial<Platform>;
    entries.push({
      reference,
      digest: d.digest,
      mediaType,
      platform: {
        os: config.os ?? 'unknown',
        architecture: config.architecture ?? 'unknown',
        ...(config.variant ? { variant: config.variant } : {}),
      },
    });
  }
  return entries;
}

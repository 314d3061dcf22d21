import type { BundleManifestInput } from '../../../core/api/bundle-manifest.js';

export const SHA = 'a'.repeat(64);
export const DIGEST = `sha256:${'b'.repeat(64)}`;
export const MANIFEST: BundleManifestInput = {
  schemaVersion: 1,
  sha256: SHA,
  size: 1234,
  platform: 'linux/arm64',
  harbor: { version: 'v2.14.1', arch: 'arm64' },
  createdAt: '2026-11-25T02:00:00.000Z',
  images: [{ reference: 'docker.io/goharbor/harbor-core:v2.14.1', digest: DIGEST, platform: 'linux/arm64' }],
};

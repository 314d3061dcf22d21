import { describe, expect, it } from 'vitest';
import { parseBundleManifest, renderBundleManifest } from '../../../core/api/bundle-manifest.js';

import { MANIFEST, SHA } from './fixtures.js';

describe('parseBundleManifest', () => {
  it('given what the build writes, then it reads back the same manifest', () => {
    const parsed = parseBundleManifest(renderBundleManifest(MANIFEST));
    expect(parsed).toEqual({ kind: 'full', manifest: { ...MANIFEST, format: 'oci-archive+zstd' } });
  });

  it.each([
    ['a checksum-only manifest', { sha256: SHA.toUpperCase(), images: ['x'] }, { kind: 'legacy', sha256: SHA }],
    [
      'no sha256',
      { sha: SHA },
      { kind: 'invalid', issues: [{ path: '', message: 'has no "sha256" of 64 hex digits' }] },
    ],
  ])('given %s, then %j', (_what, value, expected) => {
    expect(parseBundleManifest(JSON.stringify(value))).toEqual(expected);
  });

  it('given broken JSON, then one root issue says so', () => {
    const parsed = parseBundleManifest('{');
    expect(parsed.kind === 'invalid' && parsed.issues[0]?.message).toMatch(/^is not valid JSON/);
  });

  it('given a full manifest with several bad fields, then every issue is reported with its path', () => {
    const bad = { ...MANIFEST, sha256: 'nope', images: [{ reference: 'x', digest: 'md5:1', platform: 'arm64' }] };
    const parsed = parseBundleManifest(JSON.stringify(bad));
    expect(parsed.kind).toBe('invalid');
    const paths = parsed.kind === 'invalid' ? parsed.issues.map((i) => i.path) : [];
    expect(paths).toEqual(['sha256', 'images[0].digest', 'images[0].platform']);
  });
});

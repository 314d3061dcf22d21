import { describe, expect, it } from 'vitest';
import { parseBundleManifest, renderBundleManifest } from '../../../core/api/bundle-manifest.js';
import { buildCommand, judgeBundle } from '../../../core/bundle/verify.js';
import { MANIFEST, SHA } from './fixtures.js';

const parsed = (change: object = {}) => parseBundleManifest(renderBundleManifest({ ...MANIFEST, ...change }));
const PLAN = { version: 'v2.14.1', arch: 'arm64' };

describe('judgeBundle', () => {
  it.each([
    ['a matching bundle', parsed(), SHA, PLAN, { ok: true }],
    ['a version without the v', parsed({ harbor: { version: '2.14.1', arch: 'arm64' } }), SHA, PLAN, { ok: true }],
    ['no plan to compare with', parsed({ harbor: { version: 'v2.9.0', arch: 'arm64' } }), SHA, undefined, { ok: true }],
    [
      'one flipped byte',
      parsed(),
      'c'.repeat(64),
      PLAN,
      {
        ok: false,
        stale: false,
        problems: [`checksum mismatch: /b.tar.zst has sha256 ${'c'.repeat(64)}, its manifest expects ${SHA}`],
      },
    ],
    [
      'an older Harbor version',
      parsed({ harbor: { version: 'v2.13.0', arch: 'arm64' } }),
      SHA,
      PLAN,
      { ok: false, stale: true, problems: ['stale bundle: built for Harbor v2.13.0, the PowerPlan runs v2.14.1'] },
    ],
    [
      'the wrong platform',
      parsed({ platform: 'linux/amd64', images: [{ ...MANIFEST.images[0], platform: 'linux/amd64' }] }),
      SHA,
      PLAN,
      {
        ok: false,
        stale: true,
        problems: ["the bundle is linux/amd64, the PowerPlan's Harbor node needs linux/arm64"],
      },
    ],
    [
      'an image of another platform than the bundle claims',
      parsed({ images: [{ ...MANIFEST.images[0], platform: 'linux/amd64' }] }),
      SHA,
      PLAN,
      {
        ok: false,
        stale: false,
        problems: ['docker.io/goharbor/harbor-core:v2.14.1 is linux/amd64, the bundle claims linux/arm64'],
      },
    ],
    [
      'an arm64 variant',
      parsed({ images: [{ ...MANIFEST.images[0], platform: 'linux/arm64/v8' }] }),
      SHA,
      PLAN,
      { ok: true },
    ],
  ])('given %s, then %j', (_what, manifest, sha, plan, expected) => {
    expect(judgeBundle(manifest, sha, plan, '/b.tar.zst')).toMatchObject(expected);
  });

  it('given a legacy manifest that matches, then it passes with a note', () => {
    const verdict = judgeBundle({ kind: 'legacy', sha256: SHA }, SHA.toUpperCase(), PLAN);
    expect(verdict).toEqual({ ok: true, sha256: SHA, notes: [expect.stringMatching(/^legacy manifest/)] });
  });
});

describe('buildCommand', () => {
  it('names the flags of hecate bundle build', () => {
    expect(buildCommand('/b.tar.zst', PLAN)).toBe(
      'hecate bundle build --harbor-version v2.14.1 --arch arm64 --bundle /b.tar.zst --execute',
    );
  });
});

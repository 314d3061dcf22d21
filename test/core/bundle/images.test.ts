import { describe, expect, it } from 'vitest';
import { platformOf, platformStringMatches, wrongPlatforms } from '../../../core/api/platform.js';
import {
  HARBOR_COMPONENTS,
  harborImages,
  missingImages,
  normalizeReference,
  uniqueReferences,
} from '../../../core/bundle/images.js';
import { formatTransfer, transferReporter } from '../../../core/bundle/progress.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

describe('images of a Harbor bundle', () => {
  it('derives every chart component at the plan version, under the default or a mirror repository', () => {
    expect(harborImages({ version: 'v2.14.1' })).toHaveLength(HARBOR_COMPONENTS.length);
    expect(harborImages({ version: 'v2.14.1' })[2]).toBe('docker.io/goharbor/harbor-core:v2.14.1');
    expect(
      harborImages({ version: 'v2.14.1', repository: '127.0.0.1:5000/goharbor/', components: ['harbor-db'] }),
    ).toEqual(['127.0.0.1:5000/goharbor/harbor-db:v2.14.1']);
  });

  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['goharbor/harbor-core:v2.14.1', 'docker.io/goharbor/harbor-core:v2.14.1'],
    ['localhost/x:1', 'localhost/x:1'],
    ['127.0.0.1:5000/a/b', '127.0.0.1:5000/a/b:latest'],
    [`ghcr.io/a/b@${D1}`, `ghcr.io/a/b@${D1}`],
  ])('normalises %s to %s', (input, expected) => {
    expect(normalizeReference(input)).toBe(expected);
  });

  it('drops duplicates after normalisation', () => {
    expect(uniqueReferences(['busybox:1', ' docker.io/library/busybox:1 ', ''])).toEqual([
      'docker.io/library/busybox:1',
    ]);
  });

  it.each([
    ['present with the digest', [{ reference: 'goharbor/core:v1', digest: D1 }], []],
    ['the tag points at another digest', [{ reference: 'docker.io/goharbor/core:v1', digest: D2 }], ['core']],
    ['the digest under another name', [{ reference: 'docker.io/goharbor/other:v1', digest: D1 }], ['core']],
    ['absent', [], ['core']],
  ])('an image %s is missing: %j', (_what, present, missing) => {
    const wanted = [{ reference: 'docker.io/goharbor/core:v1', digest: D1, name: 'core' }];
    expect(missingImages(wanted, present).map((i) => i.name)).toEqual(missing);
  });
});

describe('platforms', () => {
  it.each([
    ['linux/arm64', 'linux/arm64', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/arm64', 'linux/arm64/v8', false],
    ['linux/amd64', 'linux/arm64', false],
    ['windows/arm64', 'linux/arm64', false],
  ])('%s satisfies %s: %s', (actual, wanted, ok) => {
    expect(platformStringMatches(actual, wanted)).toBe(ok);
  });

  it('lists every image of another platform with what it is', () => {
    const images = [
      { reference: 'a', platform: { os: 'linux', architecture: 'arm64' } },
      { reference: 'b', platform: { os: 'linux', architecture: 'amd64' } },
      { reference: 'c', platform: { os: 'multi', architecture: 'multi' } },
    ];
    expect(wrongPlatforms(images, platformOf('arm64'))).toEqual([
      { reference: 'b', platform: 'linux/amd64' },
      { reference: 'c', platform: 'multi/multi' },
    ]);
  });
});

describe('transfer progress', () => {
  const MiB = 1024 * 1024;
  it.each([
    [
      { sent: 100 * MiB, total: 400 * MiB, elapsedMs: 1000 },
      'sent 100.0 of 400.0 MiB (25%), 104.9 MB/s, about 3s left',
    ],
    [{ sent: 10 * MiB, elapsedMs: 2000 }, 'sent 10.0 MiB, 5.2 MB/s'],
    [{ sent: 0, total: MiB, elapsedMs: 0 }, 'sent 0.0 of 1.0 MiB (0%), 0.0 MB/s, about ? left'],
  ])('given %j, then %s', (sample, text) => {
    expect(formatTransfer(sample)).toBe(text);
  });

  it('reports at most once per interval, and always the end', () => {
    const report = transferReporter(1000);
    const lines = [0, 500, 1000, 1200, 1300].map((ms, i) => report({ sent: i + 1, total: 5, elapsedMs: ms }));
    expect(lines.map((l) => l !== undefined)).toEqual([true, false, true, false, true]);
  });
});

/**
 * Programs that are not installed: every place of the bundle adapters that starts skopeo, tar,
 * zstd, ssh or kubectl says once `X is not installed (not on PATH)` instead of `exited undefined` or a crash.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packLayout } from '../../adapters/bundle/archive.js';
import { buildBundle } from '../../adapters/bundle/build.js';
import { SshImageSeed } from '../../adapters/bundle/seed-ssh.js';
import { streamFileInto } from '../../adapters/bundle/stream.js';
import {
  CommandNotFoundError,
  describeSystemError,
  isCommandNotFound,
  makeDirectory,
  notInstalledMessage,
  whichCommand,
} from '../../adapters/system.js';
import { SeedTransportError } from '../../core/ports/seed.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hecate-hygiene-cmd-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('notInstalledMessage', () => {
  it.each<{ commands: string[]; message: string }>([
    { commands: ['skopeo'], message: 'skopeo is not installed (not on PATH): apt-get install skopeo' },
    { commands: ['ssh'], message: 'ssh is not installed (not on PATH): apt-get install openssh-client' },
    {
      commands: ['skopeo', 'tar', 'zstd'],
      message: 'skopeo, tar and zstd are not installed (not on PATH): apt-get install skopeo tar zstd',
    },
    { commands: ['kubectl'], message: 'kubectl is not installed (not on PATH)' },
    { commands: ['/opt/bin/skopeo'], message: '/opt/bin/skopeo does not exist' },
  ])('given $commands, then "$message"', ({ commands, message }) => {
    expect(notInstalledMessage(commands)).toBe(message);
  });
});

describe('describeSystemError', () => {
  it.each<{ error: unknown; words: string }>([
    {
      error: Object.assign(new Error('EROFS: read-only file system, open /x'), { code: 'EROFS' }),
      words: 'read-only file system (EROFS)',
    },
    { error: Object.assign(new Error('ENOSPC: x'), { code: 'ENOSPC' }), words: 'no space left on device (ENOSPC)' },
    {
      error: Object.assign(new Error('ESTALE: stale file handle, open /x'), { code: 'ESTALE' }),
      words: 'stale file handle (ESTALE)',
    },
    { error: new Error('plain\nsecond line'), words: 'plain' },
  ])('given $words, then it says so without a stack', ({ error, words }) => {
    expect(describeSystemError(error)).toBe(words);
  });
});

describe('whichCommand and makeDirectory', () => {
  it('finds sh on the PATH and nothing on an empty one', async () => {
    expect(await whichCommand('sh')).toMatch(/\/sh$/);
    expect(await whichCommand('sh', dir)).toBeUndefined();
  });

  it('creates missing folders, and refuses a file in the way with ENOTDIR', async () => {
    await makeDirectory(join(dir, 'a', 'b', 'c'));
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['c']);
    await writeFile(join(dir, 'file'), 'x');
    await expect(makeDirectory(join(dir, 'file', 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('fails at once under /proc, where mkdir -p of node loops forever', async () => {
    await expect(makeDirectory('/proc/hecate-hygiene/x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('bundle adapters without their programs', () => {
  it('buildBundle names every missing program once, before it creates anything', async () => {
    const output = join(dir, 'out', 'bundle.tar.zst');
    const progress: string[] = [];
    const error = await buildBundle({
      images: ['docker.io/goharbor/harbor-core:v2.14.1', 'docker.io/goharbor/harbor-db:v2.14.1'],
      platform: 'linux/arm64',
      harbor: { version: 'v2.14.1', arch: 'arm64' },
      output,
      path: join(dir, 'empty-bin'),
      now: () => new Date(),
      onProgress: (m) => progress.push(m),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandNotFoundError);
    expect((error as Error).message).toBe(
      'skopeo, tar and zstd are not installed (not on PATH): apt-get install skopeo tar zstd',
    );
    expect(progress).toEqual([]);
    await expect(readdir(join(dir, 'out'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    { missing: 'zstd', options: { zstd: 'hecate-no-such-zstd' } },
    { missing: 'tar', options: { tar: 'hecate-no-such-tar' } },
  ])('packLayout without $missing rejects with CommandNotFoundError (no unhandled rejection)', async (c) => {
    const layout = join(dir, `layout-${c.missing}`);
    await mkdir(join(layout, 'blobs'), { recursive: true });
    await writeFile(join(layout, 'index.json'), '{}');
    await writeFile(join(layout, 'oci-layout'), '{}');
    const output = join(dir, `packed-${c.missing}`, 'b.tar.zst');
    const error = await packLayout(layout, output, c.options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandNotFoundError);
    expect((error as Error).message).toMatch(/^hecate-no-such-(zstd|tar) is not installed \(not on PATH\)$/);
    expect(await readdir(join(dir, `packed-${c.missing}`))).toEqual([]);
  });

  it('streamFileInto of a missing program rejects with CommandNotFoundError', async () => {
    const file = join(dir, 'payload');
    await writeFile(file, 'x'.repeat(1000));
    const error = await streamFileInto('hecate-no-such-ssh', [], file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandNotFoundError);
    expect(isCommandNotFound((error as Error).cause)).toBe(true);
  });

  it.each(['importBundle', 'listImages'] as const)(
    'SshImageSeed.%s without ssh fails with a SeedTransportError saying it is not installed',
    async (method) => {
      const seed = new SshImageSeed({ user: 'root', ssh: 'hecate-no-such-ssh' });
      const node = { name: 'titan-05', address: '127.0.0.1' };
      const file = join(dir, 'payload');
      await writeFile(file, 'x');
      const call =
        method === 'importBundle' ? seed.importBundle(node, file, { platform: 'linux/arm64' }) : seed.listImages(node);
      const error = await call.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SeedTransportError);
      expect((error as Error).message).toBe('hecate-no-such-ssh is not installed (not on PATH)');
    },
  );
});

/**
 * Packing an OCI layout into the bundle: `tar | zstd` into a temporary file beside the target, hashed on the way,
 * fsynced, then renamed; the manifest likewise, after the bundle. A half-built bundle never sits at the final path.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BundleManifestInput, manifestPathOf, renderBundleManifest } from '../../core/api/bundle-manifest.js';
import { CommandNotFoundError, isCommandNotFound, makeDirectory } from '../system.js';

export class BundleBuildError extends Error {
  override readonly name = 'BundleBuildError';
}

export interface PackOptions {
  /** zstd level (default 3: ~400 MB/s on 2 cores; 19 is ~5 MB/s). */
  level?: number;
  tar?: string;
  zstd?: string;
  /** PATH to find tar and zstd in (default: the process's). */
  path?: string;
  onProgress?(written: number): void;
}

function tempBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r').catch(() => undefined);
  await handle?.sync().catch(() => undefined);
  await handle?.close();
}

/**
 * Writes `layout` as a zstd-compressed tar to `output` atomically; resolves with its sha256 and size.
 * NOTE: the tar is reproducible (sorted names, owner 0, mtime 0), so the same images give the same bundle bytes.
 */
export async function packLayout(
  layout: string,
  output: string,
  options: PackOptions = {},
): Promise<{ sha256: string; size: number }> {
  await makeDirectory(dirname(output));
  const tmp = tempBeside(output);
  const tarArgs = ['-C', layout, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0'];
  const env = options.path !== undefined ? { ...process.env, PATH: options.path } : process.env;
  const tarCommand = options.tar ?? 'tar';
  const zstdCommand = options.zstd ?? 'zstd';
  const tar = spawn(tarCommand, [...tarArgs, '-cf', '-', 'oci-layout', 'index.json', 'blobs'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const zstd = spawn(zstdCommand, ['-q', '-T0', `-${options.level ?? 3}`, '-c'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env,
  });
  const errors = { tar: '', zstd: '' };
  tar.stderr.on('data', (c: Buffer) => (errors.tar += c.toString()));
  zstd.stderr.on('data', (c: Buffer) => (errors.zstd += c.toString()));
  // NOTE: these never reject: a spawn error (ENOENT) arrives while the pipelines are awaited, and a rejection
  // nobody awaits yet would end the process with a stack.
  const exit = (child: ReturnType<typeof spawn>) =>
    new Promise<{ code: number | null; error?: Error }>((resolve) => {
      child.once('error', (error) => resolve({ code: null, error }));
      child.once('close', (code) => resolve({ code }));
    });
  const [tarExit, zstdExit] = [exit(tar), exit(zstd)];
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _e, callback) {
      hash.update(chunk);
      size += chunk.length;
      options.onProgress?.(size);
      callback(null, chunk);
    },
  });
  try {
    const piped = await Promise.all([
      pipeline(tar.stdout, zstd.stdin),
      pipeline(zstd.stdout, meter, createWriteStream(tmp, { mode: 0o644 })),
    ]).then(
      () => undefined,
      (error: unknown) => error,
    );
    if (piped) {
      tar.kill();
      zstd.kill();
    }
    const [t, z] = await Promise.all([tarExit, zstdExit]);
    const missing = [
      ...(isCommandNotFound(t.error) ? [tarCommand] : []),
      ...(isCommandNotFound(z.error) ? [zstdCommand] : []),
    ];
    if (missing.length > 0) throw new CommandNotFoundError(missing, { cause: t.error ?? z.error });
    if (t.error) throw new BundleBuildError(`cannot run tar: ${t.error.message}`, { cause: t.error });
    if (z.error) throw new BundleBuildError(`cannot run zstd: ${z.error.message}`, { cause: z.error });
    if (piped) throw piped;
    if (t.code !== 0) throw new BundleBuildError(`tar exited ${t.code}: ${errors.tar.trim()}`);
    if (z.code !== 0) throw new BundleBuildError(`zstd exited ${z.code}: ${errors.zstd.trim()}`);
    await fsyncFile(tmp);
    await rename(tmp, output);
    await fsyncDir(dirname(output));
    return { sha256: hash.digest('hex'), size };
  } catch (error) {
    tar.kill();
    zstd.kill();
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Writes `<bundle>.manifest.json` atomically (temp, fsync, rename). */
export async function writeManifest(bundle: string, manifest: BundleManifestInput): Promise<string> {
  const path = manifestPathOf(bundle);
  const tmp = tempBeside(path);
  try {
    await writeFile(tmp, renderBundleManifest(manifest), { mode: 0o644 });
    await fsyncFile(tmp);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await fsyncDir(dirname(path));
  return path;
}

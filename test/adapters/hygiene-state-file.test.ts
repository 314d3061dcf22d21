import type * as Fs from 'node:fs/promises';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type OutageState, StateFile, StateFileError } from '../../adapters/state-file.js';
import { outageRecord } from '../../core/api/progress.js';
import { folderChecksums, hecate } from '../helpers/cli.js';

type Op = 'open' | 'write' | 'rename' | 'mkdir' | 'readFile';
/** The failure to inject: `op` on a path containing `under` fails with `code`. */
const inject: { op?: Op; code?: string; under?: string } = {};

function failure(op: Op, path: unknown): NodeJS.ErrnoException | undefined {
  if (inject.op !== op || !inject.under || !String(path).includes(inject.under)) return undefined;
  const syscall = op === 'readFile' ? 'open' : op;
  return Object.assign(new Error(`${inject.code}: injected, ${syscall} '${String(path)}'`), {
    code: inject.code,
    syscall,
    path: String(path),
  });
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof Fs>();
  return {
    ...real,
    open: async (path: string, ...rest: unknown[]) => {
      const error = failure('open', path);
      if (error) throw error;
      const handle = await (real.open as (...a: unknown[]) => Promise<Fs.FileHandle>)(path, ...rest);
      const writeFileOf = handle.writeFile.bind(handle);
      handle.writeFile = (async (...args: Parameters<Fs.FileHandle['writeFile']>) => {
        const failed = failure('write', path);
        if (failed) throw failed;
        return writeFileOf(...args);
      }) as Fs.FileHandle['writeFile'];
      return handle;
    },
    rename: async (from: string, to: string) => {
      const error = failure('rename', to);
      if (error) throw error;
      return real.rename(from, to);
    },
    mkdir: async (path: string, options?: unknown) => {
      const error = failure('mkdir', path);
      if (error) throw error;
      return (real.mkdir as (...a: unknown[]) => Promise<unknown>)(path, options);
    },
    readFile: async (path: string, ...rest: unknown[]) => {
      const error = failure('readFile', path);
      if (error) throw error;
      return (real.readFile as (...a: unknown[]) => Promise<unknown>)(path, ...rest);
    },
  };
});

const STACK = /\n\s+at /;
const state: OutageState = { outage: outageRecord.parse({ inOutage: true, reason: 'planned', poweredOff: ['a'] }) };
let dir = '';

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hecate-hygiene-sf-'));
  await new StateFile(join(dir, 'kept.state')).save(state);
});
afterEach(async () => {
  Object.assign(inject, { op: undefined, code: undefined, under: undefined });
  await rm(dir, { recursive: true, force: true });
});

describe('StateFile.save when the file system refuses', () => {
  it.each<{ code: string; op: Op; file: string; words: string }>([
    { code: 'EROFS', op: 'open', file: 'kept.state', words: 'read-only file system (EROFS)' },
    { code: 'EROFS', op: 'mkdir', file: 'new/deeper/x.state', words: 'read-only file system (EROFS)' },
    { code: 'EACCES', op: 'open', file: 'kept.state', words: 'permission denied (EACCES)' },
    { code: 'EPERM', op: 'open', file: 'new.state', words: 'operation not permitted (EPERM)' },
    { code: 'ENOSPC', op: 'write', file: 'kept.state', words: 'no space left on device (ENOSPC)' },
    { code: 'EDQUOT', op: 'write', file: 'new.state', words: 'disk quota exceeded (EDQUOT)' },
    { code: 'EIO', op: 'rename', file: 'kept.state', words: 'input/output error (EIO)' },
  ])('given $code at $op of $file, then one line naming file, operation and cause; nothing changed', async (c) => {
    const path = join(dir, c.file);
    Object.assign(inject, { op: c.op, code: c.code, under: dir });
    const before = await folderChecksums(dir);
    const error = await new StateFile(path).save(state).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateFileError);
    expect(error).toMatchObject({ problem: 'unwritable', code: c.code, path, isBadPath: false });
    expect((error as Error).message).toBe(`cannot write the state file ${path}: ${c.words}`);
    expect(await folderChecksums(dir)).toEqual(before);
  });

  it.each<{ code: string; words: string }>([
    { code: 'EACCES', words: 'permission denied (EACCES)' },
    { code: 'EIO', words: 'input/output error (EIO)' },
  ])('given $code when it is read, then one line naming file, operation and cause', async (c) => {
    const path = join(dir, 'kept.state');
    Object.assign(inject, { op: 'readFile', code: c.code, under: dir });
    const error = await new StateFile(path).load().catch((e: unknown) => e);
    expect(error).toMatchObject({ problem: 'unreadable', code: c.code, isBadPath: false });
    expect((error as Error).message).toBe(`cannot read the state file ${path}: ${c.words}`);
  });
});

describe('StateFile with a wrong path (real errors)', () => {
  it('given a path that is a folder, then load says so (EISDIR) and it is a bad path', async () => {
    await mkdir(join(dir, 'folder'));
    const error = await new StateFile(join(dir, 'folder')).load().catch((e: unknown) => e);
    expect(error).toMatchObject({ problem: 'unreadable', code: 'EISDIR', isBadPath: true });
    expect((error as Error).message).toBe(`cannot read the state file ${join(dir, 'folder')}: is a directory (EISDIR)`);
  });

  it('given a path under a file, when saved over, then ENOTDIR names the file and nothing is created', async () => {
    await writeFile(join(dir, 'a-file'), 'x');
    const before = await folderChecksums(dir);
    const path = join(dir, 'a-file', 'sub', 'x.state');
    const error = await new StateFile(path).save(state, { overwriteCorrupt: true }).catch((e: unknown) => e);
    expect(error).toMatchObject({ problem: 'unwritable', code: 'ENOTDIR', isBadPath: true });
    expect((error as Error).message).toBe(
      `cannot write the state file ${path}: a part of the path is not a directory (ENOTDIR)`,
    );
    expect(await folderChecksums(dir)).toEqual(before);
  });

  it('given a folder under /proc (the kernel refuses it with ENOENT), then save fails at once instead of looping', async () => {
    const path = '/proc/hecate-hygiene-test/x.state';
    const started = Date.now();
    const error = await new StateFile(path).save(state).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toBeInstanceOf(StateFileError);
    expect((error as Error).message).toMatch(/^cannot write the state file \/proc\/hecate-hygiene-test\/x\.state: /);
  });
});

describe('the CLI with a state file it cannot read', () => {
  it.each<{ code: string; exit: number; words: string }>([
    { code: 'EACCES', exit: 1, words: 'permission denied (EACCES)' },
    { code: 'EIO', exit: 1, words: 'input/output error (EIO)' },
  ])('given $code, then exit $exit with one line, no stack, and the folder unchanged', async (c) => {
    const path = join(dir, 'kept.state');
    const before = await folderChecksums(dir);
    Object.assign(inject, { op: 'readFile', code: c.code, under: dir });
    const run = await hecate(
      ['shutdown', '--plan', 'examples/atlas-powerplan.yaml', '--offline', '--state-file', path],
      dir,
    );
    expect(run.code).toBe(c.exit);
    expect(run.stderr.split('\n')[0]).toBe(`hecate: cannot read the state file ~/kept.state: ${c.words}`);
    expect(run.stderr).not.toMatch(STACK);
    inject.op = undefined; // NOTE: this file's own readFile is the mocked one too
    expect(await folderChecksums(dir)).toEqual(before);
  });
});

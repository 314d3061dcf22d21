import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import type { Clock, Logger } from '../core/ports/index.js';

/** The real clock. `sleep` rejects with the signal's reason when aborted. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      // NOTE: the listener is removed when the timer fires, or long waits pile listeners on one signal.
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * A human-readable logger for the CLI: warnings and errors to stderr; per-request detail (info) only with
 * HECATE_VERBOSE=1, debug only with HECATE_DEBUG=1. The progress lines carry what a person needs.
 */
export function adapterLogger(deps: {
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
}): Logger {
  const line = (level: string, message: string, fields?: Record<string, unknown>) =>
    deps.stderr(`${level}${message}${fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}\n`);
  return {
    info: (m, f) => (deps.env.HECATE_VERBOSE || deps.env.HECATE_DEBUG ? line('', m, f) : undefined),
    warn: (m, f) => line('warning: ', m, f),
    error: (m, f) => line('error: ', m, f),
    debug: (m, f) => (deps.env.HECATE_DEBUG ? line('debug: ', m, f) : undefined),
  };
}

/** Debian packages that provide the commands Hecate runs, for the "not installed" hint. */
const PACKAGE_OF: Readonly<Record<string, string>> = {
  skopeo: 'skopeo',
  zstd: 'zstd',
  tar: 'tar',
  ssh: 'openssh-client',
  git: 'git',
  upsc: 'nut-client',
};

/** True when `error` says that a program could not be started because it does not exist (spawn ENOENT). */
export function isCommandNotFound(error: unknown): boolean {
  const e = error as { code?: unknown; syscall?: unknown; cause?: unknown } | undefined;
  if (!e || typeof e !== 'object') return false;
  if (e.code === 'ENOENT' && (e.syscall === undefined || String(e.syscall).startsWith('spawn'))) return true;
  return e.cause !== undefined && e.cause !== error && isCommandNotFound(e.cause);
}

/**
 * One sentence for programs that are missing, such as `skopeo is not installed (not on PATH): apt-get install
 * skopeo`. A program given as a path (`/opt/bin/skopeo`) is named as such.
 */
export function notInstalledMessage(commands: readonly string[]): string {
  const onPath = commands.filter((c) => !c.includes('/'));
  const paths = commands.filter((c) => c.includes('/'));
  const parts: string[] = [];
  if (onPath.length > 0) {
    const verb = onPath.length === 1 ? 'is' : 'are';
    const packages = [...new Set(onPath.map((c) => PACKAGE_OF[c]))];
    const hint = packages.every((p) => p !== undefined) ? `: apt-get install ${packages.join(' ')}` : '';
    parts.push(`${joinNames(onPath)} ${verb} not installed (not on PATH)${hint}`);
  }
  if (paths.length > 0) parts.push(`${joinNames(paths)} ${paths.length === 1 ? 'does' : 'do'} not exist`);
  return parts.join('; ');
}

function joinNames(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/** A program Hecate needs is missing; the message says which and how to install it. */
export class CommandNotFoundError extends Error {
  override readonly name = 'CommandNotFoundError';
  constructor(
    readonly commands: readonly string[],
    options?: ErrorOptions,
  ) {
    super(notInstalledMessage(commands), options);
  }
}

/**
 * Where `command` would be run from: itself when it is a path, else the first executable file of that name on
 * `searchPath` (a PATH value, default the process's). Undefined when there is none.
 */
export async function whichCommand(
  command: string,
  searchPath: string = process.env.PATH ?? '',
): Promise<string | undefined> {
  const candidates = command.includes('/')
    ? [command]
    : searchPath
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, command));
  for (const candidate of candidates) {
    const ok = await access(candidate, constants.X_OK)
      .then(() => stat(candidate))
      .then((s) => s.isFile())
      .catch(() => false);
    if (ok) return candidate;
  }
  return undefined;
}

/** Throws {@link CommandNotFoundError} naming every one of `commands` that cannot be found. */
export async function requireCommands(commands: readonly string[], searchPath?: string): Promise<void> {
  const found = await Promise.all(commands.map((c) => whichCommand(c, searchPath)));
  const missing = commands.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) throw new CommandNotFoundError(missing);
}

/** Words for errno codes of file operations; other codes fall back to the text in Node's message. */
const ERRNO_WORDS: Readonly<Record<string, string>> = {
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a part of the path is not a directory',
  EISDIR: 'is a directory',
  ENOENT: 'no such file or directory',
  ENOTEMPTY: 'directory not empty',
  EEXIST: 'file exists',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EIO: 'input/output error',
  EBUSY: 'device or resource busy',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ETXTBSY: 'text file busy',
  EFBIG: 'file too large',
};

/**
 * The cause of a failed system call in words, with its code: `read-only file system (EROFS)`. Never a stack.
 */
export function describeSystemError(error: unknown): string {
  const e = error as NodeJS.ErrnoException | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (!code) return message.split('\n')[0] ?? message;
  // Node's own text: "EROFS: read-only file system, open '/x'".
  const words = ERRNO_WORDS[code] ?? new RegExp(`^${code}: ([^,]+)`).exec(message)?.[1] ?? 'system error';
  return `${words} (${code})`;
}

/**
 * `mkdir -p dir`: creates each missing folder (with `mode`), from the nearest existing one down. Rejects with the
 * errno error of the first step that fails; a file in the way is ENOTDIR.
 * NOTE: instead of `mkdir(dir, { recursive: true })`, which loops forever on a folder that the kernel refuses with
 * ENOENT although its parent exists (`/proc/x/y`).
 */
export async function makeDirectory(dir: string, mode?: number): Promise<void> {
  const missing: string[] = [];
  for (let current = resolve(dir); ; current = dirname(current)) {
    const found = await stat(current).then(
      (s) => s,
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
        return undefined;
      },
    );
    if (found && !found.isDirectory()) {
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${current}'`), {
        code: 'ENOTDIR',
        syscall: 'mkdir',
        path: current,
      });
    }
    if (found) break;
    missing.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const folder of missing) {
    await mkdir(folder, mode === undefined ? {} : { mode }).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}

/**
 * The CLI's progress store: the outage state file on the control host, as pretty JSON of the `stateFile` schema.
 * Writes are atomic (temp file in the same folder, fsync, rename, fsync the folder), and a file that Hecate
 * cannot read is never overwritten or deleted without an explicit `overwriteCorrupt`.
 */
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { API_VERSION } from '../core/api/meta.js';
import { type OutageRecord, type Progress, stateFile } from '../core/api/progress.js';
import { parseOrThrow, toIssues, ValidationError } from '../core/api/validate.js';
import type { ProgressStore } from '../core/ports/index.js';
import { describeSystemError, makeDirectory } from './system.js';

/** What a {@link ProgressStore} holds. */
export interface OutageState {
  outage: OutageRecord;
  progress?: Progress;
}

export interface SaveOptions {
  /**
   * Replace the file even when it is corrupt, foreign or a legacy file. Dangerous: whatever it held (for a
   * legacy file, the old script's record of what it suspended) is lost. Default false.
   */
  overwriteCorrupt?: boolean;
}

/** Why a state file could not be used. `unreadable` and `unwritable` are file-system failures (see `code`). */
export type StateFileProblem = 'unreadable' | 'unwritable' | 'empty' | 'not-json' | 'legacy' | 'foreign' | 'invalid';

/**
 * A state file cannot be used. The message names the file, says what is wrong and what to do; the file has not
 * been changed. Schema problems carry a {@link ValidationError} as `cause`; a file-system failure (`unreadable`,
 * `unwritable`) carries the errno error as `cause`, its code as `code`, and is one line:
 * `cannot write the state file /x/y.state: read-only file system (EROFS)`.
 */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  /** The errno code (EROFS, EACCES, ENOSPC, EISDIR...) of a file-system failure. */
  readonly code?: string;
  constructor(
    readonly path: string,
    readonly problem: StateFileProblem,
    what: string,
    options?: ErrorOptions,
  ) {
    super(isSystemProblem(problem) ? what : `State file ${path} ${what}\n${advice(path, problem)}`, options);
    const code = (options?.cause as NodeJS.ErrnoException | undefined)?.code;
    if (typeof code === 'string') this.code = code;
  }

  /** A failed `operation` on the file (or its folder), caused by `error`. */
  static system(path: string, operation: 'read' | 'write', error: unknown): StateFileError {
    const problem = operation === 'read' ? 'unreadable' : 'unwritable';
    const what = `cannot ${operation} the state file ${path}: ${describeSystemError(error)}`;
    return new StateFileError(path, problem, what, { cause: error });
  }

  /**
   * True when the path itself is wrong (a folder, or under a file): the user's input, not the machine's state.
   * Read-only file systems, permissions and full disks are not.
   */
  get isBadPath(): boolean {
    return this.code !== undefined && BAD_PATH_CODES.has(this.code);
  }
}

const BAD_PATH_CODES = new Set(['EISDIR', 'ENOTDIR', 'ENOTEMPTY', 'ENAMETOOLONG', 'ELOOP']);

function isSystemProblem(problem: StateFileProblem): boolean {
  return problem === 'unreadable' || problem === 'unwritable';
}

/** The old bash script that wrote `KEY=value` state files at the same default path. */
export const LEGACY_SCRIPT = 'cluster_power_recovery.sh';

const MINUTE_MS = 60_000;

/** A {@link ProgressStore} backed by one JSON file. One writer at a time (the CLI holds no lock). */
export class StateFile implements ProgressStore {
  constructor(readonly path: string) {}

  /**
   * The stored state, or undefined when the file does not exist.
   * Throws {@link StateFileError} for any other file that is not a valid state file.
   * NOTE: never writes, renames or deletes anything, and ignores temp files left by a crashed save.
   */
  async load(): Promise<OutageState | undefined> {
    const text = await readText(this.path);
    if (text === undefined) return undefined;
    const { outage, progress } = decode(text, this.path);
    return progress ? { outage, progress } : { outage };
  }

  /**
   * Atomically replaces the file with `state`: a reader, even after a crash or power cut, sees the previous
   * content or the new one, never a mix. Creates the folder (mode 0700) when missing; the file gets mode 0600.
   * Throws ValidationError when `state` does not match the schema, and {@link StateFileError} when the existing
   * file is corrupt, foreign or legacy (unless `overwriteCorrupt`), or when the file system refuses the write
   * (`unwritable`: read-only, permissions, full disk, the path is a folder). Nothing is left behind when it throws.
   * NOTE: the corrupt-file guard re-reads the file on every save; the file is small and saves are per step.
   */
  async save(state: OutageState, options: SaveOptions = {}): Promise<void> {
    const body = encode(state, this.path);
    if (!options.overwriteCorrupt) await this.load();
    try {
      await makeDirectory(dirname(this.path), 0o700);
      await writeAtomically(this.path, body);
    } catch (error) {
      throw StateFileError.system(this.path, 'write', error);
    }
  }

  /**
   * Removes temp files of this state file (`.<base>.<pid>.<hex>.tmp` siblings) last modified more than
   * `maxAgeMs` before `now`: leftovers of a save killed before its rename. Returns the removed paths.
   * NOTE: a younger temp file may belong to a save in progress, so it is kept.
   */
  async cleanStaleTemps(now: Date = new Date(), maxAgeMs = MINUTE_MS): Promise<string[]> {
    const dir = dirname(this.path);
    const pattern = tempPattern(basename(this.path));
    const removed: string[] = [];
    for (const name of await listDir(dir)) {
      if (!pattern.test(name)) continue;
      const path = join(dir, name);
      const stat = await lstat(path).catch(() => undefined);
      if (!stat?.isFile() || now.getTime() - stat.mtimeMs <= maxAgeMs) continue;
      await rm(path, { force: true });
      removed.push(path);
    }
    return removed;
  }
}

/** Validates `state` and renders the file body: pretty JSON with a trailing newline. */
function encode(state: OutageState, path: string): string {
  const doc = { apiVersion: API_VERSION, kind: 'OutageState', outage: state.outage, progress: state.progress };
  return `${JSON.stringify(parseOrThrow(stateFile, doc, `state to be written to ${path}`), null, 2)}\n`;
}

/** Parses a file body, or throws a {@link StateFileError} saying what is wrong with it. */
function decode(text: string, path: string) {
  if (text.trim() === '') throw new StateFileError(path, 'empty', 'is empty.');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const keys = legacyKeys(text);
    if (keys) throw new StateFileError(path, 'legacy', describeLegacy(keys), { cause: error });
    throw new StateFileError(path, 'not-json', `is not valid JSON (${(error as Error).message}).`, { cause: error });
  }
  // NOTE: reportInput lets toIssues tell a missing field ("required") from a wrong one; values are not printed.
  const result = stateFile.safeParse(json, { reportInput: true });
  if (result.success) return result.data;
  const invalid = new ValidationError(path, toIssues(result.error, stateFile));
  const issues = invalid.issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n');
  const problem = isForeign(json) ? 'foreign' : 'invalid';
  const what = problem === 'foreign' ? `is not a Hecate state file (${expected()})` : 'does not match the schema';
  throw new StateFileError(path, problem, `${what}:\n${issues}`, { cause: invalid });
}

function expected(): string {
  return `expected apiVersion ${API_VERSION} and kind OutageState`;
}

/** True when the JSON is not even an object of our apiVersion and kind. */
function isForeign(json: unknown): boolean {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return true;
  const { apiVersion, kind } = json as Record<string, unknown>;
  return apiVersion !== API_VERSION || kind !== 'OutageState';
}

const LEGACY_LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/;

/**
 * The variable names when every meaningful line is a shell assignment (`KEY=value`, `export KEY=value`,
 * `# comment`), as cluster_power_recovery.sh wrote them; otherwise undefined.
 */
function legacyKeys(text: string): string[] | undefined {
  const lines = text.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  const keys = lines.map((line) => LEGACY_LINE.exec(line)?.[1]);
  if (keys.length === 0 || keys.some((key) => key === undefined)) return undefined;
  return keys as string[];
}

/** NOTE: names only the keys, never the values. */
function describeLegacy(keys: string[]): string {
  const shown = keys.slice(0, 8).join(', ') + (keys.length > 8 ? ', ...' : '');
  return `was written by the old ${LEGACY_SCRIPT} (shell KEY=value lines: ${shown}), not by Hecate.`;
}

function advice(path: string, problem: StateFileProblem): string {
  const moveAside = `mv ${shellQuote(path)} ${shellQuote(`${path}.bak`)}`;
  if (problem === 'legacy') {
    return (
      `Hecate has not changed it. If that script's outage is still in progress, finish or undo it with the ` +
      `script (or by hand: resume Flux, uncordon nodes), then move the file aside (${moveAside}) and rerun.`
    );
  }
  return (
    `Hecate has not changed it. Inspect it; if it holds nothing you need, move it aside (${moveAside}) and ` +
    `rerun, or point Hecate at another state file.`
  );
}

function shellQuote(value: string): string {
  return /^[\w@%+=:,./~-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The file's text, or undefined when it does not exist; other read errors become a {@link StateFileError}. */
async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw StateFileError.system(path, 'read', error);
  }
}

/**
 * Temp file (same folder, so the rename is atomic) → write → fsync → rename over `target` → fsync the folder.
 * NOTE: the temp file is removed when anything fails before the rename; only a killed process leaves one.
 */
/** Replaces `target` with `body` atomically (temp file beside it, fsync, rename, fsync the folder); mode 0600. */
export async function writeAtomically(target: string, body: string): Promise<void> {
  const temp = join(dirname(target), tempName(basename(target)));
  let created = false;
  try {
    const handle = await open(temp, 'wx', 0o600);
    created = true;
    await writeAndSync(handle, body);
    await rename(temp, target);
  } catch (error) {
    // NOTE: the original error matters more than a failed cleanup, so a cleanup error is dropped.
    if (created) await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await syncDir(dirname(target));
}

async function writeAndSync(handle: Awaited<ReturnType<typeof open>>, body: string): Promise<void> {
  try {
    await handle.writeFile(body, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename in `dir` durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function tempName(base: string): string {
  return `.${base}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}

function tempPattern(base: string): RegExp {
  return new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+\\.[0-9a-f]+\\.tmp$`);
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

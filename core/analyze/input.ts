/** What the repo reader hands to the analysis: plain data, already read from disk. */

/** One YAML document of a repo file. `line` is 1-based, where the document's content starts. */
export interface RepoDocument {
  /** Repo-relative POSIX path. */
  file: string;
  line: number;
  /** Position of the document in its file, from 0. */
  index: number;
  value: unknown;
}

/** A file that could not be read as YAML, with where the first error is (1-based line and column). */
export interface ParseProblem {
  file: string;
  line: number;
  column: number;
  message: string;
}

export interface RepoInput {
  /** How the repo is named in messages (the directory as given). */
  root: string;
  /** Every YAML file that was read (repo-relative), parsed or not. */
  files: readonly string[];
  documents: readonly RepoDocument[];
  parseErrors: readonly ParseProblem[];
  /** Directories or files left out on purpose (Helm chart templates, symlinks, oversized files), with why. */
  skipped: readonly { path: string; reason: string }[];
}

/** Where an object is written: file and line, for messages. */
export interface Location {
  file: string;
  line: number;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Reads `obj.a.b.c` without throwing; undefined when any step is missing. */
export function dig(obj: unknown, ...keys: string[]): unknown {
  let current = obj;
  for (const key of keys) {
    if (!isRecord(current)) return undefined;
    current = current[key];
  }
  return current;
}

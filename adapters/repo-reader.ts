/**
 * Reads a Flux repo from disk for `hecate analyze`: every YAML file, every document with the line it starts on,
 * and the parse errors with file and line. No network: kustomize remote bases are left to the analysis to report.
 */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { ParseProblem, RepoDocument, RepoInput } from '../core/ports/index.js';

/** Directories never read: VCS data, dependencies, and build output. */
const SKIP_DIRS = new Set(['.git', 'node_modules', '.terraform', 'dist']);
const YAML_FILE = /(\.ya?ml|^Kustomization)$/;
/** NOTE: bigger files are generated bundles (CRDs, vendored charts); skipping them keeps a run bounded. */
export const MAX_FILE_BYTES = 4 * 1024 * 1024;

export class RepoReadError extends Error {
  override readonly name = 'RepoReadError';
}

interface Collected {
  files: string[];
  skipped: { path: string; reason: string }[];
}

function toPosix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}

async function collect(root: string, dir: string, out: Collected): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  const rel = toPosix(relative(root, dir));
  if (rel !== '' && entries.some((e) => e.isFile() && e.name === 'Chart.yaml')) {
    out.skipped.push({ path: rel, reason: 'a Helm chart (its templates are not YAML until rendered)' });
    return;
  }
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, entry.name);
    const relPath = toPosix(relative(root, path));
    if (entry.isSymbolicLink()) out.skipped.push({ path: relPath, reason: 'a symbolic link (not followed)' });
    else if (entry.isDirectory() && !SKIP_DIRS.has(entry.name)) await collect(root, path, out);
    else if (entry.isFile() && YAML_FILE.test(entry.name)) out.files.push(relPath);
  }
}

/** Splits one file into documents; a file with a syntax error yields no documents and one problem. */
export function parseRepoFile(file: string, text: string): { documents: RepoDocument[]; problem?: ParseProblem } {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { version: '1.1', lineCounter });
  const list = Array.isArray(docs) ? docs : [];
  const error = list.flatMap((d) => d.errors)[0];
  if (error) {
    const pos = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
    const message = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? error.code;
    return { documents: [], problem: { file, line: pos.line, column: pos.col, message } };
  }
  const documents = list.flatMap((doc, index) => {
    const value = doc.toJS({ maxAliasCount: 1000 });
    if (value === null || value === undefined) return [];
    const line = lineCounter.linePos(doc.contents?.range[0] ?? doc.range[0]).line;
    return [{ file, line, index, value }];
  });
  return { documents };
}

/** Reads every YAML file under `dir` (sorted, so that runs are reproducible). Throws RepoReadError if `dir` is unusable. */
export async function readRepo(dir: string, display = dir): Promise<RepoInput> {
  const stat = await lstat(dir).catch((cause: NodeJS.ErrnoException) => {
    throw new RepoReadError(`cannot read ${display}: ${cause.code ?? cause.message}`, { cause });
  });
  if (!stat.isDirectory()) throw new RepoReadError(`${display} is not a directory`);
  const collected: Collected = { files: [], skipped: [] };
  await collect(dir, dir, collected);
  const documents: RepoDocument[] = [];
  const parseErrors: ParseProblem[] = [];
  const files: string[] = [];
  for (const file of collected.files) {
    const path = join(dir, file);
    const size = (await lstat(path)).size;
    if (size > MAX_FILE_BYTES) {
      collected.skipped.push({ path: file, reason: `larger than ${MAX_FILE_BYTES} bytes` });
      continue;
    }
    files.push(file);
    const parsed = parseRepoFile(file, await readFile(path, 'utf8'));
    documents.push(...parsed.documents);
    if (parsed.problem) parseErrors.push(parsed.problem);
  }
  return { root: display, files, documents, parseErrors, skipped: collected.skipped };
}

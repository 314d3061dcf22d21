/**
 * What `hecate --version` prints: the package's version, the commit it was built from and the Node that runs it.
 * The commit is the build's when there was a build (the single-file binaries define HECATE_BUILD in their bundle,
 * `npm run build` writes dist/build-info.json), else git's when running from a checkout's sources, else "unknown":
 * never a guess. hack/build-info.ts writes both.
 * NOTE: synchronous and loaded by --version only (a git call costs a process).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  /** The full commit hash, `-dirty` when the tree had uncommitted changes; "unknown" when nothing says. */
  commit: string;
}

/** Defined by esbuild in hack/build-binaries.ts; absent everywhere else. */
declare const HECATE_BUILD: BuildInfo | undefined;

/** The commit of a git checkout at `root`, or undefined when `root` is not one (or git is missing). */
export function gitCommit(root: string): string | undefined {
  if (!existsSync(join(root, '.git'))) return undefined;
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: 'pipe' });
    const commit = git('rev-parse', 'HEAD').trim();
    const dirty = git('status', '--porcelain', '--untracked-files=no').trim() !== '';
    return `${commit}${dirty ? '-dirty' : ''}`;
  } catch {
    return undefined;
  }
}

/**
 * The build of the code that runs: `module` is this module's file; under dist/ (the npm package) the package root is
 * two folders up and the commit is the one the build recorded, else (the sources, through tsx) one folder up and git's.
 */
export function readBuildInfo(module: string): BuildInfo {
  if (typeof HECATE_BUILD === 'object' && HECATE_BUILD) return HECATE_BUILD;
  const here = dirname(module);
  const built = basename(dirname(here)) === 'dist';
  const root = built ? dirname(dirname(here)) : dirname(here);
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const recorded = join(root, 'dist', 'build-info.json');
  if (built) {
    const commit = existsSync(recorded) ? (JSON.parse(readFileSync(recorded, 'utf8')) as BuildInfo).commit : undefined;
    return { version, commit: commit ?? 'unknown' };
  }
  return { version, commit: gitCommit(root) ?? 'unknown' };
}

/** The `--version` text: `hecate 0.1.0`, then the commit and the Node version, one a line. */
export function versionText(name: string, info: BuildInfo = readBuildInfo(fileURLToPath(import.meta.url))): string {
  return `${name} ${info.version}\ncommit: ${info.commit}\nnode: ${process.version} (${process.platform}/${process.arch})\n`;
}

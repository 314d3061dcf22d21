/**
 * Repo-relative POSIX paths, without node:path so that core stays pure. A normalised path has no leading "./",
 * no trailing "/", no "." or ".." segments inside; the repo root is "". A path that climbs above the root keeps
 * its leading "..", so callers can tell that it leaves the repo.
 */
export function normalizePath(path: string): string {
  const out: string[] = [];
  for (const part of path.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

export function joinPath(dir: string, path: string): string {
  return normalizePath(dir === '' ? path : `${dir}/${path}`);
}

export function dirnameOf(path: string): string {
  const index = path.lastIndexOf('/');
  return index < 0 ? '' : path.slice(0, index);
}

export function basenameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** True when `path` is `dir` itself or lies below it. */
export function isUnder(path: string, dir: string): boolean {
  return dir === '' || path === dir || path.startsWith(`${dir}/`);
}

export function leavesRepo(path: string): boolean {
  return path === '..' || path.startsWith('../');
}

const KUSTOMIZE_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** kustomize's own file names, in the order kustomize looks for them. */
export function isKustomizeFile(path: string): boolean {
  return KUSTOMIZE_FILES.includes(basenameOf(path));
}

export function kustomizeFileIn(dir: string, files: ReadonlySet<string>): string | undefined {
  return KUSTOMIZE_FILES.map((name) => joinPath(dir, name)).find((file) => files.has(file));
}

/**
 * Where the control-plane binaries are, without building anything. The same lookup as
 * hack/setup-test-binaries.sh (which also builds): $KUBEBUILDER_ASSETS, then the cache folder named after the
 * versions pinned in hack/test-binaries/go.mod.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BINARY_NAMES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl'] as const;
export type BinaryName = (typeof BINARY_NAMES)[number];
export type TestBinaries = Readonly<Record<BinaryName, string>> & { readonly dir: string };

/** The repository root (this file lives in bed/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SETUP_COMMAND = 'hack/setup-test-binaries.sh';

export type BinaryLookup = { ok: true; binaries: TestBinaries } | { ok: false; reason: string };

/** Finds the binaries; `ok: false` says which folders were tried and what was missing. */
export function findTestBinaries(env: NodeJS.ProcessEnv = process.env): BinaryLookup {
  const tried: string[] = [];
  const candidates = [env.KUBEBUILDER_ASSETS, cacheFolder(env)].filter((d): d is string => Boolean(d));
  for (const dir of candidates) {
    const missing = BINARY_NAMES.filter((name) => !isExecutable(join(dir, name)));
    if (missing.length === 0) return { ok: true, binaries: binariesIn(dir) };
    tried.push(`${dir} (missing: ${missing.join(', ')})`);
  }
  return { ok: false, reason: `no control-plane binaries in ${tried.join('; ') || 'any known folder'}` };
}

function binariesIn(dir: string): TestBinaries {
  const paths = Object.fromEntries(BINARY_NAMES.map((name) => [name, join(dir, name)])) as Record<BinaryName, string>;
  return { ...paths, dir };
}

/** NOTE: must match the `out=` line of hack/setup-test-binaries.sh. */
function cacheFolder(env: NodeJS.ProcessEnv): string | undefined {
  let goMod: string;
  try {
    goMod = readFileSync(join(REPO_ROOT, 'hack/test-binaries/go.mod'), 'utf8');
  } catch {
    return undefined;
  }
  const k8s = /^\s*k8s\.io\/kubernetes v(\S+)$/m.exec(goMod)?.[1];
  const etcd = /^\s*go\.etcd\.io\/etcd\/server\/v3 v(\S+)$/m.exec(goMod)?.[1];
  if (!k8s || !etcd) return undefined;
  const root = env.HECATE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hecate');
  return join(root, 'test-binaries', `k8s-v${k8s}-etcd-v${etcd}`);
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable called `name` on $PATH. */
export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return (env.PATH ?? '')
    .split(':')
    .filter(Boolean)
    .map((dir) => join(dir, name))
    .find(isExecutable);
}

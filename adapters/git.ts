/**
 * SnapshotPort with the git CLI (execa): the local clone of the Flux source that a cold boot applies from. Any URL
 * git accepts (ssh://, git@host:path, https://, file://). Never prompts: GIT_TERMINAL_PROMPT=0 and, unless the
 * caller set GIT_SSH_COMMAND, `ssh -o BatchMode=yes`.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotPort } from '../core/ports/prepare.js';
import { expandHome, type PathEnv } from './paths.js';

export class GitSnapshotError extends Error {
  override readonly name = 'GitSnapshotError';
}

export interface GitSnapshotOptions {
  env?: PathEnv & Readonly<Record<string, string | undefined>>;
  /** Per git command (default 5 min). */
  timeoutMs?: number;
  git?: string;
}

/**
 * Clone, or fetch and check out. The snapshot is a mirror: the branch is moved to the remote's commit
 * (`checkout -B`), so local commits on it are left only in the reflog. A working tree with changes is refused.
 */
export class GitSnapshot implements SnapshotPort {
  constructor(private readonly options: GitSnapshotOptions = {}) {}

  async refresh(input: { url: string; branch?: string; dir: string; signal?: AbortSignal }) {
    const dir = expandHome(input.dir, this.options.env ?? process.env);
    const cloned = !existsSync(join(dir, '.git'));
    if (cloned) {
      if (existsSync(dir) && (await readdir(dir)).length > 0) {
        throw new GitSnapshotError(`${dir} exists and is not a git clone: move it away or choose another repoSnapshot`);
      }
      const branch = input.branch ? ['--branch', input.branch] : [];
      await this.git(['clone', '--quiet', ...branch, '--', input.url, dir], undefined, input.signal);
    } else {
      await this.update(dir, input.url, input.branch, input.signal);
    }
    const sha = await this.git(['rev-parse', 'HEAD'], dir, input.signal);
    const branch = input.branch ?? (await this.git(['rev-parse', '--abbrev-ref', 'HEAD'], dir, input.signal));
    return { revision: `${branch}@sha1:${sha}`, cloned };
  }

  private async update(dir: string, url: string, branch: string | undefined, signal?: AbortSignal) {
    const origin = await this.git(['remote', 'get-url', 'origin'], dir, signal).catch(() => '');
    if (origin !== url) {
      throw new GitSnapshotError(
        `${dir} is a clone of ${origin || 'no origin'}, not of ${url}: fix its origin (git remote set-url origin ${url}) or move it away`,
      );
    }
    const dirty = await this.git(['status', '--porcelain', '--untracked-files=no'], dir, signal);
    if (dirty) {
      throw new GitSnapshotError(
        `${dir} has local changes (${dirty.split('\n').length} files): commit, stash or discard them`,
      );
    }
    await this.git(['fetch', '--quiet', '--prune', 'origin'], dir, signal);
    const target = branch ?? (await this.remoteHead(dir, signal));
    await this.git(['checkout', '--quiet', '-B', target, `refs/remotes/origin/${target}`], dir, signal);
  }

  /** The remote's default branch, as `git clone` would choose it. */
  private async remoteHead(dir: string, signal?: AbortSignal): Promise<string> {
    const ref = await this.git(['symbolic-ref', '--quiet', 'refs/remotes/origin/HEAD'], dir, signal).catch(async () => {
      await this.git(['remote', 'set-head', 'origin', '--auto'], dir, signal);
      return this.git(['symbolic-ref', 'refs/remotes/origin/HEAD'], dir, signal);
    });
    return ref.replace(/^refs\/remotes\/origin\//, '');
  }

  private async git(args: string[], cwd: string | undefined, signal?: AbortSignal): Promise<string> {
    const env = this.options.env ?? process.env;
    const { execa } = await import('execa');
    const result = await execa(this.options.git ?? 'git', args, {
      ...(cwd ? { cwd } : {}),
      reject: false,
      stdin: 'ignore',
      timeout: this.options.timeoutMs ?? 300_000,
      ...(signal ? { cancelSignal: signal } : {}),
      env: {
        GIT_TERMINAL_PROMPT: '0',
        ...(env.GIT_SSH_COMMAND ? {} : { GIT_SSH_COMMAND: 'ssh -o BatchMode=yes' }),
        LC_ALL: 'C',
      },
    });
    if (result.isCanceled) throw signal?.reason ?? new Error('cancelled');
    if (result.exitCode !== 0 || result.timedOut) {
      const why = result.timedOut ? 'timed out' : `exit ${result.exitCode}`;
      throw new GitSnapshotError(`git ${args.join(' ')} failed (${why}): ${result.stderr.trim() || 'no output'}`);
    }
    return result.stdout.trim();
  }
}

/**
 * The revision checked out in a local clone, in Flux's format (`<branch>@sha1:<commit>`, `HEAD@sha1:` when
 * detached); `present: false` when the folder is missing or not a git clone. Read-only; never throws.
 */
export async function snapshotRevision(dir: string, git = 'git'): Promise<{ present: boolean; revision?: string }> {
  if (!existsSync(join(dir, '.git'))) return { present: false };
  const run = (args: string[]) =>
    import('execa').then(({ execa }) =>
      execa(git, ['-C', dir, ...args], { reject: false, stdin: 'ignore', timeout: 10_000, env: { LC_ALL: 'C' } }),
    );
  const [sha, branch] = await Promise.all([run(['rev-parse', 'HEAD']), run(['rev-parse', '--abbrev-ref', 'HEAD'])]);
  if (sha.exitCode !== 0) return { present: true };
  return {
    present: true,
    revision: `${branch.exitCode === 0 ? branch.stdout.trim() : 'HEAD'}@sha1:${sha.stdout.trim()}`,
  };
}

import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliResult } from '../../bed/e2e.js';
import { runCli } from '../../cli/main.js';

/** A throwaway HOME so that defaults (~/hecate-repo, ~/.local/state) never touch the real one. */
export async function withHome<T>(work: (home: string) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), 'hecate-home-'));
  try {
    return await work(home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** Runs the CLI in-process, as `hecate <argv>`, with HOME set to `home`. Paths under `home` print as `~`. */
export async function hecate(argv: string[], home: string, env: Record<string, string> = {}): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: { HOME: home, ...env },
    cwd: process.cwd(),
    now: () => new Date('2026-11-25T02:00:00Z'),
  });
  const tidy = (text: string) => text.split(home).join('~');
  return { code, stdout: tidy(stdout), stderr: tidy(stderr) };
}

/** name → sha256 of every file under `dir` (folders as `name/`), so a test can say "nothing in it changed". */
export async function folderChecksums(dir: string): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath, entry.name);
    const name = path.slice(dir.length + 1);
    sums[entry.isDirectory() ? `${name}/` : name] = entry.isDirectory()
      ? 'dir'
      : createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
  }
  return sums;
}

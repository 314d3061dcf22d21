/**
 * The repository stands alone: a copy of it in an empty folder (nothing beside it) finds the upstream Flux and
 * Longhorn CRDs through its own setup's cache and starts the bed with them. The copy holds the files git tracks or
 * would track, as they are in the working tree; node_modules is linked in, as `npm ci` would have filled it.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, requireBed, upstreamCrdNames } from '../../bed/index.js';

const bed = requireBed();

describe.skipIf(!bed.ok)('a copy of the repository with no folder beside it', () => {
  const root = mkdtempSync(join(tmpdir(), 'hecate-standalone-'));
  const copy = join(root, 'hecate');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('finds the upstream CRDs in the cache and starts the bed with them Established', async () => {
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    })
      .split('\0')
      .filter((file) => file && existsSync(join(REPO_ROOT, file)));
    for (const file of files) {
      mkdirSync(dirname(join(copy, file)), { recursive: true });
      cpSync(join(REPO_ROOT, file), join(copy, file), { verbatimSymlinks: true });
    }
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy, 'node_modules'));
    expect(readdirSync(root)).toEqual(['hecate']);

    const { stdout } = await execa(process.execPath, ['--import', 'tsx', 'test/integration/standalone.child.ts'], {
      cwd: copy,
      env: { HECATE_TEST_CRDS: '' },
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { crdsDir: string; served: string[] };

    expect(result.crdsDir.startsWith(root)).toBe(false);
    expect(result.crdsDir).toBe(bed.ok ? bed.crds : '');
    const hecate = ['powerevents.power.hecate.dev', 'powerplans.power.hecate.dev'];
    expect(result.served).toEqual([...upstreamCrdNames(), ...hecate].sort());
  });
});

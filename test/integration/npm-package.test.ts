/**
 * The npm package: `npm pack` builds it through `prepack` (not `prepare`, so `npm ci` compiles
 * nothing), ships the LICENSE and the status JSON schema beside the compiled CLI and operator, and records the commit
 * it was built from: installed where no git checkout is, `hecate --version` and `hecate-operator --version` print that
 * commit, not "unknown".
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../bed/index.js';
import { currentBuild } from '../../hack/build-info.js';

const run = promisify(execFile);

interface Packed {
  filename: string;
  files: { path: string }[];
}

describe('the npm package (npm pack)', () => {
  let dir: string;
  let packed: Packed;
  let installed: string;
  let commit: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-npm-'));
    commit = (await currentBuild()).commit;
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    const [first] = JSON.parse(stdout.slice(stdout.indexOf('['))) as Packed[];
    if (!first) throw new Error(`npm pack packed nothing: ${stdout}`);
    packed = first;
    // as `npm install` lays it out, outside any git checkout; its dependencies are the repo's own
    installed = join(dir, 'node_modules', 'hecate');
    await mkdir(installed, { recursive: true });
    await run('tar', ['-xzf', join(dir, packed.filename), '-C', installed, '--strip-components=1']);
    await symlink(join(REPO_ROOT, 'node_modules'), join(installed, 'node_modules'));
  }, 300_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('builds with prepack, not prepare', async () => {
    const pkg = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.prepare).toBeUndefined();
    expect(pkg.scripts.prepack).toBe('npm run build');
  });

  it('ships the LICENSE, the status JSON schema, the compiled CLI and operator, the build record, the examples and the systemd units; no sources', () => {
    const paths = packed.files.map((f) => f.path);
    for (const wanted of [
      'LICENSE',
      'package.json',
      'cli/status/status.schema.json',
      'dist/cli/main.js',
      'dist/operator/main.js',
      'dist/build-info.json',
      'crds/power.hecate.dev_powerplans.yaml',
      'examples/atlas-powerplan.yaml',
      'examples/nut/upsmon.conf',
      'deploy/systemd/hecate-prepare@.service',
    ]) {
      expect(paths).toContain(wanted);
    }
    expect(paths.filter((p) => /^(test|hack|core|adapters|operator)\//.test(p) || p.endsWith('.ts'))).toEqual([]);
  });

  it('ships the Apache-2.0 text package.json names', async () => {
    const license = await readFile(join(installed, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    expect(JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')).license).toBe('Apache-2.0');
  });

  it.each([
    { name: 'hecate', entry: 'dist/cli/main.js' },
    { name: 'hecate-operator', entry: 'dist/operator/main.js' },
  ])('installed, $name --version prints the commit recorded at build time', async ({ name, entry }) => {
    const { version } = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as { version: string };
    const { stdout } = await run(process.execPath, [join(installed, entry), '--version'], { cwd: dir });
    expect(stdout).toBe(
      `${name} ${version}\ncommit: ${commit}\nnode: ${process.version} (${process.platform}/${process.arch})\n`,
    );
    expect(commit).not.toBe('unknown');
  });
});

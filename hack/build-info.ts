/**
 * The build's version and commit, recorded where `--version` reads them (adapters/build-info.ts): `npm run build` (and so
 * `npm pack`'s prepack) writes dist/build-info.json; hack/build-binaries.ts defines it in the single-file bundle.
 * A build from a tree without .git (a source tarball, a container build context) records "unknown", unless the builder
 * says which commit it is building (HECATE_BUILD_COMMIT, such as a CI's commit SHA passed as a build argument): never a
 * guess.
 *
 *   tsx hack/build-info.ts [--out dist/build-info.json]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildInfo, gitCommit } from '../adapters/build-info.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function currentBuild(root = ROOT, env = process.env): Promise<BuildInfo> {
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  return { version, commit: env.HECATE_BUILD_COMMIT || gitCommit(root) || 'unknown' };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [flag, value] = process.argv.slice(2);
  const out = flag === '--out' && value ? resolve(value) : join(ROOT, 'dist', 'build-info.json');
  const info = await currentBuild();
  await writeFile(out, `${JSON.stringify(info, null, 2)}\n`);
  process.stderr.write(`[build-info] ${out}: ${info.version} ${info.commit}\n`);
}

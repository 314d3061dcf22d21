/**
 * The layering of DESIGN.md, checked from import statements: core/ is pure (no node:*, no client-node, no
 * Date.now), cli/ and operator/ never import each other, only the two main.ts files may exit the process, and
 * nothing reads a path outside the repository's own tree.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

function imports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? '');
}

/** Code without comments, so a doc comment that names a forbidden call does not count. */
function code(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/\/\/.*$/gm, '');
}

const resolvesInto = (file: string, spec: string, dir: string) =>
  spec.startsWith('.') && relative(ROOT, join(ROOT, file, '..', spec)).startsWith(`${dir}/`);

describe('architecture', () => {
  it.each(sources('core'))('core stays pure: %s', (file) => {
    const bad = imports(file).filter(
      (s) => s.startsWith('node:') || s.startsWith('@kubernetes/client-node') || s === 'execa' || s === 'winston',
    );
    expect(bad, `${file} imports I/O`).toEqual([]);
    expect(code(file)).not.toMatch(/Date\.now\(|new Date\(\)|process\./);
  });

  it.each(sources('cli'))('cli does not import operator: %s', (file) => {
    expect(imports(file).filter((s) => resolvesInto(file, s, 'operator'))).toEqual([]);
  });

  it.each(sources('operator'))('operator does not import cli: %s', (file) => {
    expect(imports(file).filter((s) => resolvesInto(file, s, 'cli'))).toEqual([]);
  });

  it.each([...sources('core'), ...sources('adapters'), ...sources('cli'), ...sources('operator')])(
    'only a main.ts exits the process: %s',
    (file) => {
      if (file.endsWith('main.ts')) return;
      expect(code(file)).not.toMatch(/process\.exit\(/);
    },
  );

  /**
   * The repository stands alone: no tracked script or source names a folder beside it (the team's shared notes, a sibling
   * checkout) or climbs above its root from a root-relative path. Paths in the user's home, the cache and temp
   * folders are fine; they are not the repository's neighbours.
   */
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(
      (f) =>
        /\.(ts|tsx|js|mjs|sh|json|ya?ml)$|(^|\/)run$/.test(f) &&
        !f.startsWith('test/fixtures/') &&
        f !== 'test/architecture.test.ts',
    );
  it.each(tracked)('reads nothing outside the repository: %s', (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    expect(text).not.toMatch(/\.\.\/shared\b|\bshared\/(fixtures|research)\b/);
    expect(text).not.toMatch(/REPO_ROOT\s*,\s*['"]\.\.['"/]|resolve\(\s*REPO_ROOT\s*,\s*['"]\.\.\//);
  });
});

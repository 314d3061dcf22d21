/**
 * The layering of DESIGN.md, checked from import statements (static, `import type`, re-exports and dynamic
 * `import()`): core/ is pure (no node:*, no client-node, no Date.now) and imports nothing outside core/; adapters/
 * see only the engine's ports and API types (core/ports, core/api), never its decisions; client-node is called only
 * in adapters/ and operator/runtime/ (the front doors hold a KubeConfig as a type); cli/ and operator/ never import
 * each other; there is no import cycle anywhere; only the two main.ts files may exit the process; and nothing reads
 * a path outside the repository's own tree.
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
  return [
    ...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] ?? '');
}

/** Value imports (not `import type`, not `export type`) of `module`, static or dynamic. */
function valueImportsOf(file: string, module: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const quoted = `['"]${module.replace(/[/.-]/g, '\\$&')}['"]`;
  const statics = [...text.matchAll(new RegExp(`^\\s*(import|export)(\\s+type)?[^'"]*from\\s+${quoted}`, 'gm'))];
  const dynamics = [...text.matchAll(new RegExp(`\\bimport\\(\\s*${quoted}\\s*\\)`, 'g'))];
  return [...statics.filter((m) => !m[2]).map((m) => m[0].trim()), ...dynamics.map((m) => m[0])];
}

/** The repository-relative .ts file a relative import names; undefined for a package. */
function resolved(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const path = relative(ROOT, join(ROOT, file, '..', spec));
  return path.replace(/\.js$/, '.ts').replace(/\.jsx$/, '.tsx');
}

/** Who imports whom among `files`. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  return new Map(files.map((f) => [f, imports(f).flatMap((s) => resolved(f, s) ?? [])]));
}

/** Strongly connected components of more than one file (or a file importing itself): the import cycles. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const files = [...graph.keys()];
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v) ?? 0);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return found;
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

  it.each(sources('core'))('core imports nothing outside core: %s', (file) => {
    const outside = imports(file).filter((s) => s.startsWith('.') && !resolved(file, s)?.startsWith('core/'));
    expect(outside, `${file} reaches out of core/`).toEqual([]);
  });

  it.each(sources('adapters'))('adapters see only core/ports and core/api of the engine: %s', (file) => {
    const engine = imports(file)
      .map((s) => resolved(file, s))
      .filter((p): p is string => p?.startsWith('core/') === true)
      .filter((p) => !p.startsWith('core/ports/') && !p.startsWith('core/api/'));
    expect(engine, `${file} imports engine logic; move what it needs behind a port or into core/api`).toEqual([]);
  });

  it.each(
    [...sources('core'), ...sources('cli'), ...sources('operator')].filter((f) => !f.startsWith('operator/runtime/')),
  )('client-node is called only in adapters/ and operator/runtime/: %s', (file) => {
    expect(valueImportsOf(file, '@kubernetes/client-node'), `${file}: only \`import type\` here`).toEqual([]);
  });

  it('no import cycle anywhere (import type and dynamic imports count)', () => {
    const all = ['core', 'adapters', 'cli', 'operator', 'bed', 'hack', 'test'].flatMap(sources);
    expect(all.length).toBeGreaterThan(300);
    expect(cycles(importGraph(all))).toEqual([]);
  });

  it('the cycle check finds a cycle, a self-import, and none in a chain', () => {
    const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));
    expect(cycles(graph({ a: ['b'], b: ['c'], c: ['a'], d: ['a'] }))).toEqual([['a', 'b', 'c']]);
    expect(cycles(graph({ a: ['a'] }))).toEqual([['a']]);
    expect(cycles(graph({ a: ['b'], b: ['c'], c: [] }))).toEqual([]);
  });

  it.each([...sources('core'), ...sources('adapters'), ...sources('cli'), ...sources('operator')])(
    "the product never imports the tests, and the bed only through the drill's door: %s",
    (file) => {
      // `hecate drill run` rehearses on the bed: its command is the one door, and nothing else reaches the bed
      const door = file === 'cli/commands/drill-run.ts';
      const test = imports(file).filter((s) => (door ? /^test\// : /^(bed|test)\//).test(resolved(file, s) ?? ''));
      expect(test, `${file} imports test code`).toEqual([]);
    },
  );

  it.each(sources('bed'))('the bed is a module of its own, not a test helper: %s', (file) => {
    expect(imports(file).filter((s) => resolved(file, s)?.startsWith('test/'))).toEqual([]);
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

import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRepoFile, readRepo } from '../../../adapters/repo-reader.js';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hecate-reader-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('repo reader', () => {
  it('gives every document of a multi-document file with the line its content starts on', () => {
    const text =
      '# comment\napiVersion: v1\nkind: Namespace\nmetadata: { name: a }\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: b }\n';
    const { documents, problem } = parseRepoFile('ns.yaml', text);
    expect(problem).toBeUndefined();
    expect(documents.map((d) => [d.line, d.index])).toEqual([
      [2, 0],
      [7, 2],
    ]);
  });

  it('reads YAML 1.1: "on" and "yes" as booleans, the way Kubernetes does', () => {
    const { documents } = parseRepoFile('x.yaml', 'a: on\nb: yes\n');
    expect(documents[0]?.value).toEqual({ a: true, b: true });
  });

  it('walks the tree in sorted order, skipping .git, Helm charts and symlinks, and reports parse errors', async () => {
    await mkdir(join(dir, 'apps/chart/templates'), { recursive: true });
    await mkdir(join(dir, '.git'), { recursive: true });
    await writeFile(join(dir, 'apps/chart/Chart.yaml'), 'name: chart\n');
    await writeFile(join(dir, 'apps/chart/templates/d.yaml'), '{{ if .Values.x }}\n');
    await writeFile(join(dir, '.git/config.yaml'), 'x: 1\n');
    await writeFile(join(dir, 'apps/b.yml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: b }\n');
    await writeFile(join(dir, 'apps/a.yaml'), 'key: [unclosed\n');
    await writeFile(join(dir, 'README.md'), '# not yaml\n');
    await symlink(join(dir, 'apps'), join(dir, 'link'));
    const input = await readRepo(dir, 'repo');
    expect(input.files).toEqual(['apps/a.yaml', 'apps/b.yml']);
    expect(input.documents.map((d) => d.file)).toEqual(['apps/b.yml']);
    expect(input.parseErrors).toEqual([expect.objectContaining({ file: 'apps/a.yaml', line: expect.any(Number) })]);
    expect(input.skipped.map((s) => s.path).sort()).toEqual(['apps/chart', 'link']);
  });

  it('throws a RepoReadError for a missing directory', async () => {
    await expect(readRepo(join(dir, 'missing'), 'missing')).rejects.toMatchObject({ name: 'RepoReadError' });
  });
});

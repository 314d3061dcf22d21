import { parseRepoFile, readRepo } from '../../../adapters/repo-reader.js';
import {
  type AnalysisContext,
  analyzeRepo,
  analyzeRepository,
  type RepoAnalysis,
} from '../../../core/analyze/analyze.js';
import { fromYamlAll } from '../../../core/api/yaml.js';
import type { RepoDocument, RepoInput } from '../../../core/ports/index.js';

export const FIXTURES = 'test/fixtures/analyze';

export async function analyzeFixture(name: string): Promise<AnalysisContext> {
  return analyzeRepo(await readRepo(`${FIXTURES}/${name}`, name));
}

/** Every cluster of a fixture repo. */
export async function analyzeLayout(name: string): Promise<RepoAnalysis> {
  return analyzeRepository(await readRepo(`${FIXTURES}/${name}`, name));
}

/**
 * A fixture read from disk with some files' text changed: `edit` maps a repo path to a function of its text. Each
 * function must change the text, so that a twin cannot silently equal its original.
 */
export async function twinOf(name: string, edit: Record<string, (text: string) => string>): Promise<RepoAnalysis> {
  const input = await readRepo(`${FIXTURES}/${name}`, `${name} (twin)`);
  const { readFile } = await import('node:fs/promises');
  let documents = [...input.documents];
  for (const [file, change] of Object.entries(edit)) {
    const before = await readFile(`${FIXTURES}/${name}/${file}`, 'utf8');
    const after = change(before);
    if (after === before) throw new Error(`twinOf(${name}): the edit of ${file} changes nothing`);
    documents = [...documents.filter((d) => d.file !== file), ...parseRepoFile(file, after).documents];
  }
  return analyzeRepository({ ...input, documents });
}

/** An in-memory repo: file path → YAML text. */
export function repoOf(files: Record<string, string>): RepoInput {
  const documents: RepoDocument[] = Object.entries(files).flatMap(([file, text]) =>
    fromYamlAll(text).map((value, index) => ({ file, line: 1, index, value })),
  );
  return { root: 'mem', files: Object.keys(files), documents, parseErrors: [], skipped: [] };
}

export const ks = (name: string, path: string, dependsOn: string[] = [], extra = '') => `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: { name: ${name}, namespace: flux-system }
spec:
  path: ${path}
  sourceRef: { kind: GitRepository, name: flux-system }
  dependsOn: [${dependsOn.map((d) => `{ name: ${d} }`).join(', ')}]
${extra}`;

export const gitRepo = (url: string) => `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: { name: flux-system, namespace: flux-system }
spec: { url: "${url}", ref: { branch: main } }
`;

export const chainNames = (ctx: AnalysisContext) => ctx.analysis.chain.stages.map((s) => s.name);

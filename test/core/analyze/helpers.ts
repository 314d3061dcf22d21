import { readRepo } from '../../../adapters/repo-reader.js';
import { type AnalysisContext, analyzeRepo } from '../../../core/analyze/analyze.js';
import type { RepoDocument, RepoInput } from '../../../core/analyze/input.js';
import { fromYamlAll } from '../../../core/yaml.js';

export const FIXTURES = 'test/fixtures/analyze';

export async function analyzeFixture(name: string): Promise<AnalysisContext> {
  return analyzeRepo(await readRepo(`${FIXTURES}/${name}`, name));
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

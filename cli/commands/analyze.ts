import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { defaultRepoSnapshot, expandHome } from '../../adapters/paths.js';
import { RepoReadError, readRepo } from '../../adapters/repo-reader.js';
import { analyzeRepo } from '../../core/analyze/analyze.js';
import { draftPlanYaml } from '../../core/analyze/draft.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import { type LoadedPlan, loadPlanFile } from '../load-plan.js';
import { type AnalyzeTextExtras, renderAnalysisText } from '../render/analyze-text.js';

export type AnalyzeOutput = 'text' | 'json';

/** `hecate analyze` options. */
export interface AnalyzeOptions {
  /** The Flux repo (default: --plan's repoSnapshot, else ~/hecate-repo). */
  repo?: string;
  output: AnalyzeOutput;
  /** Write a draft PowerPlan here. */
  emitPlan?: string;
  /** Compare this PowerPlan's chain with the repo. */
  plan?: string;
}

export function parseAnalyzeOutput(value: string): AnalyzeOutput {
  if (value === 'text' || value === 'json') return value;
  throw new InvalidArgumentError('expected one of: text, json');
}

function pathOf(path: string, deps: CliDeps): string {
  return resolve(deps.cwd, expandHome(path, deps.env));
}

function draftName(repo: string): string {
  const name = basename(repo)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return name.slice(0, 63).replace(/-+$/, '') || 'draft';
}

/**
 * Finds both bootstrap deadlocks in a Flux repo and derives the bootstrap chain. Exit 0 whenever the analysis
 * ran, findings or not; 2 when the repo, --plan or --emit-plan cannot be used. Never touches the cluster.
 */
export async function runAnalyze(options: AnalyzeOptions, deps: CliDeps): Promise<void> {
  const plan: LoadedPlan | undefined = options.plan ? await loadPlanFile(pathOf(options.plan, deps)) : undefined;
  const repo = options.repo ?? plan?.spec.repoSnapshot;
  const dir = repo ? pathOf(repo, deps) : defaultRepoSnapshot(deps.env);
  const input = await readRepo(dir, repo ?? dir).catch((error: unknown) => {
    if (error instanceof RepoReadError)
      throw new ExitError(ExitCode.Usage, `--repo: ${error.message}`, { cause: error });
    throw error;
  });
  const ctx = analyzeRepo(input);
  if (plan) ctx.analysis.planCheck = ctx.compare(plan.spec);
  const extras: AnalyzeTextExtras = plan ? { planSource: options.plan ?? plan.source } : {};
  if (options.emitPlan) {
    const draft = ctx.draft(draftName(dir));
    await writeFile(pathOf(options.emitPlan, deps), draftPlanYaml(draft, repo ?? dir)).catch(
      (cause: NodeJS.ErrnoException) => {
        throw new ExitError(
          ExitCode.Usage,
          `cannot write --emit-plan ${options.emitPlan}: ${cause.code ?? cause.message}`,
          { cause },
        );
      },
    );
    extras.emitted = { path: options.emitPlan, review: draft.review };
    if (options.output === 'json') deps.stderr(`Draft PowerPlan written to ${options.emitPlan}\n`);
  }
  if (options.output === 'json') deps.stdout(`${JSON.stringify(ctx.analysis, null, 2)}\n`);
  else deps.stdout(renderAnalysisText(ctx.analysis, extras));
}

/** Help text for `hecate analyze` (after the options list). */
export const ANALYZE_HELP = `
Reads every YAML file of a Flux repo (no cluster, no network) and reports:
  - deadlock 1: a Flux source whose host is served by a workload Flux applies from that same source
  - deadlock 2: a registry deployed from the repo that pulls its own images or charts
  - the dependsOn graph in layers (plus what objects imply: namespaces, CRDs, sources), cycles, missing targets
  - the derived bootstrap chain and where the registry seed goes
  - what it could not decide (variables in SOPS Secrets, remote bases, ties)
With --plan, it also reports where that PowerPlan's chain disagrees with the repo.

Examples:
  $ hecate analyze --repo ~/hecate-repo
  $ hecate analyze --repo . -o json
  $ hecate analyze --repo ~/hecate-repo --emit-plan /tmp/powerplan.yaml
  $ hecate analyze --plan manifests/atlas-powerplan.yaml --repo ~/hecate-repo

Exit codes:
  0  the analysis ran (findings or not)
  2  bad input: the repo, --plan or --emit-plan cannot be used`;

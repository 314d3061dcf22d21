import { stat, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { defaultRepoSnapshot, expandHome } from '../../adapters/paths.js';
import { RepoReadError, readRepo } from '../../adapters/repo-reader.js';
import { describeSystemError } from '../../adapters/system.js';
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
  /** Let --emit-plan replace an existing file. */
  force?: boolean;
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

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** Codes of a write that failed because of the path given, not of the machine (read-only, full, permissions). */
const BAD_PATH_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'ELOOP', 'EEXIST']);

/**
 * Writes the draft to `--emit-plan`; an existing file is replaced only with `--force` (exit 2 naming both).
 * A path that cannot be used exits 2, a file system that refuses the write (read-only, full) exits 1.
 */
async function emitPlan(target: string, options: AnalyzeOptions, deps: CliDeps, body: string): Promise<void> {
  const path = pathOf(target, deps);
  await writeFile(path, body, { flag: options.force ? 'w' : 'wx' }).catch(async (cause: NodeJS.ErrnoException) => {
    if (cause.code === 'EEXIST' && !(await isDirectory(path))) {
      throw new ExitError(ExitCode.Usage, `--emit-plan ${target} already exists: pass --force to overwrite it`, {
        cause,
      });
    }
    // NOTE: 'wx' on a folder says EEXIST; --force would not help, so say what it is.
    const said = cause.code === 'EEXIST' ? 'is a directory (EISDIR)' : describeSystemError(cause);
    const code = cause.code && BAD_PATH_CODES.has(cause.code) ? ExitCode.Usage : ExitCode.Failed;
    throw new ExitError(code, `cannot write --emit-plan ${target}: ${said}`, { cause });
  });
}

/**
 * Finds both bootstrap deadlocks in a Flux repo and derives the bootstrap chain. Exit 0 when the analysis ran,
 * findings or not, except that a --plan check with an error exits 1 (after printing the whole analysis), so that
 * CI can gate on it; 2 when the repo, --plan or --emit-plan cannot be used. Never touches the cluster.
 * `hecate analyze --help` says so too: ANALYZE_HELP in ../program.ts.
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
    await emitPlan(options.emitPlan, options, deps, draftPlanYaml(draft, repo ?? dir));
    extras.emitted = { path: options.emitPlan, review: draft.review };
    if (options.output === 'json') deps.stderr(`Draft PowerPlan written to ${options.emitPlan}\n`);
  }
  if (options.output === 'json') deps.stdout(`${JSON.stringify(ctx.analysis, null, 2)}\n`);
  else deps.stdout(renderAnalysisText(ctx.analysis, extras));
  const errors = ctx.analysis.planCheck?.filter((f) => f.severity === 'error') ?? [];
  if (errors.length > 0) {
    const source = options.plan ?? plan?.source;
    const what = errors.length === 1 ? 'an error' : `${errors.length} errors`;
    throw new ExitError(ExitCode.Failed, `the plan check of ${source} found ${what}: ${errors[0]?.message ?? ''}`);
  }
}

import { stat, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { defaultRepoSnapshot, expandHome } from '../../adapters/paths.js';
import { RepoReadError, readRepo } from '../../adapters/repo-reader.js';
import { describeSystemError } from '../../adapters/system.js';
import { type AnalysisContext, analyzeRepository, type RepoAnalysis } from '../../core/analyze/analyze.js';
import { draftPlanYaml } from '../../core/analyze/draft.js';
import { toYaml } from '../../core/api/yaml.js';
import type { DraftNodes } from '../../core/ports/analyze.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import { type LoadedPlan, loadPlanFile } from '../load-plan.js';
import { type AnalyzeTextExtras, renderAnalysisText } from '../render/analyze-text.js';
import { kubeConfigFromFlags } from '../run/kubeconfig.js';

export type AnalyzeOutput = 'text' | 'json' | 'yaml';

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
  /** Only this cluster: its folder's name (clusters/<name>) or its root path. */
  cluster?: string;
  /** Read the nodes for --emit-plan from this cluster (never contacted otherwise). */
  kubeconfig?: string;
  context?: string;
  /** Global `--request-timeout`, in milliseconds, for reading the nodes. */
  requestTimeout?: number;
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

/** --cluster NAME: by the cluster folder's name or the root's path; every cluster without it. */
function selectClusters(repo: RepoAnalysis, options: AnalyzeOptions, where: string): AnalysisContext[] {
  if (!options.cluster) return repo.clusters;
  const wanted = options.cluster.replace(/^\.\//, '').replace(/\/$/, '');
  const found = repo.clusters.filter(
    (c) => c.analysis.cluster.name === options.cluster || c.analysis.cluster.root.slice(2) === wanted,
  );
  if (found.length > 0) return found.slice(0, 1);
  const names = repo.clusters.map((c) => c.analysis.cluster.name).join(', ');
  throw new ExitError(
    ExitCode.Usage,
    `--cluster ${options.cluster}: no such cluster in ${where} (expected one of: ${names})`,
  );
}

/** The live cluster's nodes for the draft, read only when --kubeconfig or --context is given. */
async function liveNodes(options: AnalyzeOptions, deps: CliDeps): Promise<DraftNodes | undefined> {
  if (!options.kubeconfig && !options.context) return undefined;
  const { readDraftNodes } = await import('../../adapters/kube/analyze-nodes.js');
  const kc = await kubeConfigFromFlags(options, deps);
  return readDraftNodes(kc).catch((cause: Error) => {
    throw new ExitError(ExitCode.Unreachable, `cannot read the nodes for --emit-plan: ${cause.message}`, { cause });
  });
}

function checkOptions(options: AnalyzeOptions): void {
  if ((options.kubeconfig || options.context) && !options.emitPlan) {
    const flag = options.kubeconfig ? '--kubeconfig' : '--context';
    throw new ExitError(ExitCode.Usage, `${flag}: only used with --emit-plan (it reads the nodes for the draft)`);
  }
}

/** The one cluster --emit-plan drafts: --cluster's, or the repo's only one. */
function draftTarget(selected: AnalysisContext[]): AnalysisContext {
  const [only] = selected;
  if (selected.length === 1 && only) return only;
  const names = selected.map((c) => c.analysis.cluster.name).join(', ');
  throw new ExitError(
    ExitCode.Usage,
    `--emit-plan: the repo holds ${selected.length} clusters (${names}); pass --cluster NAME to draft one`,
  );
}

/**
 * Finds both bootstrap deadlocks in each cluster of a Flux repo and derives its bootstrap chain. Exit 0 when the
 * analysis ran, findings or not, except that a --plan check with an error exits 1 (after printing the whole
 * analysis), so that CI can gate on it; 2 when the repo, --plan, --cluster or --emit-plan cannot be used; 4 when
 * --kubeconfig's cluster does not answer. Touches a cluster only with --kubeconfig/--context, to read its nodes.
 * `hecate analyze --help` says so too: ANALYZE_HELP in ../program.ts.
 */
export async function runAnalyze(options: AnalyzeOptions, deps: CliDeps): Promise<void> {
  checkOptions(options);
  const plan: LoadedPlan | undefined = options.plan ? await loadPlanFile(pathOf(options.plan, deps)) : undefined;
  const repo = options.repo ?? plan?.spec.repoSnapshot;
  const dir = repo ? pathOf(repo, deps) : defaultRepoSnapshot(deps.env);
  const input = await readRepo(dir, repo ?? dir).catch((error: unknown) => {
    if (error instanceof RepoReadError)
      throw new ExitError(ExitCode.Usage, `--repo: ${error.message}`, { cause: error });
    throw error;
  });
  const analyzed = analyzeRepository(input);
  const selected = selectClusters(analyzed, options, repo ?? dir);
  const checked = plan ? (options.cluster ? selected[0] : analyzed.forPlan(plan.spec)) : undefined;
  if (plan && checked) checked.analysis.planCheck = checked.compare(plan.spec);
  const extras: AnalyzeTextExtras = plan ? { planSource: options.plan ?? plan.source } : {};
  if (options.emitPlan) {
    const target = draftTarget(selected);
    const cluster = target.analysis.cluster.name;
    // NOTE: a cluster named by its root's path (no clusters/<name> folder) takes the repo's name.
    const draft = target.draft(draftName(/[/.]/.test(cluster) ? dir : cluster), await liveNodes(options, deps));
    await emitPlan(options.emitPlan, options, deps, draftPlanYaml(draft, repo ?? dir, cluster));
    extras.emitted = { path: options.emitPlan, cluster, todos: draft.todos, review: draft.review };
    if (options.output !== 'text') deps.stderr(`Draft PowerPlan written to ${options.emitPlan}\n`);
  }
  const report = { ...analyzed.report, clusters: selected.map((c) => c.analysis) };
  if (options.output === 'json') deps.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else if (options.output === 'yaml') deps.stdout(toYaml(report));
  else deps.stdout(renderAnalysisText(report, extras));
  const errors = checked?.analysis.planCheck?.filter((f) => f.severity === 'error') ?? [];
  if (errors.length > 0) {
    const source = options.plan ?? plan?.source;
    const what = errors.length === 1 ? 'an error' : `${errors.length} errors`;
    throw new ExitError(ExitCode.Failed, `the plan check of ${source} found ${what}: ${errors[0]?.message ?? ''}`);
  }
}

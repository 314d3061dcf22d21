import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { snapshotRevision } from '../../adapters/git.js';
import { defaultBundlePath, defaultStateFile, expandHome } from '../../adapters/paths.js';
import { StateFile } from '../../adapters/state-file.js';
import { DEFAULT_REPO_SNAPSHOT } from '../../core/api/defaults.js';
import type { OutageRecord, Progress } from '../../core/api/index.js';
import type { ResolvedPaths } from '../../core/plan/index.js';
import type { Observed } from '../../core/ports/index.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import { findPlanInCluster, findPlanInSnapshot, type LoadedPlan, loadPlanFile } from '../load-plan.js';
import type { CommonOptions } from '../options.js';

/** Everything a command knows before it acts: the plan, local paths, the state file and the cluster. */
export interface CommandContext {
  plan: LoadedPlan;
  paths: ResolvedPaths;
  stateFile: StateFile;
  saved?: { outage: OutageRecord; progress?: Progress };
  kubeConfig?: KubeConfig;
  observed: Observed;
  /** The plan's node this CLI runs on: shutdown powers it off last (core/plan `selfNode`). */
  selfNode?: string;
}

/**
 * The kubeconfig, found as kubectl finds it, with --request-timeout on its clients; undefined only with --offline. None at all is bad input (exit 2),
 * never a silent fallback to a server on localhost.
 * NOTE: the kube adapters (and @kubernetes/client-node) are loaded only when the cluster is used, never offline.
 */
async function kubeConfigFor(options: CommonOptions, env: CliDeps['env']): Promise<KubeConfig | undefined> {
  if (options.offline) return undefined;
  const { loadKubeConfig, NoKubeConfigError } = await import('../../adapters/kube/config.js');
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig(
      {
        ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
        ...(options.context ? { context: options.context } : {}),
      },
      env,
    );
  } catch (cause) {
    const hint = 'pass --kubeconfig FILE, or --offline to plan without a cluster';
    if (cause instanceof NoKubeConfigError) throw new ExitError(ExitCode.Usage, `${cause.message}: ${hint}`, { cause });
    throw new ExitError(ExitCode.Usage, `cannot use the kubeconfig: ${(cause as Error).message}`, { cause });
  }
  if (!options.requestTimeout) return kc;
  const { withRequestTimeout } = await import('../../adapters/kube/request-timeout.js');
  return withRequestTimeout(kc, options.requestTimeout);
}

/** --plan FILE, else the PowerPlan in the repo snapshot, else the one in the cluster. */
async function findPowerPlan(options: CommonOptions, deps: CliDeps, kc: KubeConfig | undefined): Promise<LoadedPlan> {
  if (options.plan) return loadPlanFile(options.plan);
  const snapshot = expandHome(DEFAULT_REPO_SNAPSHOT, deps.env);
  const fromSnapshot = await findPlanInSnapshot(snapshot);
  if (fromSnapshot) return fromSnapshot;
  const fromCluster = kc ? await findPlanInCluster(kc).catch(() => undefined) : undefined;
  if (fromCluster) return fromCluster;
  throw new ExitError(
    ExitCode.Usage,
    `no PowerPlan found: pass --plan FILE (for example examples/atlas-powerplan.yaml), keep one in ${snapshot}, or apply one to the cluster`,
  );
}

function resolvePaths(plan: LoadedPlan, options: CommonOptions, deps: CliDeps): ResolvedPaths {
  const { spec } = plan;
  const stateFile = options.stateFile ?? spec.stateFile;
  const harbor = spec.harbor;
  return {
    repoSnapshot: expandHome(spec.repoSnapshot, deps.env),
    stateFile: stateFile ? expandHome(stateFile, deps.env) : defaultStateFile(deps.env),
    ...(harbor
      ? {
          harborBundle: harbor.bundlePath
            ? expandHome(harbor.bundlePath, deps.env)
            : defaultBundlePath(harbor.version, harbor.arch, deps.env),
        }
      : {}),
  };
}

/**
 * The plan's node this CLI runs on: `--self-node`, else `HECATE_SELF_NODE`, else the host name when it is one of the
 * plan's nodes (also its short name: `titan-00.lan` → `titan-00`). A flag naming no node of the plan is bad input
 * (exit 2); a variable or host name that matches none means the CLI runs off this plan's cluster (undefined): the
 * same control host may serve several plans.
 */
export function resolveSelfNode(
  plan: LoadedPlan,
  options: { selfNode?: string },
  env: Readonly<Record<string, string | undefined>>,
  host: string,
): string | undefined {
  const names = plan.spec.nodes.map((n) => n.name);
  const flag = options.selfNode;
  if (flag !== undefined && !names.includes(flag)) {
    throw new ExitError(
      ExitCode.Usage,
      `--self-node: "${flag}" is not a node of PowerPlan ${plan.name}; expected one of ${names.join(', ')}`,
    );
  }
  const candidates = [flag, env.HECATE_SELF_NODE, host, host.split('.')[0]];
  return candidates.find((name): name is string => name !== undefined && names.includes(name));
}

/** Loads the plan, the state file (read-only) and, unless --offline, a short look at the cluster. */
export async function loadContext(options: CommonOptions, deps: CliDeps): Promise<CommandContext> {
  const kubeConfig = await kubeConfigFor(options, deps.env);
  const plan = await findPowerPlan(options, deps, kubeConfig);
  const paths = resolvePaths(plan, options, deps);
  const stateFile = new StateFile(paths.stateFile);
  const saved = await stateFile.load();
  const [cluster, snapshot] = await Promise.all([
    kubeConfig
      ? import('../../adapters/kube/observe.js').then((kube) => kube.observeCluster(kubeConfig, plan.spec))
      : ({ api: 'unknown' } as const),
    snapshotRevision(paths.repoSnapshot),
  ]);
  const observed: Observed = { ...cluster, snapshot };
  const selfNode = resolveSelfNode(plan, options, deps.env, hostname());
  return {
    plan,
    paths,
    stateFile,
    observed,
    ...(saved ? { saved } : {}),
    ...(kubeConfig ? { kubeConfig } : {}),
    ...(selfNode ? { selfNode } : {}),
  };
}

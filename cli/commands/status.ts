import type { Observed } from '../../core/plan/index.js';
import { toYaml } from '../../core/yaml.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommonOptions } from '../options.js';
import { type CommandContext, loadContext } from './context.js';

/** The status model printed by `hecate status` (text, json or yaml). */
export interface StatusReport {
  plan: { name: string; source: string; nodes: number; chain: string[] };
  stateFile: {
    path: string;
    inOutage: boolean;
    lastStep?: string;
    lastState?: string;
    mode?: string;
    finished: boolean;
  };
  cluster: Observed;
  healthy: boolean;
}

function buildReport(ctx: CommandContext): StatusReport {
  const progress = ctx.saved?.progress;
  const last = progress?.steps[progress.steps.length - 1];
  const nodes = ctx.observed.nodes ?? [];
  const healthy =
    ctx.observed.api === 'reachable' &&
    nodes.every((n) => n.ready && !n.unschedulable) &&
    ctx.observed.flux?.sourceReady !== false &&
    !ctx.saved?.outage.inOutage;
  return {
    plan: {
      name: ctx.plan.name,
      source: ctx.plan.source,
      nodes: ctx.plan.spec.nodes.length,
      chain: ctx.plan.spec.bootstrapChain.map((s) => s.name),
    },
    stateFile: {
      path: ctx.paths.stateFile,
      inOutage: ctx.saved?.outage.inOutage ?? false,
      ...(last ? { lastStep: last.id, lastState: last.state } : {}),
      ...(progress ? { mode: progress.mode } : {}),
      finished: progress?.finishedAt !== undefined,
    },
    cluster: ctx.observed,
    healthy,
  };
}

function renderText(report: StatusReport): string {
  const { plan, stateFile, cluster } = report;
  const lines = [
    `Plan:       ${plan.name} (${plan.source}), ${plan.nodes} nodes, chain ${plan.chain.join(' → ')}`,
    `State file: ${stateFile.path}: ${stateFile.inOutage ? 'IN AN OUTAGE' : 'no outage recorded'}${
      stateFile.lastStep ? `; last step ${stateFile.lastStep} (${stateFile.lastState}) of ${stateFile.mode}` : ''
    }`,
    `Cluster:    ${cluster.api === 'reachable' ? 'reachable' : cluster.api === 'unknown' ? 'not consulted (--offline)' : 'UNREACHABLE: what is shown comes from the plan and the state file'}`,
  ];
  for (const node of cluster.nodes ?? []) {
    lines.push(
      `  node ${node.name.padEnd(20)} ${node.ready ? 'Ready' : 'NotReady'}${node.unschedulable ? ', cordoned' : ''}`,
    );
  }
  if (cluster.flux) {
    const suspended = (cluster.flux.objects ?? []).filter((o) => o.suspended).length;
    lines.push(
      `  flux source ${cluster.flux.sourceReady ? 'Ready' : 'NOT Ready'}${cluster.flux.sourceRevision ? ` at ${cluster.flux.sourceRevision}` : ''}; ${suspended} suspended object(s)`,
    );
  }
  lines.push(`Verdict:    ${report.healthy ? 'healthy' : 'degraded or unknown'}`);
  return `${lines.join('\n')}\n`;
}

/** One screen: the plan, the state file and, when reachable, the cluster. Exit 0 healthy, 1 degraded, 4 unreachable. */
export async function runStatus(options: CommonOptions, deps: CliDeps): Promise<void> {
  const ctx = await loadContext(options, deps);
  const report = buildReport(ctx);
  if (options.output === 'json') deps.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else if (options.output === 'yaml') deps.stdout(toYaml(report));
  else deps.stdout(renderText(report));
  if (ctx.observed.api === 'unreachable') throw new ExitError(ExitCode.Unreachable, 'the cluster is unreachable');
  if (ctx.observed.api === 'reachable' && !report.healthy)
    throw new ExitError(ExitCode.Failed, 'the cluster is degraded');
}

import { toYaml } from '../../core/api/yaml.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import type { CommonOptions } from '../options.js';
import { renderStatusText } from '../render/status-text.js';
import { openStatus, type StatusReport, startChangeFeed } from '../status/index.js';

export type { StatusReport } from '../status/index.js';

export interface StatusOptions extends CommonOptions {
  /** Redraw on every change the watches report, until interrupted. */
  watch?: boolean;
}

/** One document in the chosen format; in watch mode JSON is one line per update (NDJSON) and YAML `---`-separated. */
function format(report: StatusReport, options: StatusOptions): string {
  if (options.output === 'json') {
    return options.watch ? `${JSON.stringify(report)}\n` : `${JSON.stringify(report, null, 2)}\n`;
  }
  if (options.output === 'yaml') return `${options.watch ? '---\n' : ''}${toYaml(report)}`;
  return renderStatusText(report);
}

/** Exit 0 healthy, 1 degraded, 4 unreachable (also when the cluster was not consulted). */
export function exitFor(report: StatusReport): void {
  if (report.health === 'unreachable') {
    const why = report.controlPlane.api === 'unknown' ? 'the cluster was not consulted' : 'the cluster is unreachable';
    throw new ExitError(ExitCode.Unreachable, why);
  }
  if (report.health === 'degraded') throw new ExitError(ExitCode.Failed, 'the cluster is degraded');
}

/**
 * Redraws on each change until `signal` aborts; resolves with the last report. On a terminal the text view
 * replaces the screen; elsewhere each update is appended.
 */
export async function watchStatus(options: StatusOptions, deps: CliDeps, signal: AbortSignal): Promise<StatusReport> {
  const collector = await openStatus(options, deps);
  const clear = deps.isTTY && options.output === 'text' ? '\x1b[H\x1b[2J' : '';
  let last = await collector.collect();
  deps.stdout(`${clear}${format(last, options)}`);
  let queue = Promise.resolve();
  const feed = startChangeFeed({
    ...(collector.ctx.kubeConfig ? { kubeConfig: collector.ctx.kubeConfig } : {}),
    spec: collector.ctx.plan.spec,
    stateFile: collector.ctx.paths.stateFile,
    onChange: (parts) => {
      queue = queue.then(async () => {
        last = await collector.collect(parts);
        if (!signal.aborted) deps.stdout(`${clear}${format(last, options)}`);
      });
    },
  });
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
  feed.stop();
  await queue.catch(() => undefined);
  return last;
}

/** One screen: nodes, Flux, the chain, Harbor, the UPS, the outage state and the active PowerEvent. */
export async function runStatus(options: StatusOptions, deps: CliDeps): Promise<void> {
  if (options.watch) {
    // NOTE: Ctrl-C ends the watch with 130 (../interrupt.ts); SIGTERM ends it with the last report's exit code.
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGTERM', onSignal);
    try {
      exitFor(await watchStatus(options, deps, stop.signal));
    } finally {
      process.off('SIGTERM', onSignal);
    }
    return;
  }
  const report = await (await openStatus(options, deps)).collect();
  deps.stdout(format(report, options));
  exitFor(report);
}

/**
 * `hecate drill run`: rehearses a power event on a local copy of a captured cluster (bed/drill/) and reports the
 * timeline, what blocked, the predicted outage and how the end differs from the start (core/drill/report.ts). The
 * one door of the product into the bed: nothing here touches the captured cluster.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { execa } from 'execa';
import {
  type DrillCapture,
  drillCapture,
  type PowerPlanSpec,
  parseOrThrow,
  powerPlan,
  ValidationError,
} from '../../core/api/index.js';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import { drillExitCode, drillReport, renderDrillReport } from '../../core/drill/report.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import { loadPlanFile } from '../load-plan.js';

export interface DrillRunOptions {
  plan?: string;
  repo?: string;
  speed: number;
  output: 'text' | 'json' | 'yaml';
}

export async function runDrillRun(file: string, options: DrillRunOptions, deps: CliDeps): Promise<void> {
  const capture = await readCapture(resolve(deps.cwd, file));
  const plan = options.plan ? await loadPlanFile(resolve(deps.cwd, options.plan)) : capturedPlan(capture, file);
  checkNodes(plan, capture);
  const { bedAvailability } = await import('../../bed/availability.js');
  const bed = bedAvailability(deps.env as NodeJS.ProcessEnv);
  if (!bed.ok) {
    throw new ExitError(ExitCode.Usage, `the drill needs a local control plane: ${bed.reason}; ${bed.fix}`);
  }
  const self = deps.self;
  if (!self || self.length === 0) throw new ExitError(ExitCode.Failed, 'cannot tell how to run hecate again');
  const { runDrill } = await import('../../bed/drill/run.js');
  const started = deps.now().getTime();
  const run = await runDrill({
    capture,
    plan,
    ...(options.repo ? { repo: resolve(deps.cwd, options.repo) } : {}),
    speed: options.speed,
    progress: (line) => deps.stderr(`${line}\n`),
    hecate: async (argv, env) => {
      const [command = '', ...args] = self;
      const result = await execa(command, [...args, ...argv], {
        env,
        extendEnv: false,
        reject: false,
        cwd: deps.cwd,
        // each progress line of the rehearsed run as it comes, indented under the drill's own
        stderr: function* (line: unknown) {
          if (String(line).trim() !== '') deps.stderr(`    ${line}\n`);
          yield line;
        },
      });
      return { code: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
    },
  });
  const report = drillReport({
    capture: {
      server: capture.metadata.server,
      capturedAt: capture.metadata.capturedAt,
      redacted: capture.metadata.redacted,
      objects: capture.objects.length,
    },
    speed: options.speed,
    ...run,
  });
  deps.stderr(`Rehearsal done in ${((deps.now().getTime() - started) / 1000).toFixed(0)} s\n`);
  if (options.output === 'json') deps.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else if (options.output === 'yaml') deps.stdout(toYaml(report));
  else deps.stdout(renderDrillReport(report));
  if (drillExitCode(report) !== 0) {
    throw new ExitError(ExitCode.Failed, 'the rehearsal did not come back to the state before the shutdown');
  }
}

async function readCapture(path: string): Promise<DrillCapture> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ExitError(ExitCode.Usage, `cannot read ${path}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, {
      cause,
    });
  }
  try {
    return parseOrThrow(drillCapture, fromYaml(text), path);
  } catch (cause) {
    if (cause instanceof ValidationError) throw new ExitError(ExitCode.Usage, cause.message, { cause });
    throw new ExitError(ExitCode.Usage, `${path} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
}

/** The one PowerPlan the capture holds, when no --plan is given. */
function capturedPlan(capture: DrillCapture, file: string): { name: string; spec: PowerPlanSpec } {
  const plans = capture.objects.filter((o) => o.kind === 'PowerPlan');
  if (plans.length !== 1) {
    const names = plans.map((p) => p.metadata.name).join(', ');
    throw new ExitError(
      ExitCode.Usage,
      `${file} holds ${plans.length} PowerPlans${names ? ` (${names})` : ''}: name the one to rehearse with --plan FILE`,
    );
  }
  const [captured] = plans;
  try {
    const parsed = parseOrThrow(
      powerPlan,
      {
        apiVersion: captured?.apiVersion,
        kind: 'PowerPlan',
        metadata: { name: captured?.metadata.name },
        spec: captured?.spec,
      },
      `${file}: PowerPlan ${captured?.metadata.name}`,
    );
    return { name: parsed.metadata.name ?? 'captured', spec: parsed.spec };
  } catch (cause) {
    throw new ExitError(ExitCode.Usage, (cause as Error).message, { cause });
  }
}

/** Every node of the plan must be a captured node: the rehearsal powers off what the plan names. */
function checkNodes(plan: { name: string; spec: PowerPlanSpec }, capture: DrillCapture): void {
  const captured = new Set(capture.objects.filter((o) => o.kind === 'Node').map((o) => o.metadata.name));
  const missing = plan.spec.nodes.map((n) => n.name).filter((n) => !captured.has(n));
  if (missing.length > 0) {
    const redacted = capture.metadata.redacted ? ' (the capture is redacted: its node names are not the plan’s)' : '';
    throw new ExitError(
      ExitCode.Usage,
      `PowerPlan ${plan.name} names nodes the capture does not hold: ${missing.join(', ')}${redacted}`,
    );
  }
}

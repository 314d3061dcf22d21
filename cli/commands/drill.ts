/**
 * `hecate drill capture`: reads (only reads) what a power event depends on from a live cluster into one validated
 * file, for a rehearsal on the local bed (`hecate drill run`, to come) or a bug report (`--redact`). Never reads a
 * Secret or a ConfigMap; names those the pods refer to.
 */
import { resolve } from 'node:path';
import { type DrillCapture, drillCapture } from '../../core/api/index.js';
import { toYaml } from '../../core/api/yaml.js';
import { captureOf, isCapturedCrd, redact, trimObject } from '../../core/drill/capture.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import { kubeConfigFromFlags } from '../run/kubeconfig.js';

export interface DrillCaptureOptions {
  kubeconfig?: string;
  context?: string;
  requestTimeout?: number;
  /** The file to write; `-` or none: stdout. */
  output?: string;
  redact?: boolean;
}

/** Plural, human names for the progress lines. */
const NOUNS: Record<string, string> = {
  PodDisruptionBudget: 'PodDisruptionBudgets',
  Replica: 'Longhorn Replicas',
  Volume: 'Longhorn Volumes',
};

export async function runDrillCapture(options: DrillCaptureOptions, deps: CliDeps): Promise<void> {
  const { readCapturedKinds } = await import('../../adapters/kube/capture.js');
  const kc = await kubeConfigFromFlags(options, deps);
  const server = kc.getCurrentCluster()?.server ?? 'unknown';
  deps.stderr(`Capturing from ${server} (read only; no Secret or ConfigMap is read)\n`);
  const lists = await readCapturedKinds(kc, (list) => {
    const noun = NOUNS[list.kind] ?? `${list.kind}s`;
    const count =
      list.kind === 'CustomResourceDefinition' ? list.items.filter(isCapturedCrd).length : list.items.length;
    deps.stderr(list.notServed ? `  ${noun}: not served by this cluster, left out\n` : `  ${noun}: ${count}\n`);
  }).catch((cause: Error) => {
    throw new ExitError(ExitCode.Unreachable, `cannot read the cluster at ${server}: ${cause.message}`, { cause });
  });
  const objects = lists.flatMap((list) =>
    list.items
      .filter((item) => list.kind !== 'CustomResourceDefinition' || isCapturedCrd(item))
      .map((item) => trimObject(list.kind, list.apiVersion, item)),
  );
  let capture: DrillCapture = captureOf(objects, server, deps.now());
  if (options.redact) capture = redact(capture);
  const text = toYaml(drillCapture.parse(capture));
  if (!options.output || options.output === '-') {
    deps.stdout(text);
    return;
  }
  const { writeAtomically } = await import('../../adapters/state-file.js');
  const target = resolve(deps.cwd, options.output);
  await writeAtomically(target, text).catch((cause: Error) => {
    throw new ExitError(ExitCode.Failed, `cannot write ${target}: ${cause.message}`, { cause });
  });
  const redacted = options.redact ? ', names redacted' : '';
  deps.stderr(`Wrote ${target}: ${capture.objects.length} objects${redacted}\n`);
}

/**
 * The prepare mode's step executors: pre-pull the helper image, refresh the repo snapshot, record Flux's revision,
 * check that the plan's chain covers the snapshot, verify the Harbor bundle, and the preflight (its checks are in
 * ./preflight-checks.ts). None of them changes the cluster except the image pull and the outage record.
 */
import { analyzeRepo } from '../analyze/analyze.js';
import type { PlanFinding } from '../analyze/diff.js';
import { type BundleManifest, manifestPathOf, parseBundleManifest } from '../api/bundle-manifest.js';
import type { PowerPlanSpec } from '../api/index.js';
import { type BundleExpectation, buildCommand, judgeBundle } from '../bundle/verify.js';
import type { FluxPort, NodeAccessPort } from '../ports/index.js';
import type { BundleFilesPort, PreflightPort, RepoReader, SnapshotPort } from '../ports/prepare.js';
import type { StepExecutor } from '../run/executor.js';
import { preflightFindings, preflightUnchecked } from './preflight-checks.js';

export class PrepullFailedError extends Error {
  override readonly name = 'PrepullFailedError';
  constructor(
    readonly image: string,
    readonly failures: Readonly<Record<string, string>>,
  ) {
    const list = Object.entries(failures).map(([node, why]) => `${node}: ${why}`);
    super(`no node could pull ${image}: ${list.join('; ')}`);
  }
}

/** The snapshot, the Flux revision or the bundle cannot be prepared; the message says what to fix. */
export class PrepareError extends Error {
  override readonly name = 'PrepareError';
}

async function eachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * prepull-image: makes sure `params.image` is on every target node, `parallelism` nodes at a time. A node that
 * cannot pull is reported with its reason and does not fail the step; the step fails only when no node can.
 */
export function prepullImage(
  access: NodeAccessPort,
  spec: PowerPlanSpec,
  options: { dryRun?: boolean; parallelism?: number } = {},
): StepExecutor {
  return {
    check: async () => false,
    apply: async (step, ctx) => {
      const image = step.params.image ?? spec.helperImage;
      const failures: Record<string, string> = {};
      await eachLimited(step.targets, options.parallelism ?? 4, async (name) => {
        const address = spec.nodes.find((n) => n.name === name)?.address ?? name;
        const result = await access
          .ensureImage({ name, address }, image, { dryRun: options.dryRun ?? false, signal: ctx.signal })
          .catch((error: unknown) => ({ present: false, message: (error as Error).message }));
        if (!result.present && !options.dryRun) failures[name] = result.message ?? 'not present';
        ctx.report(
          `${name}: ${image} ${result.present ? 'present' : 'NOT present'}${result.message ? ` (${result.message})` : ''}`,
        );
      });
      const failed = Object.keys(failures).sort();
      if (failed.length > 0 && failed.length === step.targets.length) throw new PrepullFailedError(image, failures);
      if (failed.length > 0) {
        ctx.report(`${failed.length} of ${step.targets.length} nodes could not pull ${image}: ${failed.join(', ')}`);
      }
    },
  };
}

/** refresh-snapshot: clones or updates the local repo snapshot at `dir` from `params.url` and `params.branch`. */
export function refreshSnapshot(snapshot: SnapshotPort, dir: string): StepExecutor {
  return {
    check: async () => false,
    apply: async (step, ctx) => {
      const url = step.params.url;
      if (!url) {
        throw new PrepareError('the PowerPlan names no Flux source URL: set spec.flux.source.url to its clone URL');
      }
      const branch = step.params.branch || undefined;
      const result = await snapshot.refresh({ url, dir, signal: ctx.signal, ...(branch ? { branch } : {}) });
      ctx.report(`${result.cloned ? 'cloned' : 'updated'} ${dir} at ${result.revision}`);
    },
  };
}

/** record-flux-revision: the Flux source's `status.artifact.revision` into `outage.fluxRevision`. */
export function recordFluxRevision(flux: FluxPort, spec: PowerPlanSpec): StepExecutor {
  const { source, namespace } = spec.flux;
  const what = `${source.kind} ${namespace}/${source.name}`;
  return {
    check: async (_step, ctx) => {
      const state = await flux.source(source.kind, namespace, source.name);
      return state?.revision !== undefined && state.revision === ctx.outage().fluxRevision;
    },
    apply: async (_step, ctx) => {
      const state = await flux.source(source.kind, namespace, source.name);
      if (!state) throw new PrepareError(`${what} not found: check spec.flux.source in the PowerPlan`);
      const revision = state.revision;
      if (!revision) throw new PrepareError(`${what} has no artifact yet: nothing to record`);
      await ctx.record((outage) => {
        outage.fluxRevision = revision;
      });
      const stale = state.ready ? '' : ` (the source is not Ready${state.message ? `: ${state.message}` : ''})`;
      ctx.report(`recorded ${what} revision ${revision}${stale}`);
    },
  };
}

/** A plan finding that leaves part of the repo uncovered: `error` and `warning` severities (`info` is not one). */
function isGap(finding: PlanFinding): boolean {
  return finding.severity !== 'info';
}

/**
 * check-plan-covers-repo: runs the repo analysis on the fresh snapshot at `dir` and compares the PowerPlan with it
 * (the same check as `hecate analyze --plan`). Every gap is reported as a WARNING line, files that do not parse
 * too (the analysis cannot see into them); nothing here fails the step, since the cluster is healthy now and the
 * plan can be fixed before the outage.
 */
export function checkPlanCoversRepo(read: RepoReader, spec: PowerPlanSpec, dir: string): StepExecutor {
  return {
    check: async () => false,
    apply: async (_step, ctx) => {
      const input = await read(dir).catch((error: unknown) => error as Error);
      if (input instanceof Error) {
        ctx.report(`WARNING: could not analyze ${dir}: ${input.message}`);
        return ctx.report('1 warning: the plan was not compared with the repo');
      }
      const analysis = analyzeRepo(input);
      const findings = analysis.compare(spec);
      const warnings = [
        ...findings.filter(isGap).map((f) => f.message),
        ...input.parseErrors.map((e) => `${e.file}:${e.line} does not parse (${e.message}): the analysis skipped it`),
      ];
      for (const warning of warnings) ctx.report(`WARNING: ${warning}`);
      for (const finding of findings.filter((f) => !isGap(f))) ctx.report(`note: ${finding.message}`);
      const chain = analysis.analysis.chain.stages.length;
      ctx.report(
        warnings.length === 0
          ? `the plan's ${spec.bootstrapChain.length} chain stages cover the repo (derived chain: ${chain} stages)`
          : `${warnings.length} warning${warnings.length > 1 ? 's' : ''}: the PowerPlan does not cover the repo; compare with: hecate analyze --repo ${dir} --plan <the PowerPlan file>`,
      );
    },
  };
}

export { manifestPathOf };

/** A bundle that passed {@link readBundle}: safe to stream. `manifest` is absent for a legacy checksum-only one. */
export interface VerifiedBundle {
  path: string;
  sha256: string;
  size?: number;
  manifest?: BundleManifest;
  notes: string[];
}

/**
 * Reads and checks the bundle at `path` against its manifest and, when given, the PowerPlan's Harbor version and
 * arch. Throws a {@link PrepareError} that names the path and the command that (re)builds the bundle; nothing is
 * sent anywhere. Hashes the whole file (streamed by the port).
 */
export async function readBundle(
  files: BundleFilesPort,
  path: string,
  expected?: BundleExpectation,
): Promise<VerifiedBundle> {
  // NOTE: without the plan's expectation (the old one-argument verifyBundle) messages stay as they were.
  const hint = expected ? `; build it with: ${buildCommand(path, expected)}` : '';
  const size = files.size ? await files.size(path) : undefined;
  if (files.size && size === undefined) throw new PrepareError(`Harbor bundle not found: ${path}${hint}`);
  const manifestPath = manifestPathOf(path);
  const text = await files.readText(manifestPath);
  if (text === undefined) {
    throw new PrepareError(`bundle manifest not found: ${manifestPath} (hecate bundle build writes it)${hint}`);
  }
  const parsed = parseBundleManifest(text);
  if (parsed.kind === 'invalid') {
    const issues = parsed.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    throw new PrepareError(
      `${manifestPath} ${issues.length === 1 && !parsed.issues[0]?.path ? issues[0] : `is invalid: ${issues.join('; ')}`}`,
    );
  }
  const actual = await files.sha256(path);
  if (actual === undefined) throw new PrepareError(`Harbor bundle not found: ${path}${hint}`);
  const verdict = judgeBundle(parsed, actual, expected, path);
  if (!verdict.ok) {
    const refused = verdict.stale ? 'stale bundle' : 'bundle refused';
    throw new PrepareError(
      `${verdict.problems.join('; ')} (${refused}; rebuild it with: ${buildCommand(path, expected)})`,
    );
  }
  return {
    path,
    sha256: verdict.sha256,
    notes: verdict.notes,
    ...(size !== undefined ? { size } : {}),
    ...(verdict.manifest ? { manifest: verdict.manifest } : {}),
  };
}

/** The plan's Harbor version and arch, which the bundle must match. */
export function bundleExpectation(spec?: PowerPlanSpec): BundleExpectation | undefined {
  return spec?.harbor ? { version: spec.harbor.version, arch: spec.harbor.arch } : undefined;
}

/**
 * verify-bundle: the bundle at `params.path` exists and matches its manifest's sha256; with `spec`, also that it
 * is of the Harbor node's platform and the PowerPlan's Harbor version (a stale bundle is reported as such).
 */
export function verifyBundle(files: BundleFilesPort, spec?: PowerPlanSpec): StepExecutor {
  return {
    check: async () => false,
    apply: async (step, ctx) => {
      const path = step.params.path ?? step.targets[0] ?? '';
      const bundle = await readBundle(files, path, bundleExpectation(spec));
      const images = bundle.manifest ? `, ${bundle.manifest.images.length} images ${bundle.manifest.platform}` : '';
      ctx.report(`${path} matches its manifest (sha256 ${bundle.sha256.slice(0, 12)}…${images})`);
      if (spec) for (const note of bundle.notes) ctx.report(note);
    },
  };
}

/** preflight: reports {@link preflightFindings} and what could not be checked; changes nothing. */
export function preflight(port: PreflightPort, spec: PowerPlanSpec): StepExecutor {
  return {
    check: async () => false,
    apply: async (_step, ctx) => {
      const longhornNamespace = spec.storage.longhorn ? spec.storage.namespace : undefined;
      const snapshot = await port.snapshot(longhornNamespace ? { longhornNamespace } : {});
      const findings = preflightFindings(snapshot, spec);
      const unchecked = preflightUnchecked(snapshot, spec);
      for (const finding of findings) ctx.report(finding);
      for (const what of unchecked) ctx.report(`Could not check ${what}`);
      const notAll =
        unchecked.length > 0 ? ` (${unchecked.length} check${unchecked.length > 1 ? 's' : ''} not made)` : '';
      ctx.report(
        findings.length === 0 ? `nothing would block a shutdown${notAll}` : `${findings.length} findings${notAll}`,
      );
    },
  };
}

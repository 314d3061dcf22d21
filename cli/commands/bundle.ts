/**
 * `hecate bundle build`: the Harbor bootstrap bundle on the control host (replaces build_harbor_bootstrap_bundle.sh).
 * The image list comes from the PowerPlan's Harbor stage (version, arch) or from `--image`; a dry-run (the default)
 * prints what would be copied and where, and touches nothing.
 */
import { resolve } from 'node:path';
import { type BuildInput, type BuildResult, BundleBuildError, buildBundle } from '../../adapters/bundle/build.js';
import { defaultBundlePath, expandHome } from '../../adapters/paths.js';
import { CommandNotFoundError } from '../../adapters/system.js';
import { DEFAULT_REPO_SNAPSHOT } from '../../core/api/defaults.js';
import { platformOf } from '../../core/api/platform.js';
import { toYaml } from '../../core/api/yaml.js';
import { harborImages, uniqueReferences } from '../../core/bundle/images.js';
import type { CliDeps } from '../deps.js';
import { ExitCode, ExitError } from '../exit.js';
import { findPlanInSnapshot, type LoadedPlan, loadPlanFile } from '../load-plan.js';

export interface BundleBuildOptions {
  execute: boolean;
  plan?: string;
  /** Harbor version (default: the plan's). */
  harborVersion?: string;
  /** amd64 | arm64 (default: the plan's, else arm64). */
  arch?: string;
  /** Where to write the bundle (default: the plan's bundlePath, else the XDG default). */
  bundle?: string;
  /** Explicit images instead of the Harbor chart's list (repeatable). */
  image?: string[];
  /** Registry and namespace of the Harbor images (default docker.io/goharbor), e.g. a local mirror. */
  repository?: string;
  /** Plain HTTP or unverified TLS to the source registry. */
  insecure?: boolean;
  authfile?: string;
  /** zstd level, 1-19 (default 3). */
  level?: number;
  output?: 'text' | 'json' | 'yaml';
}

export type BundleEngine = (input: BuildInput) => Promise<BuildResult>;

async function planFor(options: BundleBuildOptions, deps: CliDeps): Promise<LoadedPlan | undefined> {
  if (options.plan) return loadPlanFile(resolve(deps.cwd, options.plan));
  if (options.harborVersion) return undefined;
  return findPlanInSnapshot(expandHome(DEFAULT_REPO_SNAPSHOT, deps.env)).catch(() => undefined);
}

/** What to build, from the options and the plan; a usage error names the missing flag. */
async function resolveInput(options: BundleBuildOptions, deps: CliDeps) {
  const plan = await planFor(options, deps);
  const harbor = plan?.spec.harbor;
  const version = options.harborVersion ?? harbor?.version;
  if (!version) {
    throw new ExitError(
      ExitCode.Usage,
      plan
        ? `${plan.source} has no spec.harbor: pass --harbor-version`
        : 'no PowerPlan found: pass --plan FILE or --harbor-version',
    );
  }
  const arch = options.arch ?? harbor?.arch ?? 'arm64';
  if (arch !== 'arm64' && arch !== 'amd64')
    throw new ExitError(ExitCode.Usage, `--arch ${arch}: expected arm64 or amd64`);
  const path = options.bundle ?? harbor?.bundlePath;
  const bundle = path ? resolve(deps.cwd, expandHome(path, deps.env)) : defaultBundlePath(version, arch, deps.env);
  const images =
    options.image && options.image.length > 0
      ? uniqueReferences(options.image)
      : harborImages({ version, ...(options.repository ? { repository: options.repository } : {}) });
  return { version, arch, bundle, images, platform: platformOf(arch) };
}

/** `-o json` and `-o yaml` print the same object. */
function printData(value: unknown, options: BundleBuildOptions, deps: CliDeps): void {
  deps.stdout(options.output === 'yaml' ? toYaml(value) : `${JSON.stringify(value, null, 2)}\n`);
}

/** bundle build: dry-run prints the plan of the build; `--execute` builds it. */
export async function runBundleBuild(
  options: BundleBuildOptions,
  deps: CliDeps,
  engine: BundleEngine = buildBundle,
): Promise<void> {
  const input = await resolveInput(options, deps);
  if (!options.execute) {
    if (options.output === 'json' || options.output === 'yaml') printData({ execute: false, ...input }, options, deps);
    else {
      const list = input.images.map((i) => `  ${i}`).join('\n');
      deps.stdout(
        `Harbor ${input.version} bundle, ${input.platform} only, ${input.images.length} images:\n${list}\n-> ${input.bundle}\n   and ${input.bundle}.manifest.json\nDry-run: nothing copied or written. Add --execute to build.\n`,
      );
    }
    return;
  }
  const started = deps.now().getTime();
  let result: BuildResult;
  try {
    result = await engine({
      images: input.images,
      platform: input.platform,
      harbor: { version: input.version, arch: input.arch },
      output: input.bundle,
      ...(options.level !== undefined ? { level: options.level } : {}),
      ...(options.insecure ? { insecure: true } : {}),
      ...(options.authfile ? { authfile: options.authfile } : {}),
      ...(deps.env.PATH !== undefined ? { path: deps.env.PATH } : {}),
      now: () => deps.now(),
      onProgress: (message) => deps.stderr(`${message}\n`),
    });
  } catch (cause) {
    if (cause instanceof CommandNotFoundError) throw new ExitError(ExitCode.Failed, cause.message, { cause });
    if (cause instanceof BundleBuildError) {
      throw new ExitError(ExitCode.Failed, `${cause.message}\nNothing was written to ${input.bundle}.`, { cause });
    }
    throw cause;
  }
  if (options.output === 'json' || options.output === 'yaml') {
    printData(result.manifest, options, deps);
    return;
  }
  const seconds = ((deps.now().getTime() - started) / 1000).toFixed(1);
  const mib = (result.manifest.size / 1024 / 1024).toFixed(1);
  deps.stdout(
    `Wrote ${result.path} (${mib} MiB, sha256 ${result.manifest.sha256}) in ${seconds} s\n` +
      `and ${result.manifestPath}:\n${result.manifest.images.map((i) => `  ${i.reference} ${i.digest} ${i.platform}`).join('\n')}\n`,
  );
}

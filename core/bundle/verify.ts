/**
 * The verdict on a bundle before anything reaches a node: checksum, platform, Harbor version. Pure: the caller
 * reads the manifest and hashes the file (core/steps/prepare.ts `readBundle`).
 */
import type { BundleManifest, ParsedManifest } from '../api/bundle-manifest.js';
import { platformOf, platformStringMatches } from '../api/platform.js';

export interface BundleExpectation {
  /** The Harbor version the PowerPlan names. */
  version: string;
  /** The PowerPlan's Harbor arch. */
  arch: string;
}

export type BundleVerdict =
  | { ok: true; manifest?: BundleManifest; sha256: string; notes: string[] }
  | { ok: false; problems: string[]; stale: boolean };

const stripV = (v: string) => v.replace(/^v/, '');

/**
 * Every problem at once. A legacy manifest (checksum only) passes with a note: its images cannot be verified by
 * digest. `stale` is true when the bundle is sound but built for another Harbor version or arch than the plan's.
 */
export function judgeBundle(
  parsed: ParsedManifest,
  actualSha256: string,
  expected?: BundleExpectation,
  label = 'the bundle',
): BundleVerdict {
  if (parsed.kind === 'invalid') {
    return {
      ok: false,
      stale: false,
      problems: parsed.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)),
    };
  }
  const sha = actualSha256.toLowerCase();
  const wantSha = parsed.kind === 'full' ? parsed.manifest.sha256 : parsed.sha256;
  const problems: string[] = [];
  if (sha !== wantSha) problems.push(`checksum mismatch: ${label} has sha256 ${sha}, its manifest expects ${wantSha}`);
  if (parsed.kind === 'legacy') {
    return problems.length > 0
      ? { ok: false, stale: false, problems }
      : { ok: true, sha256: sha, notes: ['legacy manifest (checksum only): images cannot be verified by digest'] };
  }
  const m = parsed.manifest;
  const wrong = m.images.filter((i) => !platformStringMatches(i.platform, m.platform));
  for (const image of wrong) problems.push(`${image.reference} is ${image.platform}, the bundle claims ${m.platform}`);
  let stale = false;
  if (expected) {
    const platform = platformOf(expected.arch);
    if (m.platform !== platform) {
      problems.push(`the bundle is ${m.platform}, the PowerPlan's Harbor node needs ${platform}`);
      stale = true;
    }
    if (stripV(m.harbor.version) !== stripV(expected.version)) {
      problems.push(`stale bundle: built for Harbor ${m.harbor.version}, the PowerPlan runs ${expected.version}`);
      stale = true;
    }
  }
  if (problems.length > 0) return { ok: false, problems, stale };
  return { ok: true, manifest: m, sha256: sha, notes: [] };
}

/** The command that (re)builds the bundle at `path`, for messages. */
export function buildCommand(path: string, expected?: BundleExpectation): string {
  const what = expected ? ` --harbor-version ${expected.version} --arch ${expected.arch}` : '';
  return `hecate bundle build${what} --bundle ${path} --execute`;
}

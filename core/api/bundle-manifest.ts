/**
 * The manifest written beside a Harbor bundle (`<bundle>.manifest.json`): what the bundle holds and how to check it.
 * Schema-first (zod); `hecate bundle build` writes it, verify-bundle and seed-harbor read it.
 */
import { z } from 'zod';
import { toIssues, type ValidationIssue } from './validate.js';

export const BUNDLE_MANIFEST_VERSION = 1;

const sha256Hex = z
  .string()
  .regex(/^[0-9a-fA-F]{64}$/, { message: 'expected 64 hex digits' })
  .transform((s) => s.toLowerCase());
export const digest = z.string().regex(/^sha256:[0-9a-f]{64}$/, { message: 'expected "sha256:" and 64 hex digits' });
export const platform = z
  .string()
  .regex(/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/, { message: 'expected os/arch[/variant], such as "linux/arm64"' });

/** One image in the bundle: its name as containerd will list it, and the digest of its single-platform manifest. */
export const bundleImage = z.strictObject({
  reference: z.string().min(1).describe('Full reference, such as docker.io/goharbor/harbor-core:v2.14.1'),
  digest: digest.describe('Digest of the platform manifest in the bundle: what `ctr images ls` shows after import'),
  platform,
  source: z.string().min(1).optional().describe('Where it was copied from, when not the reference itself'),
});
export type BundleImage = z.infer<typeof bundleImage>;

export const bundleManifest = z.strictObject({
  schemaVersion: z.literal(BUNDLE_MANIFEST_VERSION),
  sha256: sha256Hex.describe('Of the bundle file (the .tar.zst), hex'),
  size: z.number().int().nonnegative().describe('Bytes of the bundle file'),
  platform,
  harbor: z.strictObject({ version: z.string().min(1), arch: z.string().min(1) }),
  format: z.literal('oci-archive+zstd').default('oci-archive+zstd'),
  createdAt: z.string().min(1).describe('RFC 3339 time of the build'),
  images: z.array(bundleImage).min(1),
});
export type BundleManifest = z.infer<typeof bundleManifest>;
export type BundleManifestInput = z.input<typeof bundleManifest>;

/** A manifest from before `hecate bundle build` (the old script): a checksum and nothing to verify images with. */
const legacyManifest = z.object({ sha256: sha256Hex }).loose();

export type ParsedManifest =
  | { kind: 'full'; manifest: BundleManifest }
  | { kind: 'legacy'; sha256: string }
  | { kind: 'invalid'; issues: ValidationIssue[] };

/**
 * Parses a manifest's text. A document with `schemaVersion` must be a full manifest; one without it is accepted as
 * a legacy checksum-only manifest. Never throws: bad input comes back as issues, all at once.
 */
export function parseBundleManifest(text: string): ParsedManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { kind: 'invalid', issues: [{ path: '', message: `is not valid JSON (${(error as Error).message})` }] };
  }
  if (typeof value === 'object' && value !== null && 'schemaVersion' in value) {
    const full = bundleManifest.safeParse(value, { reportInput: true });
    return full.success
      ? { kind: 'full', manifest: full.data }
      : { kind: 'invalid', issues: toIssues(full.error, bundleManifest) };
  }
  const legacy = legacyManifest.safeParse(value, { reportInput: true });
  if (legacy.success) return { kind: 'legacy', sha256: legacy.data.sha256 };
  return { kind: 'invalid', issues: [{ path: '', message: 'has no "sha256" of 64 hex digits' }] };
}

/** The manifest's text as the build writes it: stable key order, two-space indent, trailing newline. */
export function renderBundleManifest(manifest: BundleManifestInput): string {
  return `${JSON.stringify(bundleManifest.parse(manifest), null, 2)}\n`;
}

/** `<bundle>.manifest.json`. */
export function manifestPathOf(bundle: string): string {
  return `${bundle}.manifest.json`;
}

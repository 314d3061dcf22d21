/** Platforms as OCI writes them (`os/arch[/variant]`), and the check that a bundle holds only the one it should. */

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** `linux/arm64` for a PowerPlan arch. */
export function platformOf(arch: string, os = 'linux'): string {
  return `${os}/${arch}`;
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

/**
 * Whether an image's platform satisfies the wanted one. A wanted `linux/arm64` accepts any arm64 variant (`v8` is
 * the only one arm64 has); a wanted variant must match exactly.
 */
export function platformMatches(actual: Platform, wanted: string): boolean {
  const [os, architecture, variant] = wanted.split('/');
  if (actual.os !== os || actual.architecture !== architecture) return false;
  return variant === undefined || actual.variant === variant;
}

/** The images that are not of `wanted`, each with what it is instead. Pure. */
export function wrongPlatforms(
  images: readonly { reference: string; platform: Platform }[],
  wanted: string,
): { reference: string; platform: string }[] {
  return images
    .filter((i) => !platformMatches(i.platform, wanted))
    .map((i) => ({ reference: i.reference, platform: formatPlatform(i.platform) }));
}

/** {@link platformMatches} on strings: `linux/arm64/v8` satisfies `linux/arm64`. */
export function platformStringMatches(actual: string, wanted: string): boolean {
  const [os = '', architecture = '', variant] = actual.split('/');
  return platformMatches({ os, architecture, ...(variant ? { variant } : {}) }, wanted);
}

/**
 * The images a Harbor bundle holds, derived from the PowerPlan's Harbor stage (version and arch), or given
 * explicitly. Pure.
 */

/**
 * The images of the goharbor/harbor-helm chart (1.18, Harbor v2.14), all tagged with the Harbor version.
 * NOTE: chartmuseum and notary left the chart in Harbor 2.8; a chart rendered with other values (an external
 * database or Redis) needs fewer images, which `--image` lists explicitly.
 */
export const HARBOR_COMPONENTS = [
  'nginx-photon',
  'harbor-portal',
  'harbor-core',
  'harbor-jobservice',
  'registry-photon',
  'harbor-registryctl',
  'trivy-adapter-photon',
  'harbor-db',
  'redis-photon',
  'harbor-exporter',
] as const;

export const DEFAULT_HARBOR_REPOSITORY = 'docker.io/goharbor';

export interface HarborImagesInput {
  version: string;
  /** Registry and namespace the components live under (default docker.io/goharbor); a mirror for tests. */
  repository?: string;
  components?: readonly string[];
}

/** `<repository>/<component>:<version>` for every chart component, normalised. */
export function harborImages(input: HarborImagesInput): string[] {
  const repository = (input.repository ?? DEFAULT_HARBOR_REPOSITORY).replace(/\/+$/, '');
  return (input.components ?? HARBOR_COMPONENTS).map((c) => normalizeReference(`${repository}/${c}:${input.version}`));
}

/**
 * `busybox:1.37` → `docker.io/library/busybox:1.37`, as containerd names images. A reference without a tag or
 * digest gets `:latest`. The first path part is a registry when it has a dot or a port, or is `localhost`.
 */
export function normalizeReference(reference: string): string {
  const [name = '', digestPart] = reference.split('@');
  const first = name.split('/')[0] ?? '';
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  let full = hasRegistry ? name : name.includes('/') ? `docker.io/${name}` : `docker.io/library/${name}`;
  if (!digestPart && !(full.split('/').pop() ?? '').includes(':')) full = `${full}:latest`;
  return digestPart ? `${full}@${digestPart}` : full;
}

/** Duplicates removed (after normalisation), first occurrence kept; empty strings dropped. */
export function uniqueReferences(references: readonly string[]): string[] {
  return [
    ...new Set(
      references
        .map((r) => r.trim())
        .filter(Boolean)
        .map(normalizeReference),
    ),
  ];
}

/** What `missingImages` compares: a reference and its digest. */
export interface ImageDigest {
  reference: string;
  digest: string;
}

/**
 * The wanted images that `present` lacks: an image counts as present only when its reference (normalised) points
 * at the same digest. A tag that points elsewhere is missing: the kubelet resolves the tag, not the digest.
 */
export function missingImages<T extends ImageDigest>(wanted: readonly T[], present: readonly ImageDigest[]): T[] {
  const have = new Set(present.map((i) => `${normalizeReference(i.reference)}@${i.digest}`));
  return wanted.filter((i) => !have.has(`${normalizeReference(i.reference)}@${i.digest}`));
}

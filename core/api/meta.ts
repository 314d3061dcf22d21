import { z } from 'zod';

/** The API group and version of every Hecate resource. */
export const GROUP = 'power.hecate.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** The labels of the helper pods Hecate runs on nodes (power-off, image pre-pull, bundle seed). */
export const HELPER_LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  /** What the helper does: `power-off`, `prepull`... */
  purpose: 'hecate.dev/helper',
  node: 'hecate.dev/node',
  /** The boot a power-off helper is meant for (the node's bootID): a second request for the same boot adopts it. */
  bootId: 'hecate.dev/boot-id',
} as const;
/** The value of {@link HELPER_LABELS}.managedBy on everything Hecate creates in the cluster. */
export const MANAGED_BY = 'hecate';

/** Kubernetes object names (RFC 1123 subdomain). */
export const dnsSubdomain = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    message: 'expected a lowercase RFC 1123 name (a-z, 0-9, "-" and ".")',
  });

/** Namespace and label-value style names (RFC 1123 label). */
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'expected a lowercase RFC 1123 label (a-z, 0-9 and "-")' });

/**
 * A duration in Go/Flux notation ("30s", "5m", "1h30m"). Parsed with {@link parseDuration}.
 * NOTE: kept as a string in the API so that YAML reads like Flux's own `interval`/`timeout` fields.
 */
export const duration = z
  .string()
  .regex(/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/, { message: 'expected a duration such as "90s", "5m" or "1h30m"' });

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** Converts a validated duration string to milliseconds. */
export function parseDuration(value: string): number {
  let total = 0;
  for (const match of value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 0);
  }
  return Math.round(total);
}

/** RFC 3339 timestamps as Kubernetes writes them. */
export const timestamp = z.string().datetime({ offset: true });

/** The metadata fields Hecate reads; the API server owns the rest. */
export const objectMeta = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
});

/** A reference to a namespaced object of a given kind. */
export const objectRef = z.strictObject({
  kind: z.string().min(1),
  name: dnsSubdomain,
  namespace: dnsLabel.optional(),
});
export type ObjectRef = z.infer<typeof objectRef>;

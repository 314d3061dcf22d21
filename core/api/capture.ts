/**
 * A drill capture: what a power event depends on, read (only read) from a live cluster by `hecate drill capture`, in
 * one validated file that a rehearsal replays on the local bed. Objects keep their kind, identity, labels,
 * annotations, owners, spec and status; the server's bookkeeping (uid, resourceVersion, managedFields...) is left
 * out. Secrets and ConfigMaps are never read: the capture names only those the pods refer to.
 */
import { z } from 'zod';
import { API_VERSION, timestamp } from './meta.js';

export const CAPTURE_KIND = 'DrillCapture';

/** The kinds a capture holds, in the order a replay creates them; `group` empty for the core API. */
export const CAPTURED_KINDS = [
  {
    kind: 'CustomResourceDefinition',
    group: 'apiextensions.k8s.io',
    version: 'v1',
    plural: 'customresourcedefinitions',
    namespaced: false,
  },
  { kind: 'StorageClass', group: 'storage.k8s.io', version: 'v1', plural: 'storageclasses', namespaced: false },
  { kind: 'Node', group: '', version: 'v1', plural: 'nodes', namespaced: false },
  { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', namespaced: false },
  { kind: 'PersistentVolume', group: '', version: 'v1', plural: 'persistentvolumes', namespaced: false },
  { kind: 'PersistentVolumeClaim', group: '', version: 'v1', plural: 'persistentvolumeclaims', namespaced: true },
  { kind: 'Deployment', group: 'apps', version: 'v1', plural: 'deployments', namespaced: true },
  { kind: 'StatefulSet', group: 'apps', version: 'v1', plural: 'statefulsets', namespaced: true },
  { kind: 'DaemonSet', group: 'apps', version: 'v1', plural: 'daemonsets', namespaced: true },
  { kind: 'ReplicaSet', group: 'apps', version: 'v1', plural: 'replicasets', namespaced: true },
  { kind: 'Job', group: 'batch', version: 'v1', plural: 'jobs', namespaced: true },
  { kind: 'Pod', group: '', version: 'v1', plural: 'pods', namespaced: true },
  { kind: 'PodDisruptionBudget', group: 'policy', version: 'v1', plural: 'poddisruptionbudgets', namespaced: true },
  {
    kind: 'GitRepository',
    group: 'source.toolkit.fluxcd.io',
    version: 'v1',
    plural: 'gitrepositories',
    namespaced: true,
  },
  {
    kind: 'OCIRepository',
    group: 'source.toolkit.fluxcd.io',
    version: 'v1',
    plural: 'ocirepositories',
    namespaced: true,
  },
  {
    kind: 'HelmRepository',
    group: 'source.toolkit.fluxcd.io',
    version: 'v1',
    plural: 'helmrepositories',
    namespaced: true,
  },
  {
    kind: 'Kustomization',
    group: 'kustomize.toolkit.fluxcd.io',
    version: 'v1',
    plural: 'kustomizations',
    namespaced: true,
  },
  { kind: 'HelmRelease', group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases', namespaced: true },
  { kind: 'Volume', group: 'longhorn.io', version: 'v1beta2', plural: 'volumes', namespaced: true },
  { kind: 'Replica', group: 'longhorn.io', version: 'v1beta2', plural: 'replicas', namespaced: true },
  { kind: 'PowerPlan', group: 'power.hecate.dev', version: 'v1alpha1', plural: 'powerplans', namespaced: false },
  { kind: 'PowerEvent', group: 'power.hecate.dev', version: 'v1alpha1', plural: 'powerevents', namespaced: true },
] as const;

export type CapturedKind = (typeof CAPTURED_KINDS)[number]['kind'];

/** The CRDs a capture keeps: those of the captured custom kinds (Flux, Longhorn, Hecate), nothing else. */
export const CAPTURED_CRD_GROUPS: readonly string[] = [
  'source.toolkit.fluxcd.io',
  'kustomize.toolkit.fluxcd.io',
  'helm.toolkit.fluxcd.io',
  'longhorn.io',
  'power.hecate.dev',
];

const metadata = z.strictObject({
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  ownerReferences: z
    .array(
      z.strictObject({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        controller: z.boolean().optional(),
      }),
    )
    .optional(),
  finalizers: z.array(z.string()).optional(),
});

export const capturedObject = z.strictObject({
  apiVersion: z.string().min(1),
  kind: z.enum(CAPTURED_KINDS.map((k) => k.kind) as [CapturedKind, ...CapturedKind[]]),
  metadata,
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});
export type CapturedObject = z.infer<typeof capturedObject>;

export const drillCapture = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(CAPTURE_KIND),
  metadata: z.strictObject({
    capturedAt: timestamp,
    /** The API server's address, or `redacted`. */
    server: z.string().min(1),
    /** `--redact`: namespaces, nodes and objects renamed consistently; the original names are nowhere in the file. */
    redacted: z.boolean(),
  }),
  objects: z.array(capturedObject),
  /** Secrets and ConfigMaps the pods refer to, by `namespace/name`: names only, never read. */
  referenced: z.strictObject({ secrets: z.array(z.string()), configMaps: z.array(z.string()) }),
});
export type DrillCapture = z.infer<typeof drillCapture>;

/**
 * The Kubernetes kinds Hecate waits for or drafts waits on, in one table: the API version a plan's `waitFor` leaves
 * out (it names only kind, namespace and name), which are workloads (their pods are read: readiness, Vault's seal,
 * pod problems), which Flux health-checks under a Kustomization's `wait: true`, and which a drafted plan waits on.
 * A kind missing here is looked up through discovery and only needs to exist.
 */
interface KindFacts {
  apiVersion: string;
  /** Controls pods that readiness reads (Deployment, StatefulSet, DaemonSet). */
  workload?: boolean;
  /** Flux health-checks it under `spec.wait: true` (kstatus knows it). */
  fluxHealth?: boolean;
  /** `hecate analyze` drafts a chain stage's `waitFor` on it. */
  drafted?: boolean;
}

export const KINDS: Readonly<Record<string, KindFacts>> = {
  Deployment: { apiVersion: 'apps/v1', workload: true, fluxHealth: true, drafted: true },
  StatefulSet: { apiVersion: 'apps/v1', workload: true, fluxHealth: true, drafted: true },
  DaemonSet: { apiVersion: 'apps/v1', workload: true, fluxHealth: true, drafted: true },
  ReplicaSet: { apiVersion: 'apps/v1' },
  Job: { apiVersion: 'batch/v1', fluxHealth: true },
  Pod: { apiVersion: 'v1' },
  Service: { apiVersion: 'v1' },
  ConfigMap: { apiVersion: 'v1' },
  Secret: { apiVersion: 'v1' },
  PersistentVolumeClaim: { apiVersion: 'v1' },
  Namespace: { apiVersion: 'v1' },
  HelmRelease: { apiVersion: 'helm.toolkit.fluxcd.io/v2', fluxHealth: true, drafted: true },
  Kustomization: { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', fluxHealth: true },
  GitRepository: { apiVersion: 'source.toolkit.fluxcd.io/v1' },
  OCIRepository: { apiVersion: 'source.toolkit.fluxcd.io/v1' },
  HelmRepository: { apiVersion: 'source.toolkit.fluxcd.io/v1' },
  CustomResourceDefinition: { apiVersion: 'apiextensions.k8s.io/v1' },
  CephCluster: { apiVersion: 'ceph.rook.io/v1', drafted: true },
};

const kindsWhere = (fact: keyof Omit<KindFacts, 'apiVersion'>): ReadonlySet<string> =>
  new Set(Object.entries(KINDS).flatMap(([kind, facts]) => (facts[fact] ? [kind] : [])));

export const WORKLOAD_KINDS = kindsWhere('workload');
export const FLUX_HEALTH_KINDS = kindsWhere('fluxHealth');
export const DRAFTED_WAIT_KINDS = kindsWhere('drafted');

/** The API version of a kind in the table; undefined for others (discovery finds them). */
export function apiVersionOf(kind: string): string | undefined {
  return KINDS[kind]?.apiVersion;
}

/**
 * Ports of the local bootstrap chain. The chain builds a stage's manifests from the
 * repo snapshot, applies them, and waits for what the stage names (and what its Flux Kustomization health-checks)
 * to be Ready.
 */
import type { ChangeFeed } from './cluster.js';

/** A Kubernetes object as plain JSON, the way kustomize prints it and the API server reads it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** What an object is, for messages, the apply report and readiness checks. */
export interface ObjectKey {
  kind: string;
  name: string;
  namespace?: string;
  /** Absent when the plan names only the kind (waitFor); the adapter resolves it. */
  apiVersion?: string;
}

/** One object the API server accepted. */
export interface AppliedRef extends ObjectKey {
  apiVersion: string;
  /**
   * created: it did not exist; configured: it existed (the apply may or may not have changed it); skipped: a
   * dry-run could not send it (its CRD is in the same batch and not installed yet).
   */
  result: 'created' | 'configured' | 'skipped';
}

/**
 * Flux post-build substitution, as the Kustomization defines it. `vars` are already merged (inline `substitute`
 * over `substituteFrom`, later sources over earlier ones). NOTE: Flux substitutes only when the Kustomization
 * declares at least one variable or source; without this argument nothing is substituted and `${VAR}` stays as is.
 */
export interface Substitutions {
  vars: Readonly<Record<string, string>>;
  /**
   * Fail on `${VAR}` without a default when VAR is undefined, instead of substituting an empty string: what Flux
   * does with the controller flag `--feature-gates=StrictPostBuildSubstitutions=true` (and `flux envsubst --strict`).
   * Off by default, as in Flux; the chain executor's `strictSubstitution` option turns it on.
   */
  strict?: boolean;
}

export interface ManifestPort {
  /**
   * The objects `kustomize build <dir>` produces (a folder without a kustomization file stands for every manifest
   * in it, as Flux generates one), as written: Flux's post-build substitution is the engine's
   * (core/steps/chain-substitute.ts).
   */
  build(dir: string): Promise<KubeObject[]>;
  /**
   * Server-side apply, field manager `hecate`, conflicts forced: CustomResourceDefinitions first (waited until
   * Established), then Namespaces, then the rest in their order. Returns what the server accepted, in order.
   */
  apply(objects: readonly KubeObject[], options: { dryRun: boolean; signal?: AbortSignal }): Promise<AppliedRef[]>;
}

export interface Readiness {
  ready: boolean;
  /** "StatefulSet vault/vault 0/1 ready", "HelmRelease traefik/traefik not Ready: InstallFailed: ...", "not found". */
  message: string;
  /** Pods of this workload that report Vault sealed (label `vault-sealed=true`); they need `vault operator unseal`. */
  sealed?: string[];
  /** The object is a Flux object with `spec.suspend: true`: nothing reconciles it until it is resumed. */
  suspended?: boolean;
  /** The object does not exist. */
  missing?: boolean;
}

/** An object a chain stage waits for, as the API returns it, with the pods of a workload (Vault's seal signal). */
export interface ObservedReadiness {
  object: ObservedObject;
  /** For Deployments, StatefulSets and DaemonSets: the pods their selector matches; else empty. */
  pods: ObservedPod[];
}

/** Reads the objects a chain stage waits for; core/steps/readiness.ts decides whether they are Ready. */
export interface ReadinessPort {
  /** The object and, for a workload, its pods; undefined when it does not exist. */
  observe(ref: ObjectKey): Promise<ObservedReadiness | undefined>;
  /**
   * Why an object is not Ready, for the report when a stage gives up: its failing conditions, and for workloads
   * their pods' (Unschedulable and its message, ImagePullBackOff, CrashLoopBackOff...) and recent Warning events.
   */
  explain?(ref: ObjectKey): Promise<string[]>;
  /** A feed of changes to these objects, when the adapter can watch: the stage's wait looks again on each event. */
  watch?(refs: readonly ObjectKey[]): Promise<ChangeFeed>;
}

/** The JSON fields readiness looks at; everything is optional because the API may not have filled it yet. */
export interface ObservedObject {
  metadata?: {
    name?: string;
    namespace?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: { replicas?: number; suspend?: boolean };
  status?: {
    observedGeneration?: number;
    lastHandledReconcileAt?: string;
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    desiredNumberScheduled?: number;
    numberReady?: number;
    updatedNumberScheduled?: number;
    conditions?: { type?: string; status?: string; reason?: string; message?: string; observedGeneration?: number }[];
  };
}

/** A pod as far as the Vault seal signal goes. */
export interface ObservedPod {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  status?: { phase?: string };
}

/** A `substituteFrom` entry of a Flux Kustomization. */
export interface SubstituteFrom {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  optional?: boolean;
}

/** What the chain needs of a Flux Kustomization (kustomize.toolkit.fluxcd.io/v1). */
export interface FluxKustomizationView {
  namespace: string;
  name: string;
  /** `spec.path`, relative to the source root. */
  path?: string;
  postBuild?: { substitute?: Record<string, string>; substituteFrom?: SubstituteFrom[] };
  healthChecks?: ObjectKey[];
  /** `spec.wait`: every applied object is health-checked (healthChecks are then ignored). */
  wait?: boolean;
  /** Fields whose effect Flux has and Hecate does not replicate (targetNamespace, patches...), for a warning. */
  unsupported?: string[];
  /** Where it was read: a file of the snapshot, or "the cluster". */
  from: string;
}

export interface FluxKustomizationPort {
  /** The Kustomization as the snapshot (first) or the cluster declares it; undefined when neither has it. */
  kustomization(namespace: string, name: string): Promise<FluxKustomizationView | undefined>;
  /**
   * The data of a substituteFrom ConfigMap or Secret (Secret values decoded), or undefined when it does not exist.
   * NOTE: Secret values are never logged or reported; only their keys may be.
   */
  substitutionData(namespace: string, from: SubstituteFrom): Promise<Record<string, string> | undefined>;
}

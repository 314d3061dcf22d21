/** The draft PowerPlan's model: what drafting reads, and what it produces for a person to finish. */
import type { DraftNodes } from '../ports/analyze.js';
import type { DerivedChain } from './chain.js';
import type { DeployIndex } from './deploy.js';
import type { GitDeadlock, RegistryFinding } from './findings.js';
import type { FluxKustomization, FluxSource, HelmReleaseInfo } from './model.js';
import type { StorageUse } from './storage.js';
import type { Variables } from './vars.js';

export interface DraftInput {
  name: string;
  cluster: string;
  chain: DerivedChain;
  git: readonly GitDeadlock[];
  registry?: RegistryFinding;
  /** The source the cluster's root applies from, when the repo (or flux-operator's sync) defines it. */
  repoSource?: FluxSource;
  rootKustomization?: FluxKustomization;
  kustomizations: readonly FluxKustomization[];
  helmReleases: readonly HelmReleaseInfo[];
  index: DeployIndex;
  storage: readonly StorageUse[];
  vars: Variables;
  nodes?: DraftNodes;
}

/** A field left empty for a person to fill: its path in the plan and what to put there. */
export interface DraftTodo {
  path: (string | number)[];
  what: string;
}

export interface DraftPlan {
  /** The plan; a TODO field holds null. Fields the schema defaults are left out unless the repo decides them. */
  plan: { apiVersion: string; kind: 'PowerPlan'; metadata: { name: string }; spec: Record<string, unknown> };
  todos: DraftTodo[];
  review: string[];
}

/** A draft being built: what it reads, and the TODOs and review points it collects. */
export interface Draft {
  input: DraftInput;
  todos: DraftTodo[];
  review: string[];
}

/** What the analysis finds: the two bootstrap deadlocks, and the questions the repo leaves open. */
import type { HostFact, PullFact } from './facts.js';
import type { Location } from './input.js';
import type { ObjectId } from './model.js';

/** A Flux source served by a workload that Flux applies from that same source (deadlock 1). */
export interface GitDeadlock {
  type: 'git-source';
  source: ObjectId & Location & { url: string; host: string; branch?: string };
  /** The objects that serve the host, all applied by `kustomization`. */
  servedBy: HostFact[];
  kustomization: string;
  /** Human-readable chain of objects, from the source around to itself. */
  links: string[];
}

/** A registry the repo deploys, and who pulls from it; a deadlock when the registry or its dependencies do. */
export interface RegistryFinding {
  type: 'registry';
  host: string;
  servedBy: HostFact[];
  kustomization: string;
  pulls: PullFact[];
  /** Pulls by the registry's own Kustomization or one it needs (transitively): these cannot start without it. */
  selfPulls: PullFact[];
  deadlock: boolean;
  links: string[];
}

/** A question the analysis could not answer from the repo, with why. */
export interface Undecided {
  subject: string;
  reason: string;
  /** Which verdict it leaves open: deadlock 1 (`git`), deadlock 2 (`registry`), or neither. */
  about?: 'git' | 'registry' | 'chain' | 'graph' | 'repo';
}

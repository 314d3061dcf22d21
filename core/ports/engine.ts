/** Every port the executors use, as one bundle: what a front door hands core/steps/executors.ts. */

import type { FluxKustomizationPort, ManifestPort, ReadinessPort } from './chain.js';
import type { ApiPort, FluxPort, NodePort, OutageSourcePort, PodPort, StoragePort } from './cluster.js';
import type { NodeAccessPort, PowerControlPort } from './node-access.js';
import type { BundleFilesPort, PreflightPort, RepoReader, SnapshotPort } from './prepare.js';
import type { Clock } from './runtime.js';
import type { ImagePresencePort, ImageSeedPort } from './seed.js';
import type { UpsPort } from './ups.js';

/** The world as the executors see it: one port per effect or observation. */
export interface EnginePorts {
  clock: Clock;
  api: ApiPort;
  nodes: NodePort;
  pods: PodPort;
  flux: FluxPort;
  storage: StoragePort;
  power: PowerControlPort;
  nodeAccess: NodeAccessPort;
  snapshot: SnapshotPort;
  readRepo: RepoReader;
  bundleFiles: BundleFilesPort;
  preflight: PreflightPort;
  outageSource: OutageSourcePort;
  manifests: ManifestPort;
  readiness: ReadinessPort;
  kustomizations: FluxKustomizationPort;
  seed: ImageSeedPort;
  imagePresence: ImagePresencePort;
  /** Absent when the plan has no UPS. */
  ups?: UpsPort;
}

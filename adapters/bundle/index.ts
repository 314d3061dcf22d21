/**
 * The Harbor bundle on the control host (build) and on the Harbor node (seed transports), and how a PowerPlan
 * chooses the transport: SSH when `spec.powerOff.method` is `ssh`, else a helper pod driven with `kubectl exec -i`.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { PowerPlanSpec } from '../../core/api/index.js';
import type { ImagePresencePort, ImageSeedPort } from '../../core/ports/seed.js';
import { HelperPodImageSeed, type HelperPodSeedOptions } from './seed-helper-pod.js';
import { SshImageSeed, type SshSeedOptions } from './seed-ssh.js';

export * from './archive.js';
export * from './build.js';
export * from './layout.js';
export * from './node-script.js';
export * from './presence-kube.js';
export * from './seed-helper-pod.js';
export * from './seed-ssh.js';
export * from './stream.js';

export interface SeedOverrides {
  ssh?: Partial<SshSeedOptions>;
  helperPod?: Partial<HelperPodSeedOptions>;
}

/** The seed transport for the plan; both also answer which images the node has. */
export function imageSeedFor(
  spec: PowerPlanSpec,
  kc: KubeConfig,
  overrides: SeedOverrides = {},
): ImageSeedPort & ImagePresencePort {
  if (spec.powerOff.method === 'ssh') {
    const { sshUser, sshKeyFile } = spec.powerOff;
    return new SshImageSeed({ user: sshUser, ...(sshKeyFile ? { keyFile: sshKeyFile } : {}), ...overrides.ssh });
  }
  return new HelperPodImageSeed(kc, { helperImage: spec.helperImage, ...overrides.helperPod });
}

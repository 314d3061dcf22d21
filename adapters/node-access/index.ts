/**
 * The node-access transports and how a PowerPlan chooses between them: `helper-pod` (default) or `ssh`. Method
 * `none` needs no transport: the power-off executor asks a person and waits.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { PowerPlanSpec } from '../../core/api/index.js';
import type { NodeAccessPort } from '../../core/ports.js';
import { HelperPodAccess, type HelperPodOptions } from './helper-pod.js';
import { SshNodeAccess, type SshOptions } from './ssh.js';

export * from './helper-pod.js';
export * from './helper-pod-spec.js';
export * from './helper-pod-status.js';
export * from './power-off-script.js';
export * from './ssh.js';

export interface NodeAccessOverrides {
  helperPod?: Partial<HelperPodOptions>;
  ssh?: Partial<SshOptions>;
}

/**
 * The transport for `spec.powerOff.method`; for `none`, the helper-pod transport (image pre-pull still needs one).
 * NOTE: the image pre-pull always goes through helper pods when the API is up; pass `ssh` explicitly to pull over SSH.
 */
export function nodeAccessFor(
  spec: PowerPlanSpec,
  kc: KubeConfig,
  overrides: NodeAccessOverrides = {},
): NodeAccessPort {
  if (spec.powerOff.method === 'ssh') {
    const { sshUser, sshKeyFile } = spec.powerOff;
    return new SshNodeAccess({ user: sshUser, ...(sshKeyFile ? { keyFile: sshKeyFile } : {}), ...overrides.ssh });
  }
  return new HelperPodAccess(kc, { helperImage: spec.helperImage, ...overrides.helperPod });
}

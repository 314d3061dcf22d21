/**
 * The node-access transports and how a PowerPlan chooses between them: `helper-pod` (default) or `ssh`. Method
 * `none` needs no transport: the power-off executor asks a person and waits.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { PowerPlanSpec } from '../../core/api/index.js';
import type { NodeAccessPort, PowerControlPort } from '../../core/ports/index.js';
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
 * The transport that powers nodes off for `spec.powerOff.method`: `ssh`, else helper pods. With `none` the power-off
 * executor asks a person and never calls it.
 */
export function powerControlFor(
  spec: PowerPlanSpec,
  kc: KubeConfig,
  overrides: NodeAccessOverrides = {},
): PowerControlPort {
  return transportFor(spec, kc, overrides);
}

/**
 * The transport for work on a node's host (the image pre-pull). NOTE: the PowerPlan has no field of its own for it:
 * SSH when `spec.powerOff.method` is `ssh` (a cluster that forbids privileged pods), else helper pods.
 */
export function nodeAccessFor(
  spec: PowerPlanSpec,
  kc: KubeConfig,
  overrides: NodeAccessOverrides = {},
): NodeAccessPort {
  return transportFor(spec, kc, overrides);
}

function transportFor(
  spec: PowerPlanSpec,
  kc: KubeConfig,
  overrides: NodeAccessOverrides,
): HelperPodAccess | SshNodeAccess {
  if (spec.powerOff.method === 'ssh') {
    const { sshUser, sshKeyFile } = spec.powerOff;
    return new SshNodeAccess({ user: sshUser, ...(sshKeyFile ? { keyFile: sshKeyFile } : {}), ...overrides.ssh });
  }
  return new HelperPodAccess(kc, { helperImage: spec.helperImage, ...overrides.helperPod });
}

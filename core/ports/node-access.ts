import type { MutationOptions } from './cluster.js';

/** A node as the power and image ports address it. */
export interface NodeAddress {
  name: string;
  /** Host or IP for SSH; defaults to the name. */
  address?: string;
  /**
   * The boot a power-off is meant for (the kubelet's bootID, the host's /proc/sys/kernel/random/boot_id). A host that
   * has booted since ignores the request: one that arrives late never powers off a node that has come back.
   */
  bootId?: string;
}

/**
 * Powers a node off. Kept apart from {@link NodeAccessPort}: what can cut a node's power (the host itself through a
 * helper pod or SSH today; a BMC over IPMI or Redfish, a switched PDU) is not always something that can run work on
 * the host.
 */
export interface PowerControlPort {
  /**
   * Asks the host to power off (on k3s hosts the k3s service and its containers are stopped first). Resolves once
   * the request was delivered; the host may already be going down.
   */
  powerOff(node: NodeAddress, command: readonly string[], options?: MutationOptions): Promise<void>;
}

/**
 * Work on a node's host (an image made present in its container runtime): through a privileged helper pod (hostPID,
 * nsenter into PID 1) or over SSH. Both transports implement it, and {@link PowerControlPort} too.
 */
export interface NodeAccessPort {
  /** Makes sure `image` is present in the node's container runtime. */
  ensureImage(
    node: NodeAddress,
    image: string,
    options?: MutationOptions,
  ): Promise<{ present: boolean; message?: string }>;
}

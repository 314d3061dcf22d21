/**
 * Ports of the Harbor seed: the node's container runtime, reached over SSH or through a helper pod.
 */
import type { NodeAddress } from './node-access.js';

/** An image in containerd's `k8s.io` namespace on a node. */
export interface NodeImage {
  /** Full reference, such as docker.io/goharbor/harbor-core:v2.14.1. */
  reference: string;
  /** The image's target digest, as `ctr images ls` shows it. */
  digest: string;
}

export interface ImportOptions {
  /** `os/arch`, given to the importer explicitly: containerd filters out other platforms silently otherwise. */
  platform: string;
  /** Bytes of the bundle, for progress. */
  totalBytes?: number;
  /**
   * Hex sha256 the streamed bytes must have. The bundle was verified before; the transport hashes what it really
   * sent, so a file changed in between is reported instead of trusted.
   */
  sha256?: string;
  /** Called as bytes leave the control host (the count so far). */
  onProgress?(sent: number): void;
  signal?: AbortSignal;
}

export interface ImportResult {
  /** Bytes streamed to the node. */
  sent: number;
  /** What the importer printed, for the report. */
  output: string;
}

/** Thrown by transports; the message says where the stream stopped and what the node said. */
export class SeedTransportError extends Error {
  override readonly name = 'SeedTransportError';
  constructor(
    message: string,
    readonly sent: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Streams a zstd-compressed OCI archive into a node's containerd and lists its images. */
export interface ImageSeedPort {
  /**
   * Streams the bundle at `bundlePath` (on the control host) to the node, where it is decompressed and imported
   * into containerd's `k8s.io` namespace for `options.platform`. Memory stays bounded whatever the bundle's size.
   * Rejects with {@link SeedTransportError} when the transport, the decompression or the import fails.
   * NOTE: an import that exits 0 may still have imported nothing; callers list the images afterwards.
   */
  importBundle(node: NodeAddress, bundlePath: string, options: ImportOptions): Promise<ImportResult>;
  /** Images in containerd's `k8s.io` namespace on the node. */
  listImages(node: NodeAddress, signal?: AbortSignal): Promise<NodeImage[]>;
}

/**
 * Which images a node already has, read without touching the node where possible (the kubelet's status.images);
 * undefined when it cannot tell (the API is down, the node unknown). Implemented by the seed transport too.
 */
export interface ImagePresencePort {
  imagesOn(node: NodeAddress, signal?: AbortSignal): Promise<NodeImage[] | undefined>;
}

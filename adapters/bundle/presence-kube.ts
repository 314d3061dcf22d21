/**
 * Which images a node has, from the kubelet's report in the Node's status.images: read through the API, without
 * touching the node. Used by seed-harbor's `check`; the import itself is verified with `ctr images ls`.
 * NOTE: the kubelet reports at most 50 images (the largest first) and refreshes the list every few seconds.
 */
import { CoreV1Api, type KubeConfig, type V1ContainerImage } from '@kubernetes/client-node';
import type { NodeAddress } from '../../core/ports/index.js';
import type { ImagePresencePort, NodeImage } from '../../core/ports/seed.js';

/**
 * Pairs each tag name of an entry with each digest name of the same repository (`repo:tag` + `repo@sha256:…`), as
 * the CRI reports an image's RepoTags and RepoDigests. Pure.
 */
export function imagesFromNodeStatus(images: readonly V1ContainerImage[]): NodeImage[] {
  const found: NodeImage[] = [];
  for (const entry of images) {
    const names = entry.names ?? [];
    const digests = names.filter((n) => n.includes('@'));
    for (const tag of names.filter((n) => !n.includes('@'))) {
      const repository = tag.slice(0, tag.lastIndexOf(':') > tag.lastIndexOf('/') ? tag.lastIndexOf(':') : tag.length);
      for (const d of digests) {
        const [repo, digest] = d.split('@');
        if (repo === repository && digest) found.push({ reference: tag, digest });
      }
    }
  }
  return found;
}

export class KubeImagePresence implements ImagePresencePort {
  private readonly core: CoreV1Api;
  constructor(kc: KubeConfig) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Undefined when the API cannot say (down, node unknown): the caller then does the work. */
  async imagesOn(node: NodeAddress): Promise<NodeImage[] | undefined> {
    try {
      const object = await this.core.readNode({ name: node.name });
      return imagesFromNodeStatus(object.status?.images ?? []);
    } catch {
      return undefined;
    }
  }
}

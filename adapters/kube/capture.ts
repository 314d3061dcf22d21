/**
 * Reads (only reads) what a drill capture holds: one paged list per captured kind, cluster-wide. Never a Secret or a
 * ConfigMap: the capture names those the pods refer to (core/drill/capture.ts). A kind the server does not serve
 * (Longhorn absent, say) is reported and left out.
 */
import { HttpMethod, type KubeConfig } from '@kubernetes/client-node';
import { CAPTURED_KINDS, type CapturedKind } from '../../core/api/index.js';
import { ObjectClient } from './apply.js';
import { isNotFound } from './errors.js';

const PAGE = '500';

export interface CapturedList {
  kind: CapturedKind;
  apiVersion: string;
  /** The objects as the API returned them; empty when the kind is not served. */
  items: unknown[];
  /** Set when the server does not serve the kind (404). */
  notServed?: boolean;
}

/** Every captured kind, in {@link CAPTURED_KINDS} order; `onList` hears about each as it is read. */
export async function readCapturedKinds(
  kc: KubeConfig,
  onList: (list: CapturedList) => void = () => undefined,
): Promise<CapturedList[]> {
  const client = ObjectClient.for(kc);
  const out: CapturedList[] = [];
  for (const k of CAPTURED_KINDS) {
    const apiVersion = k.group ? `${k.group}/${k.version}` : k.version;
    const base = k.group ? `/apis/${k.group}/${k.version}/${k.plural}` : `/api/${k.version}/${k.plural}`;
    const items: unknown[] = [];
    let next: string | undefined;
    let notServed = false;
    do {
      let body: Record<string, unknown>;
      try {
        const query = { limit: PAGE, ...(next ? { continue: next } : {}) };
        body = (await client.request(HttpMethod.GET, base, { query })).body as Record<string, unknown>;
      } catch (error) {
        if (!isNotFound(error))
          throw new Error(`cannot list ${k.plural} (${apiVersion}): ${(error as Error).message}`, { cause: error });
        notServed = true;
        break;
      }
      items.push(...(Array.isArray(body.items) ? body.items : []));
      const meta = body.metadata as { continue?: string } | undefined;
      next = meta?.continue || undefined;
    } while (next);
    const list: CapturedList = { kind: k.kind, apiVersion, items, ...(notServed ? { notServed: true } : {}) };
    onList(list);
    out.push(list);
  }
  return out;
}

/**
 * The chain's ReadinessPort on the API server, and its FluxKustomizationPort for what only the cluster knows
 * (a Kustomization missing from the snapshot, substituteFrom ConfigMaps and Secrets).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { KINDS, WORKLOAD_KINDS } from '../../core/api/kinds.js';
import type {
  FluxKustomizationPort,
  FluxKustomizationView,
  ObjectKey,
  ObservedObject,
  ObservedPod,
  ObservedReadiness,
  ReadinessPort,
  SubstituteFrom,
} from '../../core/ports/chain.js';
import type { ChangeFeed } from '../../core/ports/index.js';
import { toKustomizationView } from '../flux-kustomization.js';
import { ObjectClient } from './apply.js';
import { objectWatch, watchFeed } from './watch-feed.js';

interface Workload extends ObservedObject {
  spec?: ObservedObject['spec'] & { selector?: { matchLabels?: Record<string, string> } };
}

interface PodJson extends ObservedPod {
  status?: {
    phase?: string;
    conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
    containerStatuses?: { name?: string; state?: { waiting?: { reason?: string; message?: string } } }[];
  };
}

export class KubeReadiness implements ReadinessPort {
  private readonly client: ObjectClient;
  private readonly versions = new Map<string, string>(Object.entries(KINDS).map(([k, f]) => [k, f.apiVersion]));

  constructor(private readonly kc: KubeConfig) {
    this.client = ObjectClient.for(kc);
  }

  async observe(ref: ObjectKey): Promise<ObservedReadiness | undefined> {
    const object = await this.read(ref);
    if (!object) return undefined;
    const pods = WORKLOAD_KINDS.has(ref.kind) ? await this.pods(ref, object as Workload) : [];
    return { object, pods };
  }

  async explain(ref: ObjectKey): Promise<string[]> {
    const object = await this.read(ref);
    if (!object) return [];
    const lines = (object.status?.conditions ?? [])
      .filter((c) => (c.type === 'Ready' || c.type === 'Available' ? c.status !== 'True' : c.status === 'False'))
      .map(
        (c) => `condition ${c.type}=${c.status}${c.reason ? ` ${c.reason}` : ''}${c.message ? `: ${c.message}` : ''}`,
      );
    if (WORKLOAD_KINDS.has(ref.kind)) {
      for (const pod of (await this.pods(ref, object as Workload)) as PodJson[]) lines.push(...podProblems(pod));
    }
    lines.push(...(await this.warnings(ref)));
    return lines;
  }

  /** Each object by name: a stage's wait looks again when one of them changes (its status, or it appears). */
  async watch(refs: readonly ObjectKey[]): Promise<ChangeFeed> {
    return watchFeed(this.kc, await Promise.all(refs.map(async (ref) => objectWatch(await this.pathOf(ref)))));
  }

  private async read(ref: ObjectKey): Promise<ObservedObject | undefined> {
    return (await this.client.get(await this.pathOf(ref))) as ObservedObject | undefined;
  }

  private async pathOf(ref: ObjectKey): Promise<string> {
    const apiVersion = ref.apiVersion ?? (await this.versionOf(ref.kind));
    return this.client.pathOf({
      apiVersion,
      kind: ref.kind,
      metadata: { name: ref.name, ...(ref.namespace ? { namespace: ref.namespace } : {}) },
    });
  }

  /** The preferred version of a kind no table names: the first group in discovery that serves it. */
  private async versionOf(kind: string): Promise<string> {
    const known = this.versions.get(kind);
    if (known) return known;
    const groups = ((await this.client.get('/apis')) as { groups?: { preferredVersion?: { groupVersion?: string } }[] })
      ?.groups;
    for (const groupVersion of (groups ?? []).map((g) => g.preferredVersion?.groupVersion).filter(Boolean)) {
      const list = (await this.client.get(`/apis/${groupVersion}`)) as { resources?: { kind?: string }[] } | undefined;
      if (list?.resources?.some((r) => r.kind === kind)) {
        this.versions.set(kind, groupVersion as string);
        return groupVersion as string;
      }
    }
    throw new Error(`no API serves the kind ${kind} (is its CRD installed?)`);
  }

  private async pods(ref: ObjectKey, workload: Workload): Promise<PodJson[]> {
    const labels = workload.spec?.selector?.matchLabels;
    if (!labels || Object.keys(labels).length === 0 || !ref.namespace) return [];
    const selector = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const path = `/api/v1/namespaces/${ref.namespace}/pods?labelSelector=${encodeURIComponent(selector)}`;
    return (((await this.client.get(path)) as { items?: PodJson[] } | undefined)?.items ?? []) as PodJson[];
  }

  private async warnings(ref: ObjectKey): Promise<string[]> {
    if (!ref.namespace) return [];
    const selector = encodeURIComponent(`involvedObject.name=${ref.name},involvedObject.kind=${ref.kind},type=Warning`);
    const list = (await this.client.get(`/api/v1/namespaces/${ref.namespace}/events?fieldSelector=${selector}`)) as
      | { items?: { reason?: string; message?: string; count?: number }[] }
      | undefined;
    return (list?.items ?? []).slice(-3).map((e) => `event ${e.reason ?? 'Warning'}: ${e.message ?? ''}`);
  }
}

/** Why a pod is not Ready: unscheduled, or containers waiting (image pulls, crash loops). */
export function podProblems(pod: PodJson): string[] {
  const name = pod.metadata?.name ?? '?';
  const conditions = pod.status?.conditions ?? [];
  const unscheduled = conditions.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) return [`pod ${name}: ${unscheduled.reason ?? 'Unschedulable'}: ${unscheduled.message ?? ''}`];
  const waiting = (pod.status?.containerStatuses ?? []).flatMap((c) =>
    c.state?.waiting?.reason
      ? [
          `pod ${name}: container ${c.name} ${c.state.waiting.reason}${c.state.waiting.message ? `: ${c.state.waiting.message}` : ''}`,
        ]
      : [],
  );
  if (waiting.length > 0) return waiting;
  const ready = conditions.find((c) => c.type === 'Ready');
  if (ready?.status === 'True') return [];
  return [`pod ${name}: ${pod.status?.phase ?? 'Pending'}${ready?.reason ? ` (${ready.reason})` : ''}`];
}

/** The cluster half of FluxKustomizationPort (the snapshot half is adapters/kustomize.ts). */
export class KubeKustomizations implements FluxKustomizationPort {
  private readonly client: ObjectClient;

  constructor(kc: KubeConfig) {
    this.client = ObjectClient.for(kc);
  }

  async kustomization(namespace: string, name: string): Promise<FluxKustomizationView | undefined> {
    const path = `/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/${namespace}/kustomizations/${name}`;
    const doc = await this.client.get(path); // undefined after a 404, also when the Flux CRDs are not installed
    return doc ? toKustomizationView(doc, 'the cluster', namespace) : undefined;
  }

  /** NOTE: Secret values are decoded here and go nowhere but the substitution; never log them. */
  async substitutionData(namespace: string, from: SubstituteFrom): Promise<Record<string, string> | undefined> {
    const plural = from.kind === 'Secret' ? 'secrets' : 'configmaps';
    const doc = (await this.client.get(`/api/v1/namespaces/${namespace}/${plural}/${from.name}`)) as
      | { data?: Record<string, string> }
      | undefined;
    if (!doc) return undefined;
    const data = doc.data ?? {};
    if (from.kind === 'ConfigMap') return { ...data };
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }
}

/**
 * What the cluster says now, for `hecate status`: nodes with their images, Flux, each chain stage's waitFor
 * objects, Harbor's pods and the PowerEvents. Read-only and bounded in time; never throws for what it observes.
 *
 * NOTE: reads through adapters/kube (ObjectClient, KubeFlux, KubeReadiness); the raw reads here belong in
 * adapters/kube/ as a StatusPort once another caller needs them.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { ObjectClient } from '../../adapters/kube/apply.js';
import { KubeFlux } from '../../adapters/kube/flux.js';
import { CORDONED_BY } from '../../adapters/kube/nodes.js';
import { KubeOutageSource, type StopRecordSummary } from '../../adapters/kube/outage-source.js';
import { KubeReadiness } from '../../adapters/kube/readiness.js';
import { within } from '../../adapters/within.js';
import { GROUP, type PowerEvent, type PowerPlanSpec, VERSION } from '../../core/api/index.js';
import type { FluxObject } from '../../core/ports/index.js';
import { readinessChecker } from '../../core/steps/readiness.js';

export interface ObservedNode {
  name: string;
  ready: boolean;
  unschedulable: boolean;
  cordonedBy?: string;
  arch?: string;
  /** Every name in status.images. */
  images: string[];
}

export interface ObservedReadiness {
  ref: string;
  ready?: boolean;
  message: string;
}

/** One read of the cluster; a section is undefined when it could not be read, with the reason in `unseen`. */
export interface ClusterFacts {
  api: 'reachable' | 'unreachable' | 'unknown';
  server?: string;
  message?: string;
  nodes?: ObservedNode[];
  source?: { ready: boolean; revision?: string; message?: string } | null;
  fluxObjects?: FluxObject[];
  /** waitFor readiness per chain stage name. */
  chain?: Record<string, ObservedReadiness[]>;
  harbor?: { pods: { ready: number; total: number }; images: string[]; helmReleaseReady?: boolean };
  powerEvents?: PowerEvent[];
  /** Stop records of the plan's deleted PowerEvents (adapters/kube/outage-source.ts). */
  stopRecords?: StopRecordSummary[];
  unseen: string[];
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';

interface NodeJson {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { unschedulable?: boolean };
  status?: { conditions?: { type?: string; status?: string }[]; images?: { names?: string[] }[] };
}

function toNode(node: NodeJson): ObservedNode {
  const cordonedBy = node.metadata?.annotations?.[CORDONED_BY];
  const arch = node.metadata?.labels?.['kubernetes.io/arch'];
  return {
    name: node.metadata?.name ?? '',
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    unschedulable: node.spec?.unschedulable === true,
    ...(cordonedBy ? { cordonedBy } : {}),
    ...(arch ? { arch } : {}),
    images: (node.status?.images ?? []).flatMap((i) => i.names ?? []),
  };
}

interface PodJson {
  spec?: { containers?: { image?: string }[]; initContainers?: { image?: string }[] };
  status?: { conditions?: { type?: string; status?: string }[] };
}
interface WorkloadJson {
  spec?: { template?: PodJson };
}

const imagesOf = (pod: PodJson | undefined) =>
  [...(pod?.spec?.initContainers ?? []), ...(pod?.spec?.containers ?? [])].flatMap((c) => (c.image ? [c.image] : []));

async function harborFacts(client: ObjectClient, spec: NonNullable<PowerPlanSpec['harbor']>) {
  const ns = spec.namespace;
  const list = async (path: string) =>
    (((await client.get(path)) as { items?: unknown[] } | undefined)?.items ?? []) as never[];
  const [pods, deployments, statefulSets, release] = await Promise.all([
    list(`/api/v1/namespaces/${ns}/pods`) as Promise<PodJson[]>,
    list(`/apis/apps/v1/namespaces/${ns}/deployments`) as Promise<WorkloadJson[]>,
    list(`/apis/apps/v1/namespaces/${ns}/statefulsets`) as Promise<WorkloadJson[]>,
    client
      .get(`/apis/helm.toolkit.fluxcd.io/v2/namespaces/${ns}/helmreleases/${spec.helmRelease}`)
      .catch(() => undefined) as Promise<
      { status?: { conditions?: { type?: string; status?: string }[] } } | undefined
    >,
  ]);
  const images = new Set([
    ...pods.flatMap(imagesOf),
    ...[...deployments, ...statefulSets].flatMap((w) => imagesOf(w.spec?.template)),
  ]);
  const ready = pods.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  const releaseReady = release?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
  return {
    pods: { ready: ready.length, total: pods.length },
    images: [...images].sort(),
    ...(releaseReady === undefined ? {} : { helmReleaseReady: releaseReady === 'True' }),
  };
}

async function chainFacts(kc: KubeConfig, spec: PowerPlanSpec): Promise<Record<string, ObservedReadiness[]>> {
  const readiness = readinessChecker(new KubeReadiness(kc));
  const out: Record<string, ObservedReadiness[]> = {};
  await Promise.all(
    spec.bootstrapChain.map(async (stage) => {
      out[stage.name] = await Promise.all(
        stage.waitFor.map(async (ref) => {
          const name = `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
          try {
            const r = await readiness.check(ref);
            return { ref: name, ready: r.ready, message: r.message };
          } catch (error) {
            return { ref: name, message: `cannot tell: ${message(error)}` };
          }
        }),
      );
    }),
  );
  return out;
}

async function powerEvents(client: ObjectClient): Promise<PowerEvent[] | undefined> {
  const list = (await client.get(`/apis/${GROUP}/${VERSION}/powerevents`)) as { items?: PowerEvent[] } | undefined;
  return list ? (list.items ?? []) : undefined;
}

/** Runs `work`; on failure notes `what` in `unseen` and gives undefined. */
async function part<T>(unseen: string[], what: string, work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    unseen.push(`${what}: ${message(error)}`);
    return undefined;
  }
}

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

async function observeAll(kc: KubeConfig, spec: PowerPlanSpec, planName?: string): Promise<ClusterFacts> {
  const server = kc.getCurrentCluster()?.server;
  const client = ObjectClient.for(kc);
  const unseen: string[] = [];
  let nodes: ObservedNode[];
  try {
    const list = (await client.get('/api/v1/nodes')) as { items?: NodeJson[] } | undefined;
    nodes = (list?.items ?? []).map(toNode);
  } catch (error) {
    return { api: 'unreachable', ...(server ? { server } : {}), message: message(error), unseen };
  }
  const flux = new KubeFlux(kc);
  const { source } = spec.flux;
  const [sourceFacts, kustomizations, helmReleases, chain, harbor, events, stopRecords] = await Promise.all([
    part(unseen, 'Flux source', async () => (await flux.source(source.kind, spec.flux.namespace, source.name)) ?? null),
    part(unseen, 'Flux Kustomizations', () => flux.list('Kustomization')),
    part(unseen, 'Flux HelmReleases', () => flux.list('HelmRelease')),
    part(unseen, 'bootstrap chain', () => chainFacts(kc, spec)),
    spec.harbor ? part(unseen, 'Harbor', () => harborFacts(client, spec.harbor as never)) : undefined,
    part(unseen, 'PowerEvents', () => powerEvents(client)),
    part(unseen, 'stop records', () => new KubeOutageSource(kc, quiet).stopRecords(planName)),
  ]);
  if (events === undefined && !unseen.some((u) => u.startsWith('PowerEvents'))) {
    unseen.push('PowerEvents: the PowerEvent CRD is not installed');
  }
  return {
    api: 'reachable',
    ...(server ? { server } : {}),
    nodes,
    ...(sourceFacts !== undefined ? { source: sourceFacts } : {}),
    ...(kustomizations && helmReleases ? { fluxObjects: [...kustomizations, ...helmReleases] } : {}),
    ...(chain ? { chain } : {}),
    ...(harbor ? { harbor } : {}),
    ...(events ? { powerEvents: events } : {}),
    ...(stopRecords?.length ? { stopRecords } : {}),
    unseen,
  };
}

/** One bounded read of the cluster (default 8 s); a dead API gives `api: 'unreachable'` with the reason. */
export async function observeForStatus(
  kc: KubeConfig,
  spec: PowerPlanSpec,
  timeoutMs = 8_000,
  /** The plan's name: only its stop records are listed (all when undefined). */
  planName?: string,
): Promise<ClusterFacts> {
  const server = kc.getCurrentCluster()?.server;
  const facts = await within(
    timeoutMs,
    observeAll(kc, spec, planName).catch(
      (error): ClusterFacts => ({ api: 'unreachable', message: message(error), unseen: [] }),
    ),
  );
  return (
    facts ?? {
      api: 'unreachable',
      ...(server ? { server } : {}),
      message: `no answer within ${timeoutMs / 1000}s`,
      unseen: [],
    }
  );
}

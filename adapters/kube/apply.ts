/**
 * Server-side apply of built manifests (the chain's ManifestPort.apply), field manager `hecate`, conflicts forced.
 *
 * NOTE: the body is sent as the JSON that kustomize printed, not through client-node's typed model: the model
 * drops fields it does not know and renames wire names (a CRD's `enum`, `default` and `x-kubernetes-*` keys would
 * be lost; see bed/crds.ts). KubernetesObjectApi still resolves each kind's URL through discovery.
 */
import { ApiException, HttpMethod, type KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import type { AppliedRef, KubeObject } from '../../core/ports/chain.js';
import { isNotFound } from './errors.js';

export const FIELD_MANAGER = 'hecate';

type Json = Record<string, unknown>;

/** KubernetesObjectApi with raw JSON requests: discovery and URLs from client-node, bodies untouched. */
export class ObjectClient extends KubernetesObjectApi {
  static for(kc: KubeConfig): ObjectClient {
    const client = kc.makeApiClient(ObjectClient);
    client.setDefaultNamespace(kc);
    return client;
  }

  /** The object's URL path; throws "Unrecognized API version and kind" when discovery does not know the kind. */
  pathOf(object: KubeObject): Promise<string> {
    return this.specUriPath(structuredClone(object), 'patch');
  }

  /** Forgets what discovery said, so that kinds of freshly Established CRDs are found. */
  forgetDiscovery(): void {
    this.apiVersionResourceCache = {};
  }

  async request(
    method: HttpMethod,
    path: string,
    options: { query?: Record<string, string>; body?: unknown; contentType?: string } = {},
  ): Promise<{ code: number; body: Json }> {
    const ctx = this.configuration.baseServer.makeRequestContext(path, method);
    ctx.setHeaderParam('Accept', 'application/json');
    for (const [key, value] of Object.entries(options.query ?? {})) ctx.setQueryParam(key, value);
    if (options.body !== undefined) {
      ctx.setHeaderParam('Content-Type', options.contentType ?? 'application/json');
      ctx.setBody(JSON.stringify(options.body));
    }
    await this.configuration.authMethods.default?.applySecurityAuthentication(ctx);
    const response = await this.configuration.httpApi.send(ctx).toPromise();
    const text = await response.body.text();
    if (response.httpStatusCode >= 300) {
      throw new ApiException(response.httpStatusCode, statusMessage(text), text, response.headers);
    }
    return { code: response.httpStatusCode, body: text ? (JSON.parse(text) as Json) : {} };
  }

  async get(path: string): Promise<Json | undefined> {
    try {
      return (await this.request(HttpMethod.GET, path)).body;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

function statusMessage(text: string): string {
  try {
    return String((JSON.parse(text) as { message?: unknown }).message ?? text);
  } catch {
    return text;
  }
}

const isCrd = (o: KubeObject) =>
  o.kind === 'CustomResourceDefinition' && o.apiVersion.startsWith('apiextensions.k8s.io/');
const isNamespace = (o: KubeObject) => o.kind === 'Namespace' && o.apiVersion === 'v1';

/** CRDs first, then Namespaces, then everything else in the given order. */
export function applyOrder(objects: readonly KubeObject[]): KubeObject[] {
  return [
    ...objects.filter(isCrd),
    ...objects.filter(isNamespace),
    ...objects.filter((o) => !isCrd(o) && !isNamespace(o)),
  ];
}

export interface KubeApplierOptions {
  /** How long CRDs may take to become Established, and new kinds to appear in discovery (default 60 s). */
  establishTimeoutMs?: number;
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class KubeApplier {
  private readonly client: ObjectClient;

  constructor(
    kc: KubeConfig,
    private readonly options: KubeApplierOptions = {},
  ) {
    this.client = ObjectClient.for(kc);
  }

  /**
   * Applies in {@link applyOrder}, waiting for the CRDs to be Established before anything else. In a dry-run, the
   * custom resources of CRDs that do not exist yet are reported `skipped` (the server cannot validate them).
   */
  async apply(objects: readonly KubeObject[], { dryRun, signal }: { dryRun: boolean; signal?: AbortSignal }) {
    const ordered = applyOrder(objects);
    const crds = ordered.filter(isCrd);
    const applied: AppliedRef[] = [];
    for (const crd of crds) applied.push(await this.applyOne(crd, dryRun));
    if (crds.length > 0 && !dryRun) {
      await Promise.all(crds.map((crd) => this.waitEstablished(crd.metadata.name, signal)));
      this.client.forgetDiscovery();
    }
    const newKinds = new Set(crds.map(crdKind));
    for (const object of ordered.filter((o) => !isCrd(o))) {
      signal?.throwIfAborted();
      if (dryRun && newKinds.has(`${object.apiVersion.split('/')[0]}/${object.kind}`)) {
        applied.push({ ...refOf(object), result: 'skipped' });
        continue;
      }
      applied.push(await this.applyOne(object, dryRun, signal));
    }
    return applied;
  }

  private async applyOne(object: KubeObject, dryRun: boolean, signal?: AbortSignal): Promise<AppliedRef> {
    const path = await this.resolve(object, signal);
    const query: Record<string, string> = {
      fieldManager: FIELD_MANAGER,
      force: 'true',
      ...(dryRun ? { dryRun: 'All' } : {}),
    };
    try {
      const { code } = await this.client.request(HttpMethod.PATCH, path, {
        query,
        body: object,
        contentType: PatchStrategy.ServerSideApply,
      });
      return { ...refOf(object), result: code === 201 ? 'created' : 'configured' };
    } catch (error) {
      const what = `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ''}${object.metadata.name}`;
      throw new Error(`server-side apply of ${what} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The URL, retrying while discovery does not know the kind yet (a CRD that was just Established). */
  private async resolve(object: KubeObject, signal?: AbortSignal): Promise<string> {
    const deadline = Date.now() + (this.options.establishTimeoutMs ?? 60_000);
    for (;;) {
      try {
        return await this.client.pathOf(object);
      } catch (error) {
        const unknownKind = /Unrecognized API version and kind|Failed to fetch resource metadata/.test(
          (error as Error).message,
        );
        if (!unknownKind || Date.now() > deadline) throw error;
        signal?.throwIfAborted();
        this.client.forgetDiscovery();
        await sleep(this.options.pollMs ?? 250);
      }
    }
  }

  private async waitEstablished(name: string, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + (this.options.establishTimeoutMs ?? 60_000);
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`;
    for (;;) {
      const crd = (await this.client.get(path)) as { status?: { conditions?: { type: string; status: string }[] } };
      if (crd?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) return;
      if (Date.now() > deadline) throw new Error(`CustomResourceDefinition ${name} not Established in time`);
      signal?.throwIfAborted();
      await sleep(this.options.pollMs ?? 250);
    }
  }
}

function refOf(object: KubeObject) {
  const { name, namespace } = object.metadata;
  return { apiVersion: object.apiVersion, kind: object.kind, name, ...(namespace ? { namespace } : {}) };
}

/** `group/Kind` served by a CRD. */
function crdKind(crd: KubeObject): string {
  const spec = (crd.spec ?? {}) as { group?: string; names?: { kind?: string } };
  return `${spec.group}/${spec.names?.kind}`;
}

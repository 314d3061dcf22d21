/**
 * The transport of a server-side dry run: a KubeConfig whose API clients send every mutating request (POST, PUT,
 * PATCH, DELETE) with `dryRun=All`, whatever the caller asked, and log each one with the server's answer. The API
 * server then runs authentication, RBAC, admission (webhooks, ValidatingAdmissionPolicies, PodDisruptionBudgets for
 * evictions) and validation, and persists nothing. Reads pass untouched and are not logged.
 *
 * NOTE: this covers every client made by `makeApiClient` (the typed APIs and KubernetesObjectApi); watches only read.
 * Processes that read the kubeconfig file themselves (kubectl) are not covered: a dry run must not start them.
 */
import {
  createConfiguration,
  type HttpLibrary,
  KubeConfig,
  type RequestContext,
  type ResponseBody,
  ResponseContext,
  ServerConfiguration,
  wrapHttpLibrary,
} from '@kubernetes/client-node';

/** How the server answered one dry-run request. */
export type DryRunOutcome =
  /** 2xx: RBAC, admission and validation let it through. */
  | 'allowed'
  /** 429 to an eviction: a PodDisruptionBudget holds the pod now (the drain retries and escalates). */
  | 'held'
  /** 404: the object is gone already; a real run counts that as done. */
  | 'gone'
  /** Any other status (403 RBAC, admission denial, 422 invalid, 409...), or no answer at all. */
  | 'refused';

/** One mutating request, as sent with dryRun=All. */
export interface DryRunRequest {
  /** create | update | patch | delete (the audit log's verbs). */
  verb: string;
  /** `resource[/subresource] [namespace/]name`, as kubectl and the audit log name it; `in <namespace>` for creates. */
  target: string;
  /** The HTTP status; 0 when no answer came (connection refused, timeout). */
  status: number;
  outcome: DryRunOutcome;
  /** The server's reason and message (`403 Forbidden: pods "x" is forbidden: ...`) when not allowed. */
  message?: string;
}

/** Every mutating request of a dry run, in order; {@link take} hands them over by step. */
export class DryRunLog {
  private requests: DryRunRequest[] = [];

  add(request: DryRunRequest): void {
    this.requests.push(request);
  }

  /** The requests since the last take, and forgets them. */
  take(): DryRunRequest[] {
    const taken = this.requests;
    this.requests = [];
    return taken;
  }
}

const VERBS: Record<string, string> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/** `/api/v1/namespaces/apps/pods/web-1/eviction` → `pods/eviction apps/web-1`; `/apis/g/v/kinds/n` → `kinds n`. */
export function describeTarget(path: string, verb: string): string {
  const parts = path.split('/').filter(Boolean);
  const rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  const namespace = rest[0] === 'namespaces' && rest.length > 2 ? rest[1] : undefined;
  const [resource = '?', name, subresource] = namespace ? rest.slice(2) : rest;
  const what = subresource ? `${resource}/${subresource}` : resource;
  if (name === undefined) return verb === 'create' && namespace ? `${what} in ${namespace}` : what;
  return `${what} ${namespace ? `${namespace}/` : ''}${name}`;
}

function outcomeOf(status: number, verb: string, target: string): DryRunOutcome {
  if (status >= 200 && status < 300) return 'allowed';
  if (status === 429 && target.startsWith('pods/eviction')) return 'held';
  if (status === 404 && verb !== 'create') return 'gone';
  return 'refused';
}

/** `403 Forbidden: <message>` from a Status body; the raw text (shortened) when it is not one. */
function statusText(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { reason?: unknown; message?: unknown };
    const reason = typeof body.reason === 'string' && body.reason ? ` ${body.reason}` : '';
    return `${status}${reason}: ${String(body.message ?? text)}`;
  } catch {
    return `${status}: ${text.slice(0, 500)}`;
  }
}

/** The body read once for the log, served again to the client that asked. */
function replay(text: string): ResponseBody {
  return { text: async () => text, binary: async () => Buffer.from(text) };
}

/**
 * A copy of `kc` for server-side dry runs (see the module comment): every mutating request goes out with
 * `dryRun=All` and lands in `log`.
 */
export function dryRunKubeConfig(kc: KubeConfig, log: DryRunLog): KubeConfig {
  const copy = new DryRunKubeConfig(log);
  copy.loadFromOptions({
    clusters: kc.getClusters(),
    users: kc.getUsers(),
    contexts: kc.getContexts(),
    currentContext: kc.getCurrentContext(),
  });
  return copy;
}

class DryRunKubeConfig extends KubeConfig {
  constructor(private readonly log: DryRunLog) {
    super();
  }

  override makeApiClient<T>(apiClientType: new (config: ReturnType<typeof createConfiguration>) => T): T {
    const cluster = this.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    const base = { baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: this } };
    const inner = createConfiguration(base).httpApi;
    const httpApi = wrapHttpLibrary({ send: (request) => this.send(inner, request) });
    return new apiClientType(createConfiguration({ ...base, httpApi }));
  }

  private async send(inner: HttpLibrary, request: RequestContext): Promise<ResponseContext> {
    const verb = VERBS[request.getHttpMethod()];
    if (verb === undefined) return inner.send(request).toPromise();
    request.setQueryParam('dryRun', 'All');
    const target = describeTarget(new URL(request.getUrl()).pathname, verb);
    let response: ResponseContext;
    try {
      response = await inner.send(request).toPromise();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.add({ verb, target, status: 0, outcome: 'refused', message: `no answer: ${message}` });
      throw error;
    }
    const status = response.httpStatusCode;
    const outcome = outcomeOf(status, verb, target);
    if (outcome === 'allowed') {
      this.log.add({ verb, target, status, outcome });
      return response;
    }
    const text = await response.body.text();
    this.log.add({ verb, target, status, outcome, message: statusText(status, text) });
    return new ResponseContext(status, response.headers, replay(text));
  }
}

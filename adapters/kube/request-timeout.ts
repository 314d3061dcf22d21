import {
  createConfiguration,
  type HttpLibrary,
  type KubeConfig,
  type RequestContext,
  type ResponseContext,
  ServerConfiguration,
  wrapHttpLibrary,
} from '@kubernetes/client-node';

/** A request that had no answer within `--request-timeout`; the message names the flag, its value and the request. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
}

/** `5s`, `1500ms`: the flag's value as a person would have typed it. */
function said(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

async function sendWithin(inner: HttpLibrary, request: RequestContext, ms: number): Promise<ResponseContext> {
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), ms);
  const asked = request.getSignal();
  request.setSignal(asked ? AbortSignal.any([asked, timer.signal]) : timer.signal);
  try {
    return await inner.send(request).toPromise();
  } catch (cause) {
    if (!timer.signal.aborted || asked?.aborted) throw cause;
    const url = new URL(request.getUrl());
    throw new RequestTimeoutError(
      `no answer from the API server within --request-timeout=${said(ms)} (${request.getHttpMethod()} ${url.pathname})`,
      { cause },
    );
  } finally {
    clearTimeout(timeout);
  }
}

/**
 * `--request-timeout` on `kc`, as kubectl applies it: each API request (a GET, a PATCH, an eviction) without an
 * answer within `ms` fails with {@link RequestTimeoutError}; 0 or undefined leaves requests unbounded. Changes `kc`
 * in place (every client it makes from now on) and returns it.
 * NOTE: watches are not requests with an answer: they run until their step's own deadline (client-node opens them
 * outside makeApiClient). A copy of `kc` that an adapter makes (the server dry-run's) does not carry the timeout.
 */
export function withRequestTimeout(kc: KubeConfig, ms: number | undefined): KubeConfig {
  if (!ms) return kc;
  kc.makeApiClient = (apiClientType) => {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('No active cluster!');
    const base = { baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc } };
    const inner = createConfiguration(base).httpApi;
    const httpApi = wrapHttpLibrary({ send: (request) => sendWithin(inner, request, ms) });
    return new apiClientType(createConfiguration({ ...base, httpApi }));
  };
  return kc;
}

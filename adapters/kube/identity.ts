/**
 * Who the API server says we are: a SelfSubjectReview (what `kubectl auth whoami` sends). An executing run asks it
 * before it records anything, so an unreachable server or a rejected credential is found before the first change.
 */
import { ApiException, AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { within } from '../within.js';

export type Identity =
  | { ok: true; server: string; username: string; groups: string[] }
  | { ok: false; server: string; reason: string };

/** Never throws: a failure, a refusal or no answer within `timeoutMs` gives `ok: false` with the reason in words. */
export async function whoAmI(kc: KubeConfig, timeoutMs = 5_000): Promise<Identity> {
  const server = kc.getCurrentCluster()?.server ?? '(no server in the kubeconfig)';
  const review = kc
    .makeApiClient(AuthenticationV1Api)
    .createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } })
    .then((answer) => ({ answer }))
    .catch((error: unknown) => ({ error }));
  const result = await within(timeoutMs, review);
  if (!result) return { ok: false, server, reason: `no answer within ${timeoutMs / 1000} s` };
  if ('error' in result) {
    // An older server without authentication.k8s.io/v1 (404), or RBAC without the default self review (403),
    // still answered an authenticated request.
    const code = result.error instanceof ApiException ? result.error.code : undefined;
    if (code === 403 || code === 404) return { ok: true, server, username: '(not reported by the server)', groups: [] };
    return { ok: false, server, reason: describeFailure(result.error) };
  }
  const user = result.answer.status?.userInfo;
  return { ok: true, server, username: user?.username ?? '(unknown user)', groups: user?.groups ?? [] };
}

function describeFailure(error: unknown): string {
  if (error instanceof ApiException) {
    if (error.code === 401) return '401 Unauthorized: the server rejected the kubeconfig credentials';
    return `${error.code} from the API server`;
  }
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const code = (error as { code?: string })?.code ?? cause?.code;
  // node-fetch says "request to URL failed, reason: connect ECONNREFUSED ..."; the reason is what matters
  const full = error instanceof Error ? error.message : String(error);
  const message = /, reason: (.*)$/.exec(full)?.[1] ?? full;
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

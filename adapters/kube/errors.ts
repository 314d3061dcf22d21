import { ApiException } from '@kubernetes/client-node';

/** The HTTP status of a client-node error, when it has one. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (error: unknown) => statusOf(error) === 404;
export const isConflict = (error: unknown) => statusOf(error) === 409;
export const isTooManyRequests = (error: unknown) => statusOf(error) === 429;

/** Network failures meaning the API server is not there for now (restarting, a control-plane node going down). */
const UNREACHABLE = /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up)\b/;
/** Statuses the API server answers while it cannot serve: too many requests (storage re-initialising), gateway, unavailable. */
const UNAVAILABLE_STATUSES = new Set([429, 502, 503, 504]);

/**
 * The API server was unreachable or said it could not serve for now, anywhere in the error's cause chain: what a
 * retry with backoff outlives (kube-apiserver restarting, etcd electing a leader). Never a refusal (4xx but 429).
 */
export function isApiUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const status = statusOf(e);
    if (status !== undefined && UNAVAILABLE_STATUSES.has(status)) return true;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && UNREACHABLE.test(code)) return true;
    if (e instanceof Error && (UNREACHABLE.test(e.message) || e.name === 'ApiReadTimeoutError')) return true;
  }
  return false;
}

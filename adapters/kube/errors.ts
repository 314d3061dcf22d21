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

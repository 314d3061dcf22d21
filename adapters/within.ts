/**
 * Resolves with `undefined` when `work` does not settle within `ms` (the work itself goes on, unobserved): a read
 * from an API server that accepts and never answers (a dead or quorum-less control plane) must not stall a caller.
 */
export async function within<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

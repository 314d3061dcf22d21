import type { Clock, Logger } from '../core/ports.js';

/** The real clock. `sleep` rejects with the signal's reason when aborted. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      // NOTE: the listener is removed when the timer fires, or long waits pile listeners on one signal.
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * A human-readable logger for the CLI: warnings and errors to stderr; per-request detail (info) only with
 * HECATE_VERBOSE=1, debug only with HECATE_DEBUG=1. The progress lines carry what a person needs.
 */
export function adapterLogger(deps: {
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
}): Logger {
  const line = (level: string, message: string, fields?: Record<string, unknown>) =>
    deps.stderr(`${level}${message}${fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}\n`);
  return {
    info: (m, f) => (deps.env.HECATE_VERBOSE || deps.env.HECATE_DEBUG ? line('', m, f) : undefined),
    warn: (m, f) => line('warning: ', m, f),
    error: (m, f) => line('error: ', m, f),
    debug: (m, f) => (deps.env.HECATE_DEBUG ? line('debug: ', m, f) : undefined),
  };
}

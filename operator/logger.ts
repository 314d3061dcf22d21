/**
 * The operator's logs: one JSON object per line on stdout (winston), with a timestamp, the level, the message and
 * structured fields. Messages are capitalised without a period; fields name the object.
 *
 * NOTE: winston serialises an Error nested in the fields to `{}`; `toFields` turns every Error value into
 * `{ name, message, stack }` first.
 */
import winston from 'winston';
import type { Logger } from '../core/ports/index.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export function createWinston(level: LogLevel, stream?: NodeJS.WritableStream): winston.Logger {
  const { combine, errors, timestamp, json } = winston.format;
  return winston.createLogger({
    level,
    format: combine(errors({ stack: true }), timestamp(), json()),
    defaultMeta: { component: 'hecate-operator' },
    transports: [stream ? new winston.transports.Stream({ stream }) : new winston.transports.Console()],
  });
}

/** The core Logger port over winston; `base` fields go on every line (e.g. the replica's identity). */
export function toLogger(log: winston.Logger, base: Record<string, unknown> = {}): Logger {
  const child = Object.keys(base).length > 0 ? log.child(base) : log;
  const at = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) =>
    child.log(level, message, toFields(fields));
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

export function toFields(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) out[key] = value instanceof Error ? serialiseError(value) : value;
  return out;
}

function serialiseError(error: Error): Record<string, unknown> {
  return {
    name: error.name,
    message: error.message,
    ...(error.stack ? { stack: error.stack } : {}),
    ...(error.cause instanceof Error ? { cause: serialiseError(error.cause) } : {}),
  };
}

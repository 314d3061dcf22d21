/**
 * The UPS port's implementations, one per `ups.source`: NUT (upsd over TCP), a command whose output is the charge,
 * and a static value for drills. Each turns every failure into a reading with `error` set (see core/ports/ups.ts).
 */
import { execa } from 'execa';
import type { PowerPlanSpec } from '../../core/api/powerplan.js';
import type { Clock, Logger } from '../../core/ports/index.js';
import type { UpsFault, UpsPort, UpsReading } from '../../core/ports/ups.js';
import { CredentialsError, loadCredentials, type NutCredentials } from './credentials.js';
import {
  NutCleartextLoginError,
  NutClient,
  type NutClientOptions,
  NutProtocolError,
  NutServerError,
} from './nut-client.js';

export interface ClosableUpsPort extends UpsPort {
  /** Releases the connection (NUT: LOGOUT); never throws. */
  close(): Promise<void>;
}

export interface SourceDeps {
  clock: Clock;
  logger: Logger;
  /** Per-request deadline (NUT) or command timeout; default 5000 ms. */
  timeoutMs?: number;
}

const STALE_CODES = new Set(['DATA-STALE', 'DRIVER-NOT-CONNECTED']);
const REFUSED_CODES = new Set([
  'ACCESS-DENIED',
  'INVALID-PASSWORD',
  'USERNAME-REQUIRED',
  'PASSWORD-REQUIRED',
  'UNKNOWN-UPS',
  'INVALID-USERNAME',
]);

/** The fault a NUT read failure means for the gate. */
export function faultOf(error: unknown): NonNullable<UpsReading['error']> {
  const message = error instanceof Error ? error.message : String(error);
  let fault: UpsFault = 'unreachable';
  if (error instanceof NutServerError) {
    fault = STALE_CODES.has(error.code) ? 'stale' : REFUSED_CODES.has(error.code) ? 'refused' : 'protocol';
  } else if (error instanceof NutProtocolError) fault = 'protocol';
  else if (error instanceof CredentialsError || error instanceof NutCleartextLoginError) fault = 'refused';
  return { fault, message };
}

/** `ups.status` tokens, upper case. */
export function parseStatus(value: string): string[] {
  return value.toUpperCase().split(/\s+/).filter(Boolean);
}

function parseNumber(name: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n)) throw new NutProtocolError(`${name} is not a number: "${value}"`);
  return n;
}

export interface NutSourceOptions {
  host: string;
  port: number;
  ups: string;
  /** Credentials, or a function that loads them (retried on each read until it succeeds). */
  credentials?: NutCredentials | (() => Promise<NutCredentials>);
  /** STARTTLS: the CA that upsd's certificate is checked against (default Node's, with NODE_EXTRA_CA_CERTS). */
  tls?: NutClientOptions['tls'];
}

/** Reads `ups.status`, `battery.charge` and `battery.runtime` from upsd; the connection is kept between reads. */
export function nutSource(options: NutSourceOptions, deps: SourceDeps): ClosableUpsPort {
  const { host, port, ups } = options;
  const source = `${ups}@${host}:${port}`;
  const faulty = (fault: UpsFault, message: string): UpsReading => ({
    source,
    status: [],
    error: { fault, message },
    readAt: deps.clock.now(),
  });
  let client: NutClient | undefined;
  const connect = async () => {
    if (client) return client;
    const creds = typeof options.credentials === 'function' ? await options.credentials() : options.credentials;
    const login = creds ? { ups, credentials: creds } : undefined;
    client = new NutClient({ host, port, login, tls: options.tls, timeoutMs: deps.timeoutMs, logger: deps.logger });
    return client;
  };
  const optional = async (nut: NutClient, name: string, signal?: AbortSignal) => {
    try {
      return parseNumber(name, await nut.getVar(ups, name, signal));
    } catch (error) {
      if (error instanceof NutServerError && error.code === 'VAR-NOT-SUPPORTED') return undefined;
      throw error;
    }
  };
  return {
    read: async (signal) => {
      try {
        const nut = await connect();
        const status = parseStatus(await nut.getVar(ups, 'ups.status', signal));
        if (status.includes('WAIT')) return faulty('stale', 'the driver is (re)connecting (ups.status WAIT)');
        if (status.length === 0) return faulty('protocol', `${source} reports an empty ups.status`);
        const charge = await optional(nut, 'battery.charge', signal);
        const runtimeSeconds = await optional(nut, 'battery.runtime', signal);
        return { source, status, charge, runtimeSeconds, readAt: deps.clock.now() };
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const { fault, message } = faultOf(error);
        deps.logger.debug('UPS read failed', { source, fault, message });
        return faulty(fault, message);
      }
    },
    close: async () => client?.close(),
  };
}

/**
 * Runs `command` (no shell); its standard output is the charge in percent: `87`, `87.5`, `87%`, or upsc's
 * `battery.charge: 87`. The command cannot tell on battery from on line, so the status is empty.
 */
export function commandSource(command: readonly string[], deps: SourceDeps): ClosableUpsPort {
  const [file, ...args] = command;
  const source = `command ${command.join(' ')}`;
  const reading = (fields: Partial<UpsReading>): UpsReading => ({
    source,
    status: [],
    readAt: deps.clock.now(),
    ...fields,
  });
  return {
    read: async (signal) => {
      if (!file) return reading({ error: { fault: 'refused', message: 'the command is empty' } });
      const result = await execa(file, args, {
        reject: false,
        timeout: deps.timeoutMs ?? 5_000,
        maxBuffer: 64 * 1024,
        stdin: 'ignore',
        ...(signal ? { cancelSignal: signal } : {}),
      });
      if (signal?.aborted) throw signal.reason;
      if (result.failed) {
        const why = result.timedOut ? 'timed out' : result.isMaxBuffer ? 'printed too much' : result.shortMessage;
        const stderr = String(result.stderr ?? '').slice(0, 200);
        return reading({ error: { fault: 'unreachable', message: `${why}${stderr ? `: ${stderr}` : ''}` } });
      }
      const out = String(result.stdout ?? '').trim();
      const match = /^(?:battery\.charge:\s*)?([0-9]+(?:\.[0-9]+)?)\s*%?$/.exec(out);
      const charge = match ? Number(match[1]) : Number.NaN;
      if (!(charge >= 0 && charge <= 100)) {
        const shown = JSON.stringify(out.slice(0, 60));
        return reading({ error: { fault: 'protocol', message: `printed ${shown}, not a charge in percent` } });
      }
      return reading({ charge });
    },
    close: async () => undefined,
  };
}

/** A fixed reading, on line, for drills. */
export function staticSource(charge: number, clock: Clock): ClosableUpsPort {
  return {
    read: async () => ({ source: 'static', charge, status: ['OL'], readAt: clock.now() }),
    close: async () => undefined,
  };
}

/** The port for the plan's `ups.source`; undefined for `none`. Credentials are read from the file at first use. */
export function upsSource(spec: PowerPlanSpec['ups'], deps: SourceDeps): ClosableUpsPort | undefined {
  switch (spec.source) {
    case 'nut': {
      if (!spec.nut) return undefined;
      const file = spec.nut.credentialsFile;
      const credentials = file ? () => loadCredentials(file) : undefined;
      return nutSource({ ...spec.nut, credentials }, deps);
    }
    case 'command':
      return spec.command ? commandSource(spec.command, deps) : undefined;
    case 'static':
      return spec.staticCharge === undefined ? undefined : staticSource(spec.staticCharge, deps.clock);
    case 'none':
      return undefined;
  }
}

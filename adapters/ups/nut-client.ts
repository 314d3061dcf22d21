/**
 * A NUT network protocol client (networkupstools docs/net-protocol.txt) over node:net: GET VAR, LIST VAR, and with
 * credentials USERNAME / PASSWORD / LOGIN. Every request is bounded: a deadline covers connect, handshake and reply,
 * lines are capped in length and lists in size, so a hostile or hung server yields a clear error, never a hang.
 * One connection, reused; it is dropped after any transport or protocol error and reopened by the next request.
 *
 * STARTTLS (docs/security.txt): every connection asks for it first, as upsmon does. When upsd offers it (`OK
 * STARTTLS`; it has a certificate: CERTFILE with OpenSSL, CERTPATH + CERTIDENT with NSS) the rest of the session is
 * TLS. The certificate is checked against `tls.ca`, else Node's CAs (with NODE_EXTRA_CA_CERTS); one that does not
 * verify still encrypts (upsmon's CERTVERIFY 0) and {@link NutClient.security} says so. When upsd does not offer TLS
 * (ERR FEATURE-NOT-CONFIGURED or FEATURE-NOT-SUPPORTED) the session stays in clear, and the password is only sent in
 * clear to a upsd on loopback: to any other host the login is refused ({@link NutCleartextLoginError}) before a word
 * of it is sent. Reads need no login, so a plan can drop its credentials instead.
 */
import { createConnection, isIPv4, isIPv6 } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../core/ports/index.js';
import type { NutCredentials } from './credentials.js';
import { excerpt, NutLine, splitNutLine } from './nut-line.js';

/** No usable connection: refused, reset, closed by the server, or no complete reply in time. */
export class NutConnectionError extends Error {
  override readonly name: string = 'NutConnectionError';
}

export class NutTimeoutError extends NutConnectionError {
  override readonly name = 'NutTimeoutError';
}

/** The password would have crossed the network in clear: upsd is not on loopback and did not offer STARTTLS. */
export class NutCleartextLoginError extends Error {
  override readonly name = 'NutCleartextLoginError';
}

/** The server sent something that is not a NUT reply (garbage, a huge line, too many lines). */
export class NutProtocolError extends Error {
  override readonly name = 'NutProtocolError';
}

const HINTS: Record<string, string> = {
  'ACCESS-DENIED':
    'the credentials were refused: check the password, and that upsd.users gives the user "upsmon secondary"',
  'INVALID-PASSWORD': 'the password was refused',
  'UNKNOWN-UPS': 'upsd does not know this UPS name (see `upsc -l`)',
  'DATA-STALE': "the driver's data is stale (upsd MAXAGE passed)",
  'DRIVER-NOT-CONNECTED': 'upsd has no connection to the UPS driver',
  'VAR-NOT-SUPPORTED': 'the UPS does not report this variable',
};

/** upsd answered `ERR <code>`. Match on `code` (DATA-STALE, DRIVER-NOT-CONNECTED, ACCESS-DENIED, UNKNOWN-UPS...). */
export class NutServerError extends Error {
  override readonly name = 'NutServerError';
  constructor(
    readonly code: string,
    readonly request: string,
    where: string,
  ) {
    super(`${where} answered ERR ${code} to ${request}${HINTS[code] ? `: ${HINTS[code]}` : ''}`);
  }
}

export interface NutClientOptions {
  host: string;
  port: number;
  /** Deadline for one request, including connect and login; default 5000 ms. */
  timeoutMs?: number;
  /** Longest reply line accepted, bytes; default 1024 (upsd's own lines are far shorter). */
  maxLineLength?: number;
  /** Most variables a LIST VAR may return; default 1000. */
  maxListLength?: number;
  /**
   * With credentials the client logs in as a NUT secondary (`LOGIN <ups>`): the only request that makes upsd check
   * a password without changing the UPS. The user needs `upsmon secondary` in upsd.users. Reads need no login.
   */
  login?: { ups: string; credentials: NutCredentials };
  /** STARTTLS: CA certificates (PEM) that upsd's certificate is checked against; default Node's. */
  tls?: { ca?: string | Buffer | undefined };
  /** Refuse to log in over a connection that is not TLS; default: unless upsd is on loopback. */
  requireTlsForLogin?: boolean;
  logger?: Logger;
}

/** How the last connection was protected: `tls` with `verified` false encrypts but does not authenticate upsd. */
export type NutSecurity =
  | { tls: false; why: string }
  | { tls: true; verified: boolean; protocol: string; why?: string | undefined };

/** 127.0.0.0/8, ::1 and localhost: a connection that never leaves this host. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  if (isIPv6(host)) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/** Encodes one request line; arguments with spaces, quotes or backslashes are quoted as upsd expects. */
export function nutCommand(...words: readonly string[]): string {
  return words
    .map((w) => {
      if (/\p{Cc}/u.test(w)) throw new TypeError('a NUT request argument holds a control character');
      return /^[^\s"\\]+$/.test(w) ? w : `"${w.replace(/[\\"]/g, '\\$&')}"`;
    })
    .join(' ');
}

export class NutClient {
  readonly where: string;
  private conn: NutLine | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly timeoutMs: number;
  private readonly maxListLength: number;
  private secured: NutSecurity | undefined;

  constructor(private readonly options: NutClientOptions) {
    this.where = `upsd at ${options.host}:${options.port}`;
    this.timeoutMs = options.timeoutMs ?? 5_000;
    this.maxListLength = options.maxListLength ?? 1_000;
  }

  /** How the current (or last) connection is protected; undefined before the first one. */
  get security(): NutSecurity | undefined {
    return this.secured;
  }

  /** `GET VAR <ups> <name>` → the value. Throws NutServerError on ERR (e.g. VAR-NOT-SUPPORTED, DATA-STALE). */
  getVar(ups: string, name: string, signal?: AbortSignal): Promise<string> {
    const request = `GET VAR ${ups} ${name}`;
    return this.exchange(request, signal, async (conn) => {
      conn.write(nutCommand('GET', 'VAR', ups, name));
      const words = await this.reply(conn, request);
      if (words.length === 4 && words[0] === 'VAR' && words[1] === ups && words[2] === name) return words[3] ?? '';
      throw this.protocolError(`unexpected reply to ${request}`, words.join(' '));
    });
  }

  /** `LIST VAR <ups>` → every variable and its value, in the server's order. */
  listVar(ups: string, signal?: AbortSignal): Promise<Map<string, string>> {
    const request = `LIST VAR ${ups}`;
    return this.exchange(request, signal, async (conn) => {
      conn.write(nutCommand('LIST', 'VAR', ups));
      const begin = await this.reply(conn, request);
      if (begin.join(' ') !== `BEGIN LIST VAR ${ups}`) {
        throw this.protocolError(`unexpected reply to ${request}`, begin.join(' '));
      }
      const vars = new Map<string, string>();
      for (;;) {
        const words = await this.reply(conn, request);
        if (words.join(' ') === `END LIST VAR ${ups}`) return vars;
        if (words.length !== 4 || words[0] !== 'VAR' || words[1] !== ups) {
          throw this.protocolError(`unexpected line in the reply to ${request}`, words.join(' '));
        }
        vars.set(words[2] ?? '', words[3] ?? '');
        if (vars.size > this.maxListLength) {
          throw new NutProtocolError(`${this.where} listed more than ${this.maxListLength} variables for ${ups}`);
        }
      }
    });
  }

  /** Sends LOGOUT and closes the connection; never throws. */
  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    await conn?.close(nutCommand('LOGOUT'));
  }

  /**
   * Runs one request alone on the connection, within the deadline. A request on a reused connection that finds it
   * closed (upsd restarted) is retried once on a new connection.
   */
  private exchange<T>(request: string, signal: AbortSignal | undefined, body: (conn: NutLine) => Promise<T>) {
    const run = async (): Promise<T> => {
      const reused = this.conn !== undefined && !this.conn.failed;
      try {
        return await this.attempt(request, signal, body);
      } catch (error) {
        const retry = reused && error instanceof NutConnectionError && !(error instanceof NutTimeoutError);
        if (!retry || signal?.aborted) throw error;
        this.options.logger?.debug('Reconnecting to upsd', { server: this.where, reason: error.message });
        return this.attempt(request, signal, body);
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async attempt<T>(request: string, signal: AbortSignal | undefined, body: (conn: NutLine) => Promise<T>) {
    signal?.throwIfAborted();
    if (this.conn?.failed) this.conn = undefined;
    const conn = this.conn ?? this.open();
    this.conn = conn;
    const ms = this.timeoutMs;
    const timer = setTimeout(() => {
      conn.fail(new NutTimeoutError(`${this.where} did not complete ${request} within ${ms} ms`));
    }, ms);
    const onAbort = () => conn.fail(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await conn.ready;
      if (conn.hasUnread()) throw new NutProtocolError(`${this.where} sent data nobody asked for before ${request}`);
      return await body(conn);
    } catch (error) {
      if (!(error instanceof NutServerError) || conn.failed) conn.fail(error as Error);
      if (conn.failed && this.conn === conn) this.conn = undefined;
      throw signal?.aborted ? signal.reason : error;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private open(): NutLine {
    const { host, port, login } = this.options;
    const socket = createConnection({ host, port });
    const conn = new NutLine(socket, {
      maxLineLength: this.options.maxLineLength ?? 1_024,
      maxQueuedLines: this.maxListLength + 8,
      connectionError: (message, cause) => new NutConnectionError(`${this.where}: ${message}`, { cause }),
      protocolError: (message) => new NutProtocolError(`${this.where} ${message}`),
      handshake: async (c) => {
        this.secured = await this.startTls(c);
        this.options.logger?.debug('Connected to upsd', { server: this.where, ...this.secured });
        if (login) await this.login(c, login.ups, login.credentials);
      },
    });
    this.options.logger?.debug('Connecting to upsd', { server: this.where, login: login?.credentials.username });
    return conn;
  }

  /** Asks for TLS; upsd without a certificate (or without TLS support) answers ERR, and the session stays in clear. */
  private async startTls(conn: NutLine): Promise<NutSecurity> {
    conn.write(nutCommand('STARTTLS'));
    let words: string[];
    try {
      words = await this.reply(conn, 'STARTTLS');
    } catch (error) {
      if (error instanceof NutServerError) return { tls: false, why: `upsd answered ERR ${error.code} to STARTTLS` };
      throw error;
    }
    if (words.join(' ') !== 'OK STARTTLS')
      throw this.protocolError('sent an unexpected reply to STARTTLS', words.join(' '));
    const { host } = this.options;
    const secure: TLSSocket = await conn.startTls({
      host,
      ...(isIPv4(host) || isIPv6(host) ? {} : { servername: host }),
      ...(this.options.tls?.ca ? { ca: this.options.tls.ca } : {}),
      minVersion: 'TLSv1.2',
      // NOTE: judged below instead: an unverified certificate still encrypts, as upsmon's CERTVERIFY 0 does
      rejectUnauthorized: false,
    });
    const why = secure.authorized ? undefined : String(secure.authorizationError ?? 'not verified');
    return { tls: true, verified: secure.authorized, protocol: secure.getProtocol() ?? 'TLS', why };
  }

  private async login(conn: NutLine, ups: string, credentials: NutCredentials): Promise<void> {
    const requireTls = this.options.requireTlsForLogin ?? !isLoopbackHost(this.options.host);
    if (requireTls && this.secured?.tls !== true) {
      throw new NutCleartextLoginError(
        `${this.where} does not offer STARTTLS (${this.secured?.tls === false ? this.secured.why : 'no TLS'}): not sending the password of ${credentials.username} in clear over the network; give upsd a certificate (upsd.conf CERTFILE, or CERTPATH and CERTIDENT), or drop the credentials (reads need no login)`,
      );
    }
    const steps: [string, string][] = [
      [nutCommand('USERNAME', credentials.username), `USERNAME ${credentials.username}`],
      [nutCommand('PASSWORD', credentials.revealPassword()), 'PASSWORD'],
      [nutCommand('LOGIN', ups), `LOGIN ${ups}`],
    ];
    for (const [line, request] of steps) {
      conn.write(line);
      const words = await this.reply(conn, request, credentials);
      if (words.length !== 1 || words[0] !== 'OK') {
        throw this.protocolError(`unexpected reply to ${request}`, words.join(' '), credentials);
      }
    }
  }

  /** Reads one reply line as words; `ERR <code>` becomes a NutServerError. */
  private async reply(conn: NutLine, request: string, credentials = this.options.login?.credentials) {
    const line = await conn.readLine();
    let words: string[];
    try {
      words = splitNutLine(line);
    } catch {
      throw this.protocolError(`sent a malformed reply to ${request}`, line, credentials);
    }
    if (words[0] !== 'ERR') return words;
    const code = words[1] ?? '';
    if (/^[A-Z0-9-]{1,40}$/.test(code)) throw new NutServerError(code, request, this.where);
    throw this.protocolError(`sent a malformed ERR reply to ${request}`, line, credentials);
  }

  private protocolError(what: string, line: string, credentials = this.options.login?.credentials) {
    return new NutProtocolError(`${this.where} ${what}: ${excerpt(line, 80, credentials)}`);
  }
}

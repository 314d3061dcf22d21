/**
 * The line layer under the NUT client: a socket read as bounded lines, and NUT's word splitting. Nothing here knows
 * a NUT command; the client (nut-client.ts) owns requests, deadlines and error classes.
 */
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';

interface Redactor {
  redact(text: string): string;
}

/**
 * Splits a reply line into words: spaces separate, double quotes group, a backslash escapes the next character
 * (`VAR ups ups.model "Back-UPS \"ES\""`). Throws on an unterminated quote or escape.
 */
export function splitNutLine(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') {
      i++;
      continue;
    }
    let word = '';
    const quoted = line[i] === '"';
    if (quoted) i++;
    for (;;) {
      if (i >= line.length) {
        if (quoted) throw new Error('unterminated quote');
        break;
      }
      const ch = line[i++] as string;
      if (ch === '\\') {
        if (i >= line.length) throw new Error('dangling escape');
        word += line[i++];
      } else if (quoted ? ch === '"' : ch === ' ') break;
      else word += ch;
    }
    words.push(word);
  }
  return words;
}

/** A short, printable, redacted quote of what a server sent, for error messages. */
export function excerpt(text: string, max: number, redactor?: Redactor): string {
  const clean = (redactor ? redactor.redact(text) : text).replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${JSON.stringify(clean.slice(0, max))}… (${text.length} chars)` : JSON.stringify(clean);
}

export interface NutLineOptions {
  maxLineLength: number;
  /** Lines received but not yet read; more means the server floods. */
  maxQueuedLines: number;
  connectionError(message: string, cause?: unknown): Error;
  protocolError(message: string): Error;
  /** Runs once after connecting, before `ready` resolves: STARTTLS, then the login. */
  handshake: ((conn: NutLine) => Promise<void>) | undefined;
}

/**
 * One connection read as lines, in clear or, after `startTls`, over TLS on the same socket. `fail` closes it for good;
 * every pending and later read rejects with the reason.
 */
export class NutLine {
  /** Resolves once connected (and logged in); rejects with the failure. */
  readonly ready: Promise<void>;
  private readonly lines: string[] = [];
  private partial = '';
  private phase: 'connecting' | 'tls-handshake' | 'open' = 'connecting';
  private failure: Error | undefined;
  private waiter: { resolve(line: string): void; reject(error: Error): void } | undefined;
  private readonly decoder = new StringDecoder('utf8');
  private socket: Socket;
  private detach: () => void;

  constructor(
    private readonly raw: Socket,
    private readonly options: NutLineOptions,
  ) {
    this.socket = raw;
    raw.setNoDelay(true);
    this.detach = this.listen(raw);
    const connected = new Promise<void>((resolve, reject) => {
      raw.once('connect', () => {
        this.phase = 'open';
        resolve();
      });
      raw.once('close', () => reject(this.failure));
    });
    // NOTE: a refused login closes the connection, so the next request connects and logs in afresh.
    this.ready = connected
      .then(() => options.handshake?.(this))
      .catch((error: Error) => {
        this.fail(error);
        throw error;
      });
    this.ready.catch(() => undefined);
  }

  /**
   * Hands the connection to TLS, after upsd answered `OK STARTTLS`; resolves with the TLS socket once the handshake
   * is done (the caller judges its certificate). A handshake that fails fails the line.
   */
  async startTls(options: ConnectionOptions): Promise<TLSSocket> {
    if (this.failure) throw this.failure;
    if (this.hasUnread()) throw this.options.protocolError('sent data after OK STARTTLS, before the TLS handshake');
    this.detach();
    this.raw.on('error', () => undefined); // the TLS socket reports it
    this.phase = 'tls-handshake';
    const secure = tlsConnect({ ...options, socket: this.raw });
    this.socket = secure;
    this.detach = this.listen(secure);
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => {
        this.phase = 'open';
        resolve();
      });
      secure.once('close', () => reject(this.failure));
    });
    return secure;
  }

  private listen(socket: Socket): () => void {
    const onData = (chunk: Buffer) => this.onData(chunk);
    const onError = (e: NodeJS.ErrnoException) => {
      const what = {
        connecting: 'cannot connect',
        'tls-handshake': 'the TLS handshake failed',
        open: 'the connection failed',
      }[this.phase];
      this.fail(this.options.connectionError(`${what} (${e.code ?? e.message})`, e));
    };
    const onEnd = () => this.fail(this.options.connectionError('the server closed the connection'), true);
    const onClose = () => this.fail(this.options.connectionError('the connection closed'), true);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    return () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.off('close', onClose);
    };
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  hasUnread(): boolean {
    return this.lines.length > 0 || this.partial.length > 0;
  }

  write(line: string): void {
    if (!this.failure) this.socket.write(`${line}\n`);
  }

  readLine(): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /**
   * Closes the connection for good; the first reason wins. Lines already received are dropped unless
   * `keepReceived` (the server closed after a complete reply): nothing after a bad line can be trusted.
   */
  fail(reason: Error, keepReceived = false): void {
    if (!this.failure) {
      this.failure = reason;
      if (!keepReceived) this.lines.length = 0;
      this.socket.destroy();
      this.raw.destroy();
    }
    this.wake();
  }

  /** Sends a last line (LOGOUT) and closes; waits at most 1 s for the server to close. */
  async close(lastLine: string): Promise<void> {
    if (this.failure) return;
    this.write(lastLine);
    this.socket.end();
    const closed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    const timer = new Promise<void>((resolve) => setTimeout(resolve, 1_000).unref());
    await Promise.race([closed, timer]);
    this.fail(new Error('closed'));
  }

  private onData(chunk: Buffer): void {
    if (this.failure) return;
    this.partial += this.decoder.write(chunk);
    const { maxLineLength, maxQueuedLines, protocolError } = this.options;
    let tooLong = false;
    for (let nl = this.partial.indexOf('\n'); nl >= 0 && !tooLong; nl = this.partial.indexOf('\n')) {
      const line = this.partial.slice(0, nl).replace(/\r$/, '');
      this.partial = this.partial.slice(nl + 1);
      tooLong = line.length > maxLineLength;
      if (!tooLong) this.lines.push(line);
    }
    if (tooLong || this.partial.length > maxLineLength) {
      this.fail(protocolError(`sent a line longer than ${maxLineLength} bytes`));
    } else if (this.lines.length > maxQueuedLines) {
      this.fail(protocolError(`sent more than ${maxQueuedLines} lines without being asked`));
    } else this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    const line = this.lines.shift();
    if (line !== undefined) {
      this.waiter = undefined;
      waiter.resolve(line);
    } else if (this.failure) {
      this.waiter = undefined;
      waiter.reject(this.failure);
    }
  }
}

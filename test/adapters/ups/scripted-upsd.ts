/**
 * An in-process TCP server on 127.0.0.1 that answers NUT requests from a script: honest replies, or hostile ones
 * (huge lines, garbage, a slow-loris that never finishes a line, silence, floods).
 *
 * STARTTLS is answered as upsd answers it: `ERR FEATURE-NOT-CONFIGURED` without a certificate (the default), or with
 * `tls` set, `OK STARTTLS` and a TLS handshake on the same socket, after which the script reads and writes through
 * TLS. `starttls: 'script'` hands the STARTTLS line to the script like any other.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { splitNutLine } from '../../../adapters/ups/nut-line.js';

export type Script = (line: string, socket: Socket, server: ScriptedUpsd) => void;

export interface ScriptedOptions {
  /** A certificate: STARTTLS is offered. */
  tls?: { cert: string; key: string };
  /** Who answers STARTTLS (default: the server, as upsd). */
  starttls?: 'server' | 'script';
}

export class ScriptedUpsd {
  /** Every request line received, in order, across connections. */
  readonly received: string[] = [];
  connections = 0;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** The TLS protocol of each connection that switched to TLS, in order. */
  readonly tlsSessions: string[] = [];

  static async start(script: Script, options: ScriptedOptions = {}): Promise<ScriptedUpsd> {
    let self: ScriptedUpsd | undefined;
    const server = createServer((socket) => self?.accept(socket, script, options));
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    self = new ScriptedUpsd(server, address.port);
    return self;
  }

  /** A timer that `stop` clears, for scripts that dribble bytes. */
  every(ms: number, tick: () => void): void {
    const timer = setInterval(tick, ms);
    this.timers.add(timer);
  }

  /** Closes every open connection (as a restarted upsd would) but keeps listening. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.dropConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(raw: Socket, script: Script, options: ScriptedOptions): void {
    this.connections++;
    this.sockets.add(raw);
    raw.on('close', () => this.sockets.delete(raw));
    raw.on('error', () => undefined);
    let socket: Socket = raw;
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        this.received.push(line);
        if (socket.destroyed) continue;
        if (line === 'STARTTLS' && options.starttls !== 'script') {
          if (!options.tls || socket !== raw) {
            socket.write(socket === raw ? 'ERR FEATURE-NOT-CONFIGURED\n' : 'ERR ALREADY-SSL-MODE\n');
            continue;
          }
          socket.write('OK STARTTLS\n');
          raw.off('data', onData);
          const secure = new TLSSocket(raw, { isServer: true, cert: options.tls.cert, key: options.tls.key });
          secure.on('error', () => undefined);
          secure.on('secure', () => this.tlsSessions.push(secure.getProtocol() ?? 'TLS'));
          secure.on('data', onData);
          socket = secure;
          return;
        }
        script(line, socket, this);
      }
    };
    raw.on('data', onData);
  }
}

export interface HonestOptions {
  ups?: string;
  vars?: Record<string, string>;
  /** username → password; LOGIN checks them as upsd does. */
  users?: Record<string, string>;
  /** `ERR <code>` for every GET VAR / LIST VAR. */
  error?: string;
}

/** Answers like upsd 2.8 does (see research/test-components.md §1). */
export function honest(options: HonestOptions = {}): Script {
  const ups = options.ups ?? 'ups';
  const vars = options.vars ?? { 'battery.charge': '80', 'battery.runtime': '1200', 'ups.status': 'OL' };
  const session = new WeakMap<Socket, { username?: string; password?: string }>();
  return (line, socket) => {
    const state = session.get(socket) ?? {};
    session.set(socket, state);
    const words = splitNutLine(line);
    const send = (text: string) => socket.write(`${text}\n`);
    if (words[0] === 'USERNAME' || words[0] === 'PASSWORD') {
      state[words[0] === 'USERNAME' ? 'username' : 'password'] = words[1];
      return send('OK');
    }
    if (words[0] === 'LOGIN') {
      const ok = state.username !== undefined && options.users?.[state.username] === state.password;
      return send(ok ? 'OK' : 'ERR ACCESS-DENIED');
    }
    if (words[0] === 'LOGOUT') {
      send('OK Goodbye');
      return socket.end();
    }
    if (options.error) return send(`ERR ${options.error}`);
    if (words[0] === 'GET' && words[1] === 'VAR') {
      if (words[2] !== ups) return send('ERR UNKNOWN-UPS');
      const value = vars[words[3] ?? ''];
      return send(value === undefined ? 'ERR VAR-NOT-SUPPORTED' : `VAR ${ups} ${words[3]} "${value}"`);
    }
    if (words[0] === 'LIST' && words[1] === 'VAR') {
      if (words[2] !== ups) return send('ERR UNKNOWN-UPS');
      send(`BEGIN LIST VAR ${ups}`);
      for (const [name, value] of Object.entries(vars)) send(`VAR ${ups} ${name} "${value}"`);
      return send(`END LIST VAR ${ups}`);
    }
    send('ERR UNKNOWN-COMMAND');
  };
}

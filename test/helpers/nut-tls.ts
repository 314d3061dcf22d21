/**
 * STARTTLS on the test upsd (test/helpers/nut.ts), and a recording TCP proxy to see what crosses the wire.
 *
 * Debian builds NUT with NSS, so upsd takes its certificate from an NSS database (upsd.conf CERTPATH + CERTIDENT),
 * not from a PEM file (CERTFILE is the OpenSSL build's). The certificate is the bed's CA-signed serving certificate
 * (bed/certs.ts: SAN 127.0.0.1, localhost), imported with NSS's own certutil and pk12util (libnss3-tools).
 */
import { accessSync, constants } from 'node:fs';
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { createPki } from '../../bed/certs.js';
import type { NutServer } from './nut.js';

export const NSS_TOOLS = { certutil: '/usr/bin/certutil', pk12util: '/usr/bin/pk12util' } as const;
export const NSS_INSTALL = 'apt-get install -y --no-install-recommends libnss3-tools';

/** For `describe.skipIf`: prints why it skips; throws instead when CI=true. */
export function requireNssTools(env: NodeJS.ProcessEnv = process.env): boolean {
  for (const tool of Object.values(NSS_TOOLS)) {
    try {
      accessSync(tool, constants.X_OK);
    } catch {
      const message = `NSS tools unavailable: ${tool} is missing. Fix: ${NSS_INSTALL}`;
      if (env.CI === 'true') throw new Error(`${message} (CI=true: integration tests may not skip)`);
      console.warn(`SKIP ${message}`);
      return false;
    }
  }
  return true;
}

/** Gives the running upsd a certificate and restarts it; returns the CA's PEM that verifies it. */
export async function enableStartTls(server: NutServer): Promise<string> {
  const pkiDir = join(server.dir, 'pki');
  const db = join(server.dir, 'etc', 'nssdb');
  await mkdir(pkiDir, { mode: 0o700 });
  await mkdir(db, { mode: 0o700 });
  const pki = await createPki(pkiDir, 'openssl');
  const p12 = join(pkiDir, 'upsd.p12');
  const dbPassword = join(pkiDir, 'db-password');
  await writeFile(dbPassword, 'nss-db-secret\n', { mode: 0o600 });
  const run = (file: string, args: string[]) => execa(file, args, { stdin: 'ignore' });
  await run('openssl', [
    'pkcs12',
    '-export',
    '-in',
    pki.serving.certPath,
    '-inkey',
    pki.serving.keyPath,
    '-certfile',
    pki.ca.certPath,
    '-name',
    'upsd',
    '-out',
    p12,
    '-passout',
    'pass:p12-secret',
  ]);
  await run(NSS_TOOLS.certutil, ['-N', '-d', `sql:${db}`, '-f', dbPassword]);
  await run(NSS_TOOLS.pk12util, ['-i', p12, '-d', `sql:${db}`, '-k', dbPassword, '-W', 'p12-secret']);
  await appendFile(join(server.dir, 'etc', 'upsd.conf'), `CERTPATH ${db}\nCERTIDENT "upsd" "nss-db-secret"\n`);
  await server.stopUpsd();
  await server.startUpsd();
  return readFile(pki.ca.certPath, 'utf8');
}

/** A TCP proxy on 127.0.0.1 that keeps every byte each way, as a passive observer on the network would. */
export class RecordingProxy {
  readonly toServer: Buffer[] = [];
  readonly toClient: Buffer[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<RecordingProxy> {
    let self: RecordingProxy | undefined;
    const server = createServer((client) => self?.pipe(client, target));
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    self = new RecordingProxy(server, address.port);
    return self;
  }

  /** Everything sent either way, as latin1 text (so any byte sequence can be searched). */
  wire(): string {
    return Buffer.concat([...this.toServer, ...this.toClient]).toString('latin1');
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private pipe(client: Socket, target: { host: string; port: number }): void {
    const upstream = createConnection(target);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => this.sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => {
      this.toServer.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.toClient.push(chunk);
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  }
}

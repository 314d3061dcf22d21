/**
 * The bed's PKI, made with the openssl CLI: one CA that signs the API server's serving certificate and every
 * client certificate, plus the ServiceAccount token signing key. EC P-256 keys keep generation fast.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

export interface CertPair {
  certPath: string;
  keyPath: string;
}

export interface Pki {
  dir: string;
  ca: CertPair;
  serving: CertPair;
  /** ServiceAccount token signing key (private, PEM) and its public half. */
  serviceAccountKey: { privatePath: string; publicPath: string };
  /** A new client certificate signed by the CA; `groups` become O= entries (e.g. system:masters). */
  clientCert(user: string, groups?: readonly string[]): Promise<CertPair>;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function createPki(dir: string, openssl: string): Promise<Pki> {
  const ca = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
  await writeFile(join(dir, 'openssl.cnf'), OPENSSL_CONFIG);
  await run(openssl, [
    'req',
    '-x509',
    ...EC_KEY,
    '-config',
    join(dir, 'openssl.cnf'),
    '-extensions',
    'ca',
    '-keyout',
    ca.keyPath,
    '-out',
    ca.certPath,
    '-days',
    '7',
    '-subj',
    '/CN=hecate-bed-ca',
  ]);
  let serial = 0;
  const leaf = async (file: string, subject: string, extensions: string): Promise<CertPair> => {
    serial += 1;
    const pair = { certPath: join(dir, `${file}-${serial}.crt`), keyPath: join(dir, `${file}-${serial}.key`) };
    await run(openssl, [
      'req',
      '-x509',
      ...EC_KEY,
      '-config',
      join(dir, 'openssl.cnf'),
      '-extensions',
      extensions,
      '-CA',
      ca.certPath,
      '-CAkey',
      ca.keyPath,
      '-set_serial',
      String(Date.now() * 1000 + serial),
      '-keyout',
      pair.keyPath,
      '-out',
      pair.certPath,
      '-days',
      '7',
      '-subj',
      subject,
    ]);
    return pair;
  };
  const serving = await leaf('apiserver', '/CN=kube-apiserver', 'serving');
  const serviceAccountKey = await writeServiceAccountKey(dir);
  return {
    dir,
    ca,
    serving,
    serviceAccountKey,
    clientCert: (user, groups = []) => leaf(`client-${fileSafe(user)}`, subjectOf(user, groups), 'client'),
  };
}

async function writeServiceAccountKey(dir: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const privatePath = join(dir, 'sa.key');
  const publicPath = join(dir, 'sa.pub');
  await writeFile(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(publicPath, publicKey.export({ type: 'spki', format: 'pem' }));
  return { privatePath, publicPath };
}

/** Subject in openssl's `-subj` syntax; `/` and `\` in names are escaped. */
function subjectOf(user: string, groups: readonly string[]): string {
  const quote = (value: string) => value.replace(/[\\/]/g, (c) => `\\${c}`);
  return [...groups.map((g) => `/O=${quote(g)}`), `/CN=${quote(user)}`].join('');
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

async function run(openssl: string, args: string[]): Promise<void> {
  const result = await execa(openssl, args, { reject: false, stdin: 'ignore' });
  if (result.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
}

export async function readPem(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

const OPENSSL_CONFIG = `[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
[serving]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, IP:10.0.0.1
authorityKeyIdentifier = keyid
[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

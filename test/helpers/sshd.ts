/**
 * A real OpenSSH server on a loopback port, key-only, in a temporary folder (research/test-components.md §6). Its
 * own host key and client key; the system's /etc/ssh and service are untouched. The server logs in the user running
 * the tests (root included, with `PermitRootLogin prohibit-password`).
 *
 * NOTE: sshd must be started by absolute path, and needs /run/sshd (privilege separation) when started as root.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { onPath } from '../../bed/binaries.js';
import { freePorts } from '../../bed/ports.js';
import { type Component, logTail, spawnComponent } from '../../bed/processes.js';

export const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/bin/sshd'];

export type SshdAvailability =
  | { ok: true; sshd: string; ssh: string; sshKeygen: string; setpriv: string }
  | { ok: false; reason: string; fix: string };

export function sshdAvailability(env: NodeJS.ProcessEnv = process.env): SshdAvailability {
  const fix = 'apt-get install openssh-server openssh-client util-linux';
  const sshd = SSHD_CANDIDATES.find(existsSync);
  if (!sshd) return { ok: false, reason: 'sshd (openssh-server) is not installed', fix };
  const ssh = onPath('ssh', env);
  const sshKeygen = onPath('ssh-keygen', env);
  const setpriv = onPath('setpriv', env);
  if (!ssh || !sshKeygen) return { ok: false, reason: 'ssh or ssh-keygen (openssh-client) is not on PATH', fix };
  if (!setpriv) return { ok: false, reason: 'setpriv (util-linux) is not on PATH', fix };
  return { ok: true, sshd, ssh, sshKeygen, setpriv };
}

/** Like requireBed(): prints why and skips on a laptop, throws with CI=true. */
export function requireSshd(env: NodeJS.ProcessEnv = process.env): SshdAvailability {
  const availability = sshdAvailability(env);
  if (availability.ok) return availability;
  const message = `sshd unavailable: ${availability.reason}. Fix: ${availability.fix}`;
  if (env.CI === 'true') throw new Error(`${message} (CI=true: integration tests may not skip)`);
  console.warn(`SKIP ${message}`);
  return availability;
}

export interface Sshd {
  readonly dir: string;
  readonly port: number;
  readonly user: string;
  /** The authorised client key. */
  readonly keyFile: string;
  /** A key the server does not know. */
  readonly wrongKeyFile: string;
  /** A known_hosts file for the client (empty at first: accept-new fills it). */
  readonly knownHostsFile: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export async function startSshd(tools: Extract<SshdAvailability, { ok: true }>): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), 'hecate-sshd-'));
  await chmod(dir, 0o700);
  const keygen = (file: string) => execa(tools.sshKeygen, ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, file)]);
  await Promise.all([keygen('host_ed25519'), keygen('client_key'), keygen('wrong_key')]);
  await copyFile(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'));
  await chmod(join(dir, 'authorized_keys'), 0o600);
  await writeFile(join(dir, 'known_hosts'), '');
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const [port = 0] = await freePorts(1);
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_ed25519')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'UsePAM no',
    'StrictModes no',
    'LogLevel VERBOSE',
  ].join('\n');
  await writeFile(join(dir, 'sshd_config'), `${config}\n`);
  const logPath = join(dir, 'sshd.log');
  const server: Component = spawnComponent('sshd', tools.sshd, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
    setpriv: tools.setpriv,
    logPath,
  });
  try {
    await waitForPort(port, server);
  } catch (error) {
    await server.stop();
    throw new Error(`sshd did not start: ${(error as Error).message}\n${await logTail(logPath)}`);
  }
  return {
    dir,
    port,
    user: userInfo().username,
    keyFile: join(dir, 'client_key'),
    wrongKeyFile: join(dir, 'wrong_key'),
    knownHostsFile: join(dir, 'known_hosts'),
    log: () => readFile(logPath, 'utf8'),
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, server: Component, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.hasExited()) throw new Error(`sshd exited (${await server.exited})`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

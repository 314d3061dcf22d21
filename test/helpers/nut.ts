/**
 * A real NUT on loopback for integration tests: `/lib/nut/dummy-ups` and `/lib/nut/upsd` (Debian's nut-server,
 * started directly: /sbin/upsd is a wrapper that reads /etc/nut/nut.conf and exits) with their config, state and
 * port in a temp folder.
 *
 * NOTE: dummy-ups re-reads its .dev file only when the file's mtime, in whole seconds, differs from the last one it
 * read; an edit within the same second is missed. {@link NutServer.setDev} therefore gives every edit a new mtime
 * second and replaces the file atomically (the driver never sees half a file).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NutClient } from '../../adapters/ups/nut-client.js';
import { freePorts } from '../../bed/ports.js';

export const NUT_BIN = { upsd: '/lib/nut/upsd', dummyUps: '/lib/nut/dummy-ups' } as const;
export const NUT_INSTALL = 'apt-get install -y --no-install-recommends nut-server nut-client';

export type NutAvailability = { ok: true; setpriv?: string } | { ok: false; reason: string };

export function nutAvailability(): NutAvailability {
  for (const binary of Object.values(NUT_BIN)) {
    try {
      accessSync(binary, constants.X_OK);
    } catch {
      return { ok: false, reason: `${binary} is missing` };
    }
  }
  try {
    accessSync('/usr/bin/setpriv', constants.X_OK);
    return { ok: true, setpriv: '/usr/bin/setpriv' };
  } catch {
    return { ok: true };
  }
}

/** For test files: `describe.skipIf(!requireNut().ok)`. Prints why it skips; throws instead when CI=true. */
export function requireNut(env: NodeJS.ProcessEnv = process.env): NutAvailability {
  const availability = nutAvailability();
  if (availability.ok) return availability;
  const message = `NUT unavailable: ${availability.reason}. Fix: ${NUT_INSTALL}`;
  if (env.CI === 'true') throw new Error(`${message} (CI=true: integration tests may not skip)`);
  console.warn(`SKIP ${message}`);
  return availability;
}

export type DevVars = Record<string, string | number>;

export interface NutOptions {
  /** The UPS's variables, as in the .dev file (`battery.charge: 100`). */
  dev: DevVars;
  ups?: string;
  /** upsd.users: username → password; each user gets `upsmon secondary` (so LOGIN works). */
  users?: Record<string, string>;
  /** upsd MAXAGE, seconds: after this long without driver updates upsd answers ERR DATA-STALE. */
  maxAge?: number;
}

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
}

function devText(vars: DevVars): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}: ${v}\n`)
    .join('');
}

export class NutServer {
  readonly host = '127.0.0.1';
  private upsd: Proc | undefined;
  private driver: Proc | undefined;
  private mtimeSeconds = 0;

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly ups: string,
    private readonly setpriv: string | undefined,
  ) {}

  static async start(options: NutOptions): Promise<NutServer> {
    const availability = nutAvailability();
    if (!availability.ok) throw new Error(availability.reason);
    const dir = await mkdtemp(join(tmpdir(), 'hecate-nut-'));
    const [port] = await freePorts(1);
    const server = new NutServer(dir, port ?? 0, options.ups ?? 'ups', availability.setpriv);
    await server.writeConfig(options);
    await server.setDev(options.dev);
    await server.startDriver();
    await server.startUpsd();
    return server;
  }

  get devPath(): string {
    return join(this.dir, 'etc', `${this.ups}.dev`);
  }

  /** Replaces the .dev file with a new mtime second; returns when the file is in place (not yet read). */
  async setDev(vars: DevVars): Promise<void> {
    this.mtimeSeconds = Math.max(Math.floor(Date.now() / 1000), this.mtimeSeconds + 1);
    const temp = `${this.devPath}.tmp`;
    await writeFile(temp, devText(vars));
    await utimes(temp, this.mtimeSeconds, this.mtimeSeconds);
    await rename(temp, this.devPath);
  }

  async startDriver(): Promise<void> {
    await rm(join(this.dir, 'state', `dummy-ups-${this.ups}`), { force: true });
    this.driver = this.spawn('driver', NUT_BIN.dummyUps, ['-a', this.ups, '-F']);
  }

  async startUpsd(): Promise<void> {
    this.upsd = this.spawn('upsd', NUT_BIN.upsd, ['-F']);
    await this.waitReady();
  }

  async stopDriver(): Promise<void> {
    await stop(this.driver);
    this.driver = undefined;
  }

  async stopUpsd(): Promise<void> {
    await stop(this.upsd);
    this.upsd = undefined;
  }

  /** SIGSTOP / SIGCONT the driver: a hung driver, for DATA-STALE. */
  pauseDriver(paused: boolean): void {
    this.driver?.child.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }

  async log(name: 'upsd' | 'driver'): Promise<string> {
    return readFile(join(this.dir, `${name}.log`), 'utf8').catch(() => '');
  }

  async stop(): Promise<void> {
    this.pauseDriver(false);
    await Promise.all([this.stopUpsd(), this.stopDriver()]);
    await rm(this.dir, { recursive: true, force: true });
  }

  private async writeConfig(options: NutOptions): Promise<void> {
    const etc = join(this.dir, 'etc');
    await mkdir(etc, { recursive: true, mode: 0o700 });
    await mkdir(join(this.dir, 'state'), { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    const ups = `[${this.ups}]\n  driver = dummy-ups\n  port = ${this.devPath}\n  desc = "Hecate test UPS"\n  pollinterval = 1\n`;
    const users = Object.entries(options.users ?? {})
      .map(([name, password]) => `[${name}]\n  password = "${password}"\n  upsmon secondary\n`)
      .join('');
    await writeFile(join(etc, 'ups.conf'), ups, { mode: 0o600 });
    await writeFile(join(etc, 'upsd.conf'), `LISTEN 127.0.0.1 ${this.port}\nMAXAGE ${options.maxAge ?? 15}\n`, {
      mode: 0o600,
    });
    await writeFile(join(etc, 'upsd.users'), users, { mode: 0o600 });
    await writeFile(join(etc, 'nut.conf'), 'MODE=standalone\n', { mode: 0o600 });
  }

  private spawn(name: 'upsd' | 'driver', binary: string, args: string[]): Proc {
    const asRoot = process.getuid?.() === 0 ? ['-u', 'root'] : [];
    const [file, argv] = this.setpriv
      ? [this.setpriv, ['--pdeathsig', 'KILL', '--', binary, ...args, ...asRoot]]
      : [binary, [...args, ...asRoot]];
    const log = createWriteStream(join(this.dir, `${name}.log`), { flags: 'a' });
    const child = spawn(file, argv, {
      env: { ...process.env, NUT_CONFPATH: join(this.dir, 'etc'), NUT_STATEPATH: join(this.dir, 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    void exited.then(() => log.end());
    return { child, exited };
  }

  /** Ready = a variable answers (the port opens at once but answers ERR for ~3 s). */
  private async waitReady(): Promise<void> {
    const client = new NutClient({ host: this.host, port: this.port, timeoutMs: 1_000 });
    try {
      for (let attempt = 0; attempt < 150; attempt++) {
        const ok = await client.getVar(this.ups, 'ups.status').then(
          (status) => status !== 'WAIT',
          () => false,
        );
        if (ok) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`upsd on port ${this.port} did not answer within 15 s: ${await this.log('upsd')}`);
    } finally {
      await client.close();
    }
  }
}

/** SIGTERM, then SIGKILL after 5 s (drivers take up to ~1.7 s to finish their sleep). */
async function stop(proc: Proc | undefined): Promise<void> {
  if (!proc || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGCONT');
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5_000);
  await proc.exited;
  clearTimeout(timer);
}

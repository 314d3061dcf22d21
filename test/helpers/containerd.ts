/**
 * A real containerd (Debian's) whose root, state and socket live in a temporary folder, so `ctr` imports into it
 * and the machine's own containerd, if any, is untouched (research/test-components.md §2). CRI is disabled: the
 * tests import and list images, nothing runs.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { onPath } from '../../bed/binaries.js';
import { type Component, logTail, spawnComponent } from '../../bed/processes.js';

export type ContainerdAvailability =
  | { ok: true; containerd: string; ctr: string; setpriv: string }
  | { ok: false; reason: string; fix: string };

export function containerdAvailability(env: NodeJS.ProcessEnv = process.env): ContainerdAvailability {
  const fix = 'apt-get install containerd zstd util-linux';
  const containerd = onPath('containerd', env);
  const ctr = onPath('ctr', env);
  const setpriv = onPath('setpriv', env);
  if (!containerd || !ctr) return { ok: false, reason: 'containerd or ctr is not on PATH', fix };
  if (!onPath('zstd', env)) return { ok: false, reason: 'zstd is not on PATH', fix };
  if (!setpriv) return { ok: false, reason: 'setpriv is not on PATH', fix };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'containerd needs root here (snapshotter mounts)', fix };
  return { ok: true, containerd, ctr, setpriv };
}

/** Prints why and returns the reason to skip on a laptop; throws with CI=true. */
export function requireContainerd(env: NodeJS.ProcessEnv = process.env): ContainerdAvailability {
  const availability = containerdAvailability(env);
  if (availability.ok) return availability;
  const message = `containerd unavailable: ${availability.reason}. Fix: ${availability.fix}`;
  if (env.CI === 'true') throw new Error(`${message} (CI=true: integration tests may not skip)`);
  console.warn(`SKIP ${message}`);
  return availability;
}

export interface Containerd {
  readonly dir: string;
  readonly address: string;
  readonly ctr: string;
  /** ctr's argv prefix for this daemon in the k8s.io namespace. */
  readonly ctrArgs: string[];
  /** `ctr images ls` as { reference, digest }. */
  images(): Promise<{ reference: string; digest: string }[]>;
  /** Stops the daemon (SIGTERM, then SIGKILL); its folder stays so that `start` brings back its content. */
  kill(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts the daemon again on the same folder. */
  start(): Promise<void>;
  running(): boolean;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export async function startContainerd(tools: Extract<ContainerdAvailability, { ok: true }>): Promise<Containerd> {
  const dir = await mkdtemp(join(tmpdir(), 'hecate-containerd-'));
  const address = join(dir, 'containerd.sock');
  const config = [
    'version = 2',
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${address}"`,
    '[ttrpc]',
    `  address = "${address}.ttrpc"`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
  ].join('\n');
  await writeFile(join(dir, 'config.toml'), `${config}\n`);
  const logPath = join(dir, 'containerd.log');
  const ctrArgs = ['--address', address, '--connect-timeout', '1s', '-n', 'k8s.io'];
  let daemon: Component | undefined;
  const start = async () => {
    daemon = spawnComponent('containerd', tools.containerd, ['--config', join(dir, 'config.toml')], {
      setpriv: tools.setpriv,
      logPath,
    });
    for (let i = 0; i < 200; i++) {
      if (daemon.hasExited()) break;
      const probe = await execa(tools.ctr, [...ctrArgs, 'version'], { reject: false });
      if (probe.exitCode === 0) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await daemon.stop();
    throw new Error(`containerd did not start:\n${await logTail(logPath)}`);
  };
  await start();
  return {
    dir,
    address,
    ctr: tools.ctr,
    ctrArgs,
    images: async () => {
      const { stdout } = await execa(tools.ctr, [...ctrArgs, 'images', 'ls']);
      return stdout
        .split('\n')
        .slice(1)
        .map((line) => /^(\S+)\s+\S+\s+(sha256:[0-9a-f]{64})/.exec(line))
        .flatMap((m) => (m?.[1] && m[2] ? [{ reference: m[1], digest: m[2] }] : []));
    },
    kill: async (signal = 'SIGKILL') => {
      await daemon?.stop(signal === 'SIGKILL' ? 0 : 3000);
    },
    start,
    running: () => daemon !== undefined && !daemon.hasExited(),
    log: () => logTail(logPath, 200),
    stop: async () => {
      await daemon?.stop();
      // NOTE: the snapshotter may leave mounts only while running; after a clean stop the folder removes cleanly.
      if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
    },
  };
}

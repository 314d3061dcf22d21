/**
 * The power-off script on this host, with fake k3s shims (a script at a `k3s/data/<hash>/bin/containerd-shim-*`
 * path in a temporary folder): the other shims' containers are stopped, the script's own shim is spared, then the
 * command runs. No k3s is touched: the service stop only acts on /etc/systemd/system/k3s*.service, which a test host
 * does not have (asserted).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootIdOf,
  POWER_OFF_MARKER,
  powerOffArgv,
  powerOffScript,
  STALE_BOOT_MARKER,
} from '../../../adapters/node-access/power-off-script.js';

const hasK3s = ['/etc/systemd/system/k3s.service', '/etc/systemd/system/k3s-agent.service'].some(existsSync);

describe('powerOffScript text', () => {
  it('stops the k3s services like k3s-killall.sh, spares its own ancestors, then prints the marker and execs the command', () => {
    const script = powerOffScript({ containerGraceSeconds: 3 });
    expect(script).toContain('for unit in /etc/systemd/system/k3s*.service; do [ -s "$unit" ] && systemctl stop');
    expect(script).toContain('for service in /etc/init.d/k3s*; do [ -x "$service" ] && "$service" stop; done');
    expect(script).toContain("grep -q 'k3s/data/[^/]*/bin/containerd-shim'");
    expect(script).toContain('while [ "$i" -lt 3 ]');
    expect(script.split('\n').slice(-3)).toEqual(['sync', `echo '${POWER_OFF_MARKER}'`, 'exec "$@"']);
  });
  it('without stopK3s, only syncs and runs the command', () => {
    expect(powerOffScript({ stopK3s: false })).not.toContain('systemctl');
  });
  it('refuses a grace period that is not a small integer', () => {
    expect(() => powerOffScript({ containerGraceSeconds: 1.5 })).toThrow(RangeError);
  });
  it('parses with sh -n', async () => {
    await execa('sh', ['-n', '-c', powerOffScript()]);
  });
});

describe.skipIf(process.platform !== 'linux')("the boot guard, run by sh against this host's boot ID", () => {
  const run = (bootId: string) => {
    const [sh = 'sh', ...args] = powerOffArgv(['echo', 'the command ran'], { stopK3s: false, bootId });
    return execa(sh, args, { reject: false });
  };
  let booted: string;
  beforeAll(async () => {
    booted = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  });

  it('given the boot this host is on, then the command runs', async () => {
    const result = await run(booted);
    expect(result.exitCode).toBe(0);
    expect(result.stdout.split('\n')).toEqual([POWER_OFF_MARKER, 'the command ran']);
  });
  it('given another boot (the host went down and came back since the request), then it exits 0 saying so, and the command does not run', async () => {
    const other = '00000000-0000-4000-8000-000000000000';
    const result = await run(other);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe(
      `${STALE_BOOT_MARKER} (${other}); this host has booted since (${booted}): not powering off`,
    );
  });
  it("names the boot in the argv, where a reader (the bed's kubelet) finds it, and refuses one that is not a boot ID", () => {
    expect(bootIdOf(powerOffArgv(['true'], { bootId: 'abc-123' }))).toBe('abc-123');
    expect(bootIdOf(powerOffArgv(['true']))).toBeUndefined();
    expect(() => powerOffScript({ bootId: "x'; reboot; '" })).toThrow(/bootId must be a boot ID/);
  });
});

describe.skipIf(hasK3s || process.platform !== 'linux')('powerOffScript on this host, with fake k3s shims', () => {
  let dir: string;
  let shim: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-poweroff-'));
    const bin = join(dir, 'k3s', 'data', 'f00d', 'bin');
    await mkdir(bin, { recursive: true });
    shim = join(bin, 'containerd-shim-runc-v2');
    // A fake shim runs its "container" ($1) as a child and waits, as a real shim does.
    await writeFile(shim, '#!/bin/sh\nsh -c "$1" &\nwait\n');
    await chmod(shim, 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stops other containers (SIGTERM first), spares its own container, then runs the command', async () => {
    const other = execa(
      shim,
      [`trap 'echo term > ${dir}/other; exit 0' TERM; echo up > ${dir}/ready; sleep 60 & wait`],
      {
        reject: false,
      },
    );
    // NOTE: wait until the other container's trap is installed; a fixed sleep raced on a loaded machine.
    for (let i = 0; i < 200 && !existsSync(join(dir, 'ready')); i++) await new Promise((r) => setTimeout(r, 50));
    const argv = powerOffArgv(['sh', '-c', `echo "$@" > ${dir}/command`, 'cmd', 'poweroff', '--now'], {
      containerGraceSeconds: 3,
    });
    const quoted = argv.map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(' ');
    const mine = await execa(shim, [quoted], { timeout: 20_000 });
    expect(mine.stdout).toContain(POWER_OFF_MARKER);
    expect((await readFile(join(dir, 'command'), 'utf8')).trim()).toBe('poweroff --now');
    expect((await readFile(join(dir, 'other'), 'utf8')).trim()).toBe('term');
    const result = await other;
    expect(result.exitCode ?? result.signal).toBeDefined(); // the other shim is gone
  });
});

/**
 * NUT's own hooks: a real `upsmon` (Debian's nut-client) watches the real upsd + dummy-ups as a
 * primary, with the SHUTDOWNCMD and NOTIFYCMD lines examples/nut/upsmon.conf documents: `hecate shutdown --emergency
 * --execute ...; /sbin/shutdown -h +0` (the host power-off is a marker file here). The test drives the UPS to OB LB through the .dev file and checks on
 * the bed that the emergency shutdown ran: every node off, Flux suspended, the outage recorded with upsmon's reason.
 * Then, with the API server stopped, the same hook exits 4 at once having changed nothing, and the host part of
 * SHUTDOWNCMD still runs (the `;`, not `&&`, in the documented line).
 *
 * upsmon writes its PID file to /run/nut (compiled in; NUT_ALTPIDPATH does not move it in 2.8.0), so it runs in a
 * mount namespace of its own with a tmpfs there (`unshare --mount`): root only, and the host's /run/nut is left alone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, createWriteStream } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2e, listFlux, startE2e } from '../../bed/e2e.js';
import { REPO_ROOT, requireBed } from '../../bed/index.js';
import { eventually } from '../../bed/simulators.js';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import { NutServer, requireNut } from '../helpers/nut.js';

const bed = requireBed();
const nut = requireNut();
const UPSMON = '/lib/nut/upsmon';
const upsmon = nut.ok && requireUpsmon();
const ON_LINE = { 'ups.status': 'OL', 'battery.charge': 100, 'battery.runtime': 3600 };
const CRITICAL = { 'ups.status': 'OB LB', 'battery.charge': 8, 'battery.runtime': 90 };
/** upsd.users / upsmon.conf: NUT 2.8's upsmon sends the password unquoted, so it may not hold a space. */
const MONITOR_PASSWORD = 'upsmon-pw-42';
const REASON = 'upsmon: UPS critical';

function requireUpsmon(env: NodeJS.ProcessEnv = process.env): boolean {
  const missing = [UPSMON, '/usr/bin/unshare'].find((f) => {
    try {
      accessSync(f, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  const why = missing
    ? `${missing} is missing (apt-get install nut-client util-linux)`
    : process.getuid?.() !== 0
      ? 'upsmon runs in a mount namespace of its own, which needs root'
      : undefined;
  if (!why) return true;
  if (env.CI === 'true') throw new Error(`upsmon test: ${why} (CI=true: integration tests may not skip)`);
  console.warn(`SKIP upsmon test: ${why}`);
  return false;
}

describe.skipIf(!bed.ok || !nut.ok || !upsmon)('upsmon SHUTDOWNCMD → hecate shutdown --emergency --execute', () => {
  let e2e: E2e;
  let ups: NutServer;
  let dir: string;
  let monitor: ChildProcess | undefined;

  /**
   * upsmon.conf: the lines examples/nut/upsmon.conf documents, with this bed's paths, the host power-off replaced by a
   * marker file, the hook's exit code kept, and a NOTIFYCMD that records; plus the MONITOR line and fast polling.
   */
  const upsmonConf = async (run: string) => {
    const example = await readFile(join(REPO_ROOT, 'examples/nut/upsmon.conf'), 'utf8');
    const documented = /^SHUTDOWNCMD "(.*)"$/m.exec(example)?.[1] ?? '';
    const shutdownCmd = replaceAll(documented, [
      ['/usr/local/bin/hecate', join(dir, 'bin', 'hecate')],
      ['--plan /root/hecate-repo/clusters/atlas/hecate/powerplan.yaml', `--plan ${e2e.planPath}`],
      ['--kubeconfig /root/.kube/config', `--kubeconfig ${e2e.kubeconfig}`],
      ['; /sbin/shutdown -h +0', `; echo $? >${dir}/${run}.exit; touch ${dir}/${run}.host-poweroff`],
    ]);
    const notify = example
      .split('\n')
      .filter((line) => /^NOTIFY(CMD|FLAG) /.test(line))
      .map((line) =>
        line.startsWith('NOTIFYCMD ')
          ? replaceAll(line, [['/usr/bin/logger -t hecate-upsmon', `${dir}/notify`]])
          : line,
      );
    return [
      'RUN_AS_USER root',
      `MONITOR ${ups.ups}@${ups.host}:${ups.port} 1 upsmon ${MONITOR_PASSWORD} primary`,
      'MINSUPPLIES 1',
      `SHUTDOWNCMD "${shutdownCmd}"`,
      ...notify,
      'POLLFREQ 1',
      'POLLFREQALERT 1',
      // a primary waits HOSTSYNC for its secondaries, then FINALDELAY before SHUTDOWNCMD; none here
      'HOSTSYNC 1',
      'FINALDELAY 0',
      `POWERDOWNFLAG ${dir}/killpower`,
      '',
    ].join('\n');
  };

  /** Starts upsmon in a mount namespace with its own /run/nut; resolves once it has logged in to upsd. */
  const startUpsmon = async (run: string) => {
    await writeFile(join(ups.dir, 'etc', 'upsmon.conf'), await upsmonConf(run), { mode: 0o600 });
    await mkdir('/run/nut', { recursive: true });
    const script = `mount -t tmpfs -o size=1m hecate-upsmon /run/nut && exec ${UPSMON} -F -u root`;
    const log = createWriteStream(join(dir, `${run}.upsmon.log`));
    const child = spawn(
      'setpriv',
      ['--pdeathsig', 'KILL', '--', 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script],
      {
        cwd: dir,
        env: { ...e2e.env, NUT_CONFPATH: join(ups.dir, 'etc'), NUT_STATEPATH: join(ups.dir, 'state') },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    monitor = child;
    await eventually(
      'upsmon to log in to upsd',
      async () => /User upsmon@127\.0\.0\.1 logged into UPS/.test(await ups.log('upsd')),
      { timeoutMs: 15_000 },
    );
  };

  const stopUpsmon = async () => {
    const child = monitor;
    monitor = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  /** Drives the UPS to OB LB and waits for the hook to finish; returns its exit code, output and timings. */
  const critical = async (run: string) => {
    const changed = Date.now();
    await ups.setDev(CRITICAL);
    const exitFile = join(dir, `${run}.exit`);
    await eventually('the SHUTDOWNCMD hook to finish', async () => (await readText(exitFile)) !== undefined, {
      timeoutMs: 150_000,
    });
    const log = (await readText(join(dir, `${run}.log`))) ?? '';
    const hookStarted = (await notifications()).find((n) => n.type === 'SHUTDOWN' && n.run === run)?.at ?? changed;
    const exited = (await stat(exitFile)).mtimeMs;
    const poweroff = await stat(join(dir, `${run}.host-poweroff`)).catch(() => undefined);
    return {
      code: Number((await readText(exitFile))?.trim()),
      log,
      toHookMs: hookStarted - changed,
      hookMs: exited - hookStarted,
      hostPoweroffAfterHook: poweroff !== undefined && poweroff.mtimeMs >= exited,
    };
  };

  const notifications = async () =>
    ((await readText(join(dir, 'notify.log'))) ?? '')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [at, run, type] = line.split(' ');
        return { at: Number(at) * 1000, run, type };
      });

  let run = 'first';

  beforeAll(async () => {
    ups = await NutServer.start({ dev: ON_LINE });
    await writeFile(
      join(ups.dir, 'etc', 'upsd.users'),
      `[upsmon]\n  password = ${MONITOR_PASSWORD}\n  upsmon primary\n`,
      { mode: 0o600 },
    );
    await ups.stopUpsd();
    await ups.startUpsd();
    e2e = await startE2e();
    dir = join(e2e.dir, 'upsmon');
    await mkdir(join(dir, 'bin'), { recursive: true });
    // the bed's plan, with the real UPS as its source
    const plan = fromYaml(await readFile(e2e.planPath, 'utf8')) as { spec: Record<string, unknown> };
    plan.spec.ups = { source: 'nut', nut: { host: ups.host, port: ups.port, ups: ups.ups }, pollInterval: '1s' };
    await writeFile(e2e.planPath, toYaml(plan));
    // `hecate` on the control host; here the TypeScript entry point through tsx
    // what it prints goes to upsmon's output (the journal, under systemd); here into a file per run
    await writeExecutable(
      join(dir, 'bin', 'hecate'),
      `#!/bin/sh\ncd ${REPO_ROOT} && exec ${process.execPath} --import tsx ${REPO_ROOT}/cli/main.ts "$@" >>${dir}/$(cat ${dir}/run).log 2>&1\n`,
    );
    await writeExecutable(
      join(dir, 'notify'),
      `#!/bin/sh\necho "$(date +%s.%N) $(cat ${dir}/run) $NOTIFYTYPE $UPSNAME" >>${dir}/notify.log\n`,
    );
  });

  afterAll(async () => {
    await stopUpsmon();
    await ups?.stop();
    await e2e?.stop();
  });

  it('on OB LB upsmon runs the emergency shutdown: every node off, Flux suspended, the outage recorded with its reason', async () => {
    run = 'first';
    await writeFile(join(dir, 'run'), run);
    await startUpsmon(run);
    const result = await critical(run);
    expect(result.code, result.log.slice(-3000)).toBe(0);
    const nodes = e2e.sims.kubelet.nodeNames;
    await eventually('every node to be off', () => nodes.every((n) => !e2e.sims.kubelet.isOn(n)), {
      timeoutMs: 10_000,
    });
    const state = await e2e.state();
    expect(state?.progress?.mode).toBe('emergency-shutdown');
    expect(state?.progress?.steps.filter((s) => s.state !== 'done').map((s) => s.id)).toEqual([]);
    expect(state?.outage?.reason).toContain(REASON);
    expect([...(state?.outage?.poweredOff ?? [])].sort()).toEqual([...nodes].sort());
    const flux = [...(await listFlux(e2e.plane, 'Kustomization')), ...(await listFlux(e2e.plane, 'HelmRelease'))];
    expect(flux.filter((o) => o.spec?.suspend !== true).map((o) => o.metadata?.name)).toEqual([]);
    // upsmon noticed on battery and low and announced the shutdown, then ran the host part of SHUTDOWNCMD
    // NOTE: not their order: upsmon forks NOTIFYCMD for each, and LOWBATT and SHUTDOWN come in the same poll, so the
    // two recorders race (CI saw SHUTDOWN written first)
    const seen = (await notifications()).filter((n) => n.run === run).map((n) => n.type);
    expect(seen).toEqual(expect.arrayContaining(['ONBATT', 'LOWBATT', 'SHUTDOWN']));
    expect(result.hostPoweroffAfterHook).toBe(true);
    expect(await readText(join(dir, 'killpower'))).toBeDefined(); // upsmon's POWERDOWNFLAG, for the UPS kill
    console.info(
      `upsmon: OB LB → SHUTDOWNCMD after ${(result.toHookMs / 1000).toFixed(1)} s; hecate shutdown --emergency --execute took ${(result.hookMs / 1000).toFixed(1)} s`,
    );
  });

  it('with the API server gone, the hook exits 4 at once having changed nothing, and the host still powers off', async () => {
    await stopUpsmon();
    run = 'api-gone';
    await writeFile(join(dir, 'run'), run);
    // power back; upsd restarted, which clears the FSD flag the primary set
    await ups.setDev(ON_LINE);
    await ups.stopUpsd();
    await ups.startUpsd();
    const before = await readFile(e2e.statePath, 'utf8');
    await e2e.plane.stopApiServer();
    await startUpsmon(run);
    const result = await critical(run);
    expect(result.code, result.log).toBe(4);
    expect(result.log).toMatch(/cannot reach the API server .*Nothing was recorded or changed/);
    expect(result.hookMs).toBeLessThan(30_000);
    expect(await readFile(e2e.statePath, 'utf8')).toBe(before);
    expect(result.hostPoweroffAfterHook).toBe(true);
    console.info(`upsmon with the API gone: hecate exited 4 after ${(result.hookMs / 1000).toFixed(1)} s`);
  });
});

/** Each `from` must be in `text` (the documented line changed otherwise), replaced by `to`. */
function replaceAll(text: string, pairs: [from: string, to: string][]): string {
  return pairs.reduce((out, [from, to]) => {
    if (!out.includes(from)) throw new Error(`examples/nut/upsmon.conf no longer holds "${from}"`);
    return out.split(from).join(to);
  }, text);
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

async function writeExecutable(path: string, text: string): Promise<void> {
  await writeFile(path, text);
  await chmod(path, 0o755);
}

/**
 * The SSH transport against a real sshd on a loopback port. The "power-off command" is a harmless stand-in
 * executable in a temporary folder that records its call; one variant also kills its own SSH session, as a host
 * that goes down does.
 *
 * NOTE: the power-off script runs with stopK3s: false here. Its k3s part is exercised against fake k3s shims in
 * test/adapters/node-access/power-off-script.test.ts; running it here could kill that test's fake shims when both
 * files run at the same time.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshError, SshNodeAccess, type SshOptions } from '../../adapters/node-access/ssh.js';
import { systemClock } from '../../adapters/system.js';
import { workersTogether } from '../../bed/e2e.js';
import { freePorts } from '../../bed/ports.js';
import { outageRecord } from '../../core/api/index.js';
import { compilePlan } from '../../core/plan/index.js';
import type { NodePort, NodeView } from '../../core/ports/index.js';
import { runPlan } from '../../core/run/runner.js';
import { powerOffNode } from '../../core/steps/power.js';
import { atlasInput } from '../helpers/atlas.js';
import { MemoryStore, silentLogger } from '../helpers/fakes.js';
import { requireSshd, type Sshd, startSshd } from '../helpers/sshd.js';

const tools = requireSshd();

describe.skipIf(!tools.ok)('SSH transport against a real sshd on loopback', () => {
  let sshd: Sshd;
  let work: string;
  let standIn: string;
  let dropper: string;
  let crictl: string;
  const calls = () =>
    readFile(join(work, 'calls'), 'utf8').then(
      (t) => t.trim().split('\n'),
      () => [] as string[],
    );

  beforeAll(async () => {
    if (!tools.ok) return;
    sshd = await startSshd(tools);
    work = await mkdtemp(join(tmpdir(), 'hecate-ssh-work-'));
    const script = async (name: string, body: string) => {
      const path = join(work, name);
      await writeFile(path, `#!/bin/sh\n${body}\n`);
      await chmod(path, 0o755);
      return path;
    };
    // Records who called it and with what, then exits 0, or N when its first argument is exit=N.
    standIn = await script(
      'poweroff-stand-in',
      `echo "$(id -un) $*" >> ${work}/calls\ncase "$1" in exit=*) exit "\${1#exit=}" ;; esac`,
    );
    // Records, then kills the sshd process serving its session: the connection drops as when the host goes down.
    dropper = await script(
      'poweroff-dropper',
      [
        `echo "$(id -un) $*" >> ${work}/calls`,
        'p=$PPID',
        'while [ "$p" -gt 1 ]; do',
        '  case "$(cat /proc/$p/comm)" in sshd*) kill -9 "$p"; exit 0 ;; esac',
        `  p=$(sed -n 's/^PPid:[[:space:]]*//p' /proc/$p/status)`,
        'done',
      ].join('\n'),
    );
    // A crictl stand-in: inspecti fails until pull has run once.
    crictl = await script(
      'crictl',
      [
        `case "$1" in`,
        `  inspecti) [ -f ${work}/pulled ] ;;`,
        `  pull) echo "pull $2" >> ${work}/calls; touch ${work}/pulled; echo "Image is up to date for $2" ;;`,
        `  *) exit 2 ;;`,
        'esac',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const options = (extra: Partial<SshOptions> = {}): SshOptions => ({
    user: sshd.user,
    keyFile: sshd.keyFile,
    port: sshd.port,
    knownHostsFile: sshd.knownHostsFile,
    connectTimeoutSeconds: 5,
    script: { stopK3s: false },
    crictl: [crictl],
    ...extra,
  });
  const node = { name: 'titan-04', address: '127.0.0.1' };

  it('runs the power-off command as the SSH user, with its arguments intact, and remembers the new host key', async () => {
    await rm(join(work, 'calls'), { force: true });
    const started = Date.now();
    await new SshNodeAccess(options()).powerOff(node, [standIn, 'poweroff', 'now please']);
    console.info(`ssh power-off round trip: ${Date.now() - started} ms`);
    expect(await calls()).toEqual([`${sshd.user} poweroff now please`]);
    expect(await readFile(sshd.knownHostsFile, 'utf8')).toContain('ssh-ed25519');
  });

  it('counts a session that drops after the command was sent (ssh exit 255) as delivered', async () => {
    await rm(join(work, 'calls'), { force: true });
    await new SshNodeAccess(options()).powerOff(node, [dropper, 'poweroff']);
    expect(await calls()).toEqual([`${sshd.user} poweroff`]);
  });

  it('fails when the command itself fails, with its exit code', async () => {
    const error = await new SshNodeAccess(options()).powerOff(node, [standIn, 'exit=3']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SshError);
    expect((error as SshError).exitCode).toBe(3);
    expect((error as Error).message).toMatch(/power-off on .* failed \(exit 3\)/);
  });

  it.each([
    ['an unknown key', () => ({ keyFile: sshd.wrongKeyFile }), /Permission denied/],
    ['a port where nothing listens', async () => ({ port: (await freePorts(1))[0] }), /Connection refused/],
  ])('given %s, then it fails saying the command was not sent, and nothing ran', async (_what, extra, stderr) => {
    await rm(join(work, 'calls'), { force: true });
    const error = await new SshNodeAccess(options(await extra()))
      .powerOff(node, [standIn, 'poweroff'])
      .catch((e: unknown) => e);
    expect((error as SshError).exitCode).toBe(255);
    expect((error as Error).message).toMatch(/the power-off command was not sent/);
    expect((error as Error).message).toMatch(stderr);
    expect(await calls()).toEqual([]);
  });

  it('in a dry run only proves the connection: nothing runs', async () => {
    await rm(join(work, 'calls'), { force: true });
    await new SshNodeAccess(options()).powerOff(node, [standIn, 'poweroff'], { dryRun: true });
    expect(await calls()).toEqual([]);
  });

  it('pulls an image with the CRI client once, then finds it present', async () => {
    await rm(join(work, 'calls'), { force: true });
    const access = new SshNodeAccess(options());
    expect(await access.ensureImage(node, 'docker.io/library/busybox:1.37', { dryRun: true })).toMatchObject({
      present: false,
    });
    expect(await access.ensureImage(node, 'docker.io/library/busybox:1.37')).toEqual({
      present: true,
      message: 'pulled',
    });
    expect(await access.ensureImage(node, 'docker.io/library/busybox:1.37')).toEqual({
      present: true,
      message: 'already on the node',
    });
    expect(await calls()).toEqual(['pull docker.io/library/busybox:1.37']);
  });

  it('through the power-off executor: every Atlas node in order, each recorded before its command ran, none twice on a rerun', async () => {
    await rm(join(work, 'calls'), { force: true });
    const input = atlasInput();
    input.spec.powerOff = { ...input.spec.powerOff, command: [standIn], delayBetweenNodes: '0s' };
    input.spec.nodes = input.spec.nodes.map((n) => ({ ...n, address: '127.0.0.1' }));
    const store = new MemoryStore({ outage: outageRecord.parse({}) });
    const recordedAtCall: boolean[] = [];
    // A node is NotReady once the stand-in has run as often as its place in the order says.
    const order: string[] = [];
    const nodes: NodePort = {
      list: async () => [],
      get: async (name): Promise<NodeView> => {
        const ran = (await calls()).length;
        return { name, ready: order.indexOf(name) >= ran, unschedulable: false };
      },
      cordon: async () => {},
      uncordon: async () => {},
    };
    const access = new SshNodeAccess(options());
    const recording = {
      ensureImage: access.ensureImage.bind(access),
      powerOff: async (...args: Parameters<SshNodeAccess['powerOff']>) => {
        recordedAtCall.push((await store.load())?.outage.poweredOff.includes(args[0].name) ?? false);
        order.push(args[0].name);
        return access.powerOff(...args);
      },
    };
    const plan = compilePlan('shutdown', input);
    const steps = plan.steps.filter((s) => s.kind === 'power-off-node');
    const run = () =>
      runPlan({
        plan: { ...plan, steps },
        action: 'shutdown',
        executors: { 'power-off-node': powerOffNode(recording, nodes, input.spec, { intervalMs: 100 }) },
        store,
        clock: systemClock,
        logger: silentLogger,
      });
    await run();
    expect(workersTogether(order, ['titan-04', 'titan-05', 'titan-06', 'titan-07'])).toEqual([
      'titan-04',
      'titan-05',
      'titan-06',
      'titan-07',
      'titan-03',
      'titan-02',
      'titan-01',
    ]);
    expect(recordedAtCall.every(Boolean)).toBe(true);
    expect(await calls()).toHaveLength(7);
    // A rerun of a finished plan, and a rerun from scratch with the same outage record: nothing is sent again.
    await run();
    const fresh = new MemoryStore({ outage: structuredClone(store.latest?.outage) as never });
    await runPlan({
      plan: { ...plan, steps },
      action: 'shutdown',
      executors: { 'power-off-node': powerOffNode(recording, nodes, input.spec, { intervalMs: 100 }) },
      store: fresh,
      clock: systemClock,
      logger: silentLogger,
    });
    expect(await calls()).toHaveLength(7);
  });
});

/**
 * The control plane loses its quorum on the way down. The Atlas control plane is three k3s servers
 * with embedded etcd: once titan-02 and titan-01 are off, the API answers nothing. The operator runs as a real
 * process told it runs on titan-03 (--node-name), with `powerOff.method: ssh` against a real sshd on loopback; the
 * API server is stopped right after the second control-plane power-off reaches its host. It must still deliver
 * every control-plane power-off in order, the status found when the API is back must be the one written before
 * the first of them, naming them all, and a restarted operator must send none again.
 *
 * The test's network: an `ssh` first on the operator's PATH sends every node's session to the loopback sshd and
 * tells the far side which host it stands for (HECATE_TEST_HOST); the far side runs in its own PID namespace when
 * it can (root), as a separate host would, so the power-off script's k3s part sees no other test's processes. The
 * power-off command is a stand-in that records the host and the time; titan-03's takes a few seconds, as a host's
 * shutdown does, long enough for the operator to lose its Lease to the dead API while it delivers.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workersTogether } from '../../bed/e2e.js';
import { type AuditEvent, requireBed } from '../../bed/index.js';
import { NS, type OperatorBed, startOperatorBed } from '../../bed/operator/index.js';
import { OperatorProcess, sleep } from '../../bed/operator/process.js';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import { getCondition } from '../../core/status/conditions.js';
import { requireSshd, type Sshd, startSshd } from '../helpers/sshd.js';

const bed = requireBed();
const tools = requireSshd();
const SELF = 'titan-03';
const WORKERS = ['titan-04', 'titan-05', 'titan-06', 'titan-07'];
const CONTROL_PLANE = ['titan-02', 'titan-01', SELF]; // the plan's order with the operator on titan-03
const ORDER = [...WORKERS, ...CONTROL_PLANE];
const LAST_WORDS =
  "powering off the control plane: titan-02, titan-01, then titan-03 (this operator's node); the API loses quorum on the way, so this is the last status this operator writes";
const SHUTDOWN_MS = 6_000; // how long titan-03's stand-in takes: past the 3 s renew deadline of the test's Lease
const FAST = ['--lease-duration', '4s', '--renew-deadline', '3s', '--retry-period', '500ms', '--wait-requeue', '1s'];

interface Call {
  host: string;
  atMs: number;
}

const isStatusWrite = (e: AuditEvent) =>
  e.objectRef?.resource === 'powerevents' &&
  e.objectRef.subresource === 'status' &&
  e.verb === 'patch' &&
  e.responseStatus?.code === 200;
const isPodCreate = (e: AuditEvent) =>
  e.verb === 'create' && e.objectRef?.resource === 'pods' && !e.objectRef.subresource;

describe.skipIf(!bed.ok || !tools.ok)('operator: the control plane loses its quorum on the way down (ssh)', () => {
  let b: OperatorBed;
  let sshd: Sshd;
  let work: string;
  let bin: string;
  const calls = async (): Promise<Call[]> => {
    const text = await readFile(join(work, 'calls'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [host = '', ns = '0'] = line.split(' ');
        return { host, atMs: Number(BigInt(ns) / 1_000_000n) };
      });
  };
  const startOperator = (identity: string) => {
    const op = new OperatorProcess({
      kubeconfig: b.saKubeconfig,
      identity,
      args: ['--namespace', NS, '--lease-namespace', NS, ...FAST, '--shutdown-grace', '1s', '--node-name', SELF],
      env: { HOME: b.e2e.home, PATH: `${bin}:${process.env.PATH ?? ''}` },
    });
    b.operators.push(op); // killed with the bed
    return op;
  };

  beforeAll(async () => {
    if (!tools.ok) return;
    sshd = await startSshd(tools);
    // every "host" is this machine (the loopback sshd): the nodes report its boot ID, which the power-off script's
    // boot guard reads there
    const thisBoot = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
    b = await startOperatorBed({ drainTimeout: '8s', bootId: () => thisBoot });
    work = await mkdtemp(join(tmpdir(), 'hecate-quorum-'));
    bin = join(work, 'bin');
    const script = async (path: string, body: string) => {
      await writeFile(path, body);
      await chmod(path, 0o755);
      return path;
    };
    await mkdir(bin);
    // Records the host it ran on and the time (ns); titan-03 takes a while to get there, as a host going down does.
    const standIn = await script(
      join(work, 'poweroff-stand-in'),
      [
        '#!/bin/sh',
        `[ "$HECATE_TEST_HOST" = ${SELF} ] && sleep ${SHUTDOWN_MS / 1000}`,
        `echo "$HECATE_TEST_HOST $(date +%s%N)" >> ${work}/calls`,
      ].join('\n'),
    );
    const isolate = process.getuid?.() === 0 ? 'exec unshare --pid --fork --mount-proc ' : '';
    await script(
      join(bin, 'ssh'),
      [
        '#!/bin/sh',
        '# `ssh <options> -p <port> user@host -- <remote>` (adapters/node-access/ssh.ts): every host is the loopback sshd',
        'n=$#',
        '# the options again, the port replaced; user@host, -- and the remote command dropped',
        'i=0; port=0',
        'while [ "$i" -lt "$n" ]; do',
        '  a=$1; shift; i=$((i + 1))',
        '  [ "$i" = $((n - 2)) ] && dest=$a',
        '  [ "$i" = "$n" ] && remote=$a',
        '  [ "$i" -gt $((n - 3)) ] && continue',
        `  if [ "$port" = 1 ]; then set -- "$@" ${sshd.port}; port=0; continue; fi`,
        '  [ "$a" = -p ] && port=1',
        '  set -- "$@" "$a"',
        'done',
        'host=$(echo "$dest" | cut -d@ -f2); user=$(echo "$dest" | cut -d@ -f1)',
        `exec ${tools.ssh} -F /dev/null -o UserKnownHostsFile=${sshd.knownHostsFile} "$@" "$user@127.0.0.1" -- "HECATE_TEST_HOST=$host ${isolate}$remote"`,
      ].join('\n'),
    );
    const plan = fromYaml(await readFile(b.e2e.planPath, 'utf8')) as { spec: Record<string, unknown> };
    plan.spec.powerOff = {
      method: 'ssh',
      command: [standIn, 'poweroff'],
      sshUser: sshd.user,
      sshKeyFile: sshd.keyFile,
      delayBetweenNodes: '0s',
    };
    const planFile = join(work, 'atlas-ssh.yaml');
    await writeFile(planFile, toYaml(plan));
    await b.kubectl('apply', '-f', planFile);
  }, 600_000);
  afterAll(async () => {
    await b?.stop();
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('delivers every control-plane power-off in order; the status is the one written before them; no resend', async () => {
    const op = startOperator('quorum-a');
    await op.waitForLog((l) => l.message === 'Caches synced, reconciling');
    const dryRun = async () => {
      await b.createEvent('dry', { action: 'shutdown', planRef: { name: 'atlas' } });
      return b.waitForEvent('dry', (e) => e.status?.plan !== undefined);
    };
    const rendered = await dryRun(); // the plan as the operator compiles it: ssh, titan-03 last, no quorum note
    expect(rendered.status?.plan?.steps.filter((s) => s.kind === 'power-off-node').map((s) => s.params.node)).toEqual(
      ORDER,
    );
    const methods = rendered.status?.plan?.steps.filter((s) => s.kind === 'power-off-node').map((s) => s.params.method);
    expect(new Set(methods)).toEqual(new Set(['ssh']));
    expect(rendered.status?.plan?.notes.filter((n) => n.includes('quorum'))).toEqual([]);

    // The hosts: a recorded power-off pulls the node's plug in the kubelet stand-in; the second control-plane node's
    // takes the API with it (etcd has one member of three left).
    let stopped = false;
    let apiStopAt = 0;
    let apiStoppedAt = 0;
    let seen = 0;
    // NOTE: one last pass after `stopped`: a power-off recorded just before it still pulls its node's plug (left on,
    // that node would read Ready since before the last status on the same boot, and rightly be sent it again)
    const hosts = (async () => {
      const deadline = Date.now() + 300_000;
      for (let last = false; !last && Date.now() < deadline; ) {
        last = stopped;
        const now = await calls();
        for (const call of now.slice(seen)) {
          if (b.e2e.sims.kubelet.nodeNames.includes(call.host)) await b.e2e.sims.kubelet.powerOff(call.host);
          if (call.host === CONTROL_PLANE[1]) {
            apiStopAt = Date.now();
            await b.e2e.plane.stopApiServer();
            apiStoppedAt = Date.now();
          }
        }
        seen = now.length;
        await sleep(25);
      }
    })();
    try {
      await b.createEvent('shutdown', { action: 'shutdown', planRef: { name: 'atlas' }, execute: true });
      const deadline = Date.now() + 240_000;
      while (!(await calls()).some((c) => c.host === SELF) && Date.now() < deadline) await sleep(100);
      // the operator lost its Lease to the dead API and exits once it delivered what the last status announced
      const exit = await Promise.race([op.exited, sleep(60_000).then(() => 'still running')]);
      expect(exit, op.tail()).toBe(1);
    } finally {
      stopped = true;
      await hosts;
    }
    for (const node of ORDER) expect(b.e2e.sims.kubelet.isOn(node), node).toBe(false); // every host went down

    const delivered = await calls();
    expect(
      workersTogether(
        delivered.map((c) => c.host),
        WORKERS,
      ),
      op.tail(),
    ).toEqual(ORDER); // each once: the workers together, then the control plane in the plan's order
    expect(apiStoppedAt).toBeGreaterThan(0);
    const at = (host: string) => delivered.find((c) => c.host === host)?.atMs ?? Number.NaN;
    const lost = op.logs.find((l) => l.message === 'Lost leadership: could not renew the lease in time');
    expect(lost, op.tail()).toBeDefined();
    expect(Date.parse(lost?.timestamp ?? '')).toBeLessThan(at(SELF)); // delivered without the Lease, as announced
    expect(op.logs.some((l) => l.message.startsWith('The last status is written: delivering'))).toBe(true);
    console.info(
      `kube-apiserver stopping ${apiStopAt - at('titan-01')} ms after titan-01's power-off reached its host, stopped ${apiStoppedAt - apiStopAt} ms later; titan-03's reached its host ${at(SELF) - at('titan-01')} ms after titan-01's (${SHUTDOWN_MS} ms of it the stand-in's own shutdown); Lease lost ${Date.parse(lost?.timestamp ?? '') - apiStopAt} ms after the stop began`,
    );

    // power returns: the API first, then the operator's pod on titan-03
    await b.e2e.plane.startApiServer(120_000);
    const last = await b.getEvent('shutdown');
    const ready = getCondition(last.status?.conditions, 'Ready');
    expect(ready).toMatchObject({ status: 'True', reason: 'PoweringOffControlPlane', message: LAST_WORDS });
    expect(last.status?.phase).toBe('Succeeded');
    expect(workersTogether(last.status?.outage?.poweredOff ?? [], WORKERS)).toEqual(ORDER);
    for (const node of CONTROL_PLANE) {
      expect(last.status?.progress?.steps.find((s) => s.id === `power-off/${node}`)?.state, node).toBe('running');
    }
    // the audit log: that status was written after the workers' power-offs and before titan-02's, and nothing after
    const requests = await b.requests();
    const writes = requests.filter(isStatusWrite).map((e) => Date.parse(e.timestamp));
    const lastWrite = Math.max(...writes);
    expect(lastWrite).toBeGreaterThan(at('titan-07'));
    expect(lastWrite).toBeLessThan(at('titan-02'));

    for (const node of CONTROL_PLANE) await b.e2e.sims.kubelet.powerOn(node);
    const again = startOperator('quorum-b');
    const done = await b.waitForEvent(
      'shutdown',
      (e) => getCondition(e.status?.conditions, 'Ready')?.reason === 'Succeeded',
      90_000,
    );
    for (const node of CONTROL_PLANE) {
      const step = done.status?.progress?.steps.find((s) => s.id === `power-off/${node}`);
      expect(step?.state, again.tail()).toBe('done');
      expect(step?.message).toContain('not sent again');
    }
    expect(done.status?.progress?.steps.every((s) => s.state === 'done')).toBe(true);
    expect(getCondition(done.status?.conditions, 'Ready')?.message).toContain(
      "titan-02, titan-01, then titan-03 (the operator's own node) were powered off after the final status",
    );
    await again.waitForLog((l) => l.message.startsWith('Confirmed the power-offs announced in the last status'));
    await sleep(2_000); // NOTE: an absence: give a wrong second run time to show itself
    expect(
      workersTogether(
        (await calls()).map((c) => c.host),
        WORKERS,
      ),
      again.tail(),
    ).toEqual(ORDER); // no power-off sent again
    const after = await b.requests();
    expect(after.filter(isPodCreate)).toEqual([]); // and no helper pod: method ssh never needed one
    const core = b.e2e.plane.kubeConfig.makeApiClient(CoreV1Api);
    const helpers = await core.listNamespacedPod({ namespace: NS, labelSelector: 'hecate.dev/helper' });
    expect(helpers.items.map((p) => p.metadata?.name)).toEqual([]);
    for (const node of CONTROL_PLANE) expect(b.e2e.sims.kubelet.isOn(node), node).toBe(true);
  });
});

/**
 * `npm run demo`: the Atlas cluster on a real local control plane (etcd, kube-apiserver, controller-manager,
 * scheduler built from Go modules), with kubelet, Flux and Longhorn stand-ins (as root, one more worker, titan-08, is a
 * real node: a real kubelet, containerd and runc, powered off by the helper pod), and the operator as a real process
 * under its ServiceAccount (RBAC from manifests/). The operator shuts the cluster down from a `kubectl apply`d
 * PowerEvent; the power goes out and comes back; the CLI cold-boots it and hands the startup back to the operator,
 * which completes it. The CLI's dry-runs are shown first, so a newcomer sees what will happen.
 *
 *   npm run demo               # run it through and stop everything
 *   npm run demo -- --keep     # keep the cluster up at the end (Ctrl-C stops it)
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppsV1Api } from '@kubernetes/client-node';
import { execa } from 'execa';
import { bedAvailability, eventually, REPO_ROOT } from '../bed/index.js';
import type { OperatorProcess } from '../bed/operator/index.js';
import { NS, type OperatorBed, startOperatorBed } from '../bed/operator/index.js';
import { BED_IMAGES, realNodeAvailability } from '../bed/real-node/index.js';
import { powerCut } from '../bed/replay.js';
import { REAL_WORKER, REAL_WORKLOAD, realWorkerPlanNode, withRealWorker } from '../bed/scenarios/real-worker.js';
import { runCli } from '../cli/main.js';
import { type PowerEvent, parseOrThrow, powerPlan } from '../core/api/index.js';
import { fromYaml, toYaml } from '../core/api/yaml.js';

const keep = process.argv.includes('--keep');
const say = (text: string) => process.stderr.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
const out = (text: string) => process.stderr.write(`${text}\n`);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`;

let bed: OperatorBed | undefined;

process.once('SIGINT', () => {
  out('\nStopping the demo cluster...');
  void (bed?.stop() ?? Promise.resolve()).catch(() => {}).then(() => process.exit(130));
});

async function ensureBinaries(): Promise<void> {
  say('Test binaries: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (built once, cached)');
  say('Upstream CRDs: Flux and Longhorn, read from their pinned Go modules (fetched once, cached)');
  if (process.getuid?.() === 0) say('As root: the kubelet and the real node images too (pause, busybox, the helper)');
  try {
    await execa(join(REPO_ROOT, 'hack/setup-test-binaries.sh'), [], { stdout: 'ignore', stderr: 'inherit' });
  } catch (error) {
    // NOTE: the node images are the last step: without them the demo runs on stand-ins alone, and says why
    if (!bedAvailability().ok) throw error;
  }
}

async function hecate(b: OperatorBed, args: string[]): Promise<number> {
  out(`\n$ hecate ${args.join(' ')}`);
  return runCli(args, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: { ...process.env, ...b.e2e.env },
    cwd: process.cwd(),
    now: () => new Date(),
    isTTY: process.stderr.isTTY === true,
  });
}

/** The real kubectl, as the cluster's admin; prints the command and its output. */
async function kubectl(b: OperatorBed, ...args: string[]): Promise<string> {
  out(`\n$ kubectl ${args.join(' ')}`);
  const { stdout } = await execa(b.e2e.plane.binaries.kubectl, args, {
    env: { KUBECONFIG: b.e2e.plane.kubeconfigPath },
    cwd: b.e2e.dir,
  });
  out(stdout);
  return stdout;
}

async function execute(b: OperatorBed, mode: string): Promise<void> {
  const code = await hecate(b, [mode, ...b.e2e.args('--execute')]);
  if (code !== 0) throw new Error(`hecate ${mode} --execute exited ${code}; see the message above`);
}

const summary = (status: PowerEvent['status']) => {
  const conditions = (status?.conditions ?? [])
    .filter((c) => !['Ready', 'Reconciling'].includes(c.type) || c.status === 'True')
    .map((c) => `${c.type}${c.status === 'True' ? '' : `=${c.status}`}`)
    .join(' ');
  const steps = status?.plan?.steps.length ?? 0;
  const done = status?.progress?.steps.filter((s) => s.state === 'done' || s.state === 'skipped').length ?? 0;
  return `${(status?.phase ?? '-').padEnd(9)} ${(status?.stage ?? '').padEnd(12)} ${String(done).padStart(2)}/${steps} steps  ${conditions}`;
};

/** Prints each new phase/stage/conditions line the status watch delivers, until the event finishes. */
async function follow(b: OperatorBed, op: OperatorProcess, name: string, timeoutMs: number): Promise<PowerEvent> {
  const t0 = Date.now();
  let shown = 0;
  let last = '';
  for (;;) {
    const versions = b.seen.filter((v) => v.name === name && v.status);
    for (const v of versions.slice(shown)) {
      const line = summary(v.status);
      if (line !== last) out(`  ${`+${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(7)}  ${line}`);
      last = line;
    }
    shown = versions.length;
    const phase = versions.at(-1)?.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return b.getEvent(name);
    if (Date.now() - t0 > timeoutMs || op.hasExited()) {
      throw new Error(`PowerEvent ${name} did not finish (phase ${phase})\n${tail(op)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The operator's last log lines, each cut to 300 characters. */
const tail = (op: OperatorProcess) =>
  op
    .tail(12)
    .split('\n')
    .map((l) => l.slice(0, 300))
    .join('\n');

function printConditions(event: PowerEvent): void {
  out(`  phase ${event.status?.phase}, finished ${event.status?.finishedAt ?? '-'}`);
  for (const c of event.status?.conditions ?? []) {
    out(`  ${c.type.padEnd(16)} ${c.status.padEnd(5)} ${c.reason.padEnd(14)} ${c.message ?? ''}`);
  }
}

async function main(): Promise<void> {
  await ensureBinaries();
  const real = realNodeAvailability();
  say(
    `A real control plane on 127.0.0.1, the Atlas scenario (${real.ok ? 8 : 7} nodes, Flux, the chain, apps with PDBs), the RBAC`,
  );
  // drain levels of 8 s (the apps/api PDB never allows an eviction), 1 s between power-offs; no Harbor: seeding it
  // needs a bundle and a node that can exec (tested on a real containerd in test/integration/harbor-seed.test.ts)
  const b = await startOperatorBed({
    drainTimeout: '8s',
    delayBetweenNodes: '1s',
    wayBack: false,
    ...(real.ok
      ? {
          scenario: (atlas) => withRealWorker(atlas),
          realNodeTools: real,
          extraNodes: [realWorkerPlanNode()],
          helperImage: BED_IMAGES.helper,
        }
      : {}),
  });
  bed = b;
  const { e2e } = b;
  out(`  up in ${elapsed()}; repo snapshot ${e2e.snapshot} (${e2e.revision})`);
  if (real.ok) {
    out(
      `  ${REAL_WORKER} is a real node: a real kubelet, containerd and runc in a namespace of this machine, running ${REAL_WORKLOAD.namespace}/${REAL_WORKLOAD.name};`,
    );
    out('  the power-off helper pod really ends it. The other seven nodes are stand-ins (they answer like kubelets).');
  } else {
    out(`  Every node is a stand-in (they answer like kubelets). As root, ${REAL_WORKER} would be a real node too:`);
    out(`  ${real.reason}; ${real.fix}.`);
  }
  out('  applied: crds/, manifests/namespace.yaml, manifests/rbac.yaml, the Atlas PowerPlan adapted to the bed');
  out(`\n  In another terminal:\n    export KUBECONFIG=${e2e.plane.kubeconfigPath}`);
  out('    kubectl get nodes,powerevents -A; kubectl get powerevent -n hecate-system -w');
  const plan = e2e.planPath;
  const spec = parseOrThrow(powerPlan, fromYaml(await readFile(plan, 'utf8')), plan).spec;

  await hecate(b, ['status', ...e2e.args()]);
  say('hecate shutdown: the dry-run first (nothing changes)');
  await hecate(b, ['shutdown', ...e2e.args()]);

  say('hecate prepare --execute: refresh the repo snapshot, check the way back, record it where the operator reads it');
  await execute(b, 'prepare');
  await kubectl(b, 'get', 'powerplan', 'atlas', '-o', 'jsonpath={.status.wayBack}{"\\n"}');

  say(`The operator starts: a process under ServiceAccount ${NS}/hecate-operator, leader on a Lease`);
  let op = b.startOperator('hecate-operator-0');
  await op.waitForLog((l) => l.message === 'Caches synced, reconciling', 60_000);
  out(`  pid ${op.pid}: leader, caches synced (${elapsed()})`);

  say('kubectl apply -f shutdown.yaml: the operator runs the shutdown, one condition per stage');
  const manifest = toYaml({
    apiVersion: 'power.hecate.dev/v1alpha1',
    kind: 'PowerEvent',
    metadata: { name: 'planned-outage', namespace: NS },
    spec: { action: 'shutdown', planRef: { name: 'atlas' }, execute: true, reason: 'demo: planned power work' },
  });
  await writeFile(join(e2e.dir, 'shutdown.yaml'), manifest);
  out(`\n$ cat shutdown.yaml\n${manifest.trimEnd()}`);
  await kubectl(b, 'apply', '-f', 'shutdown.yaml');
  const shutdown = await follow(b, op, 'planned-outage', 180_000);
  printConditions(shutdown);
  if (shutdown.status?.phase !== 'Succeeded') throw new Error(`the shutdown PowerEvent failed\n${tail(op)}`);

  const realNode = e2e.real?.node(REAL_WORKER);
  if (realNode) {
    say(`${REAL_WORKER}, the real node: drained, then powered off by the helper pod's \`systemctl poweroff\``);
    await kubectl(b, 'get', 'node', REAL_WORKER);
    out(`  its PID 1 ${realNode.isOn() ? 'is still running (unexpected)' : 'has ended: the node is off'}`);
  }

  say('The operator goes down with its node: its outage record stays in the PowerEvent, for the cold boot');
  await kubectl(b, 'get', 'powerevent', 'planned-outage', '-n', NS, '-o', 'jsonpath={.status.outage.cordonedByHecate}');
  await op.stop();
  out(`  operator stopped (SIGTERM, exit ${await op.exited})`);

  say('The power goes out and comes back: every node boots again, but Gitea and the chain do not come back alone');
  await powerCut(e2e, spec);
  out('  Flux source down: Gitea is gone, Flux cannot fetch');

  say("The API is back and the operator's node boots: the operator starts again (nothing to do yet)");
  op = b.startOperator('hecate-operator-1');
  await op.waitForLog((l) => l.message === 'Caches synced, reconciling', 60_000);
  out(`  pid ${op.pid}: leader, caches synced`);

  say('hecate startup: the dry-run first (nothing changes)');
  await hecate(b, ['startup', ...e2e.args()]);
  say('hecate startup --execute: the CLI cold-boots the cluster and hands the startup back to the operator');
  await execute(b, 'startup');

  say('The operator picks up the startup PowerEvent the CLI created and completes it');
  const handed = await eventually(
    'the CLI to create the startup PowerEvent',
    async () => b.seen.find((v) => v.name.startsWith('cold-boot-'))?.name,
    { timeoutMs: 30_000 },
  );
  const startup = await follow(b, op, handed, 120_000);
  const ran = op.logs
    .filter((l) => l.message === 'Step started' && l.powerEvent === `${NS}/${handed}`)
    .map((l) => String(l.step));
  const cli = (await e2e.state())?.progress?.steps ?? [];
  const cliDone = cli.filter((s) => s.state === 'done' || s.state === 'skipped').map((s) => s.id);
  const again = ran.filter((id) => cliDone.includes(id));
  out(
    `  the CLI's run: ${cliDone.length} of ${cli.length} steps done; steps the operator started: ${ran.join(', ') || '(none)'}`,
  );
  if (again.length > 0) out(`  (already done by the CLI, run again by the operator: ${again.join(', ')})`);
  printConditions(startup);
  if (startup.status?.phase !== 'Succeeded') throw new Error(`the hand-off PowerEvent failed\n${tail(op)}`);
  await kubectl(b, 'get', 'powerevents', '-n', NS);
  if (realNode) {
    say(`${REAL_WORKER} booted again and was uncordoned: its workload runs there again`);
    await eventually(
      `${REAL_WORKLOAD.namespace}/${REAL_WORKLOAD.name} ready again on ${REAL_WORKER}`,
      async () =>
        (await b.e2e.plane.kubeConfig.makeApiClient(AppsV1Api).readNamespacedDeployment(REAL_WORKLOAD)).status
          ?.readyReplicas === 1,
      { timeoutMs: 60_000 },
    );
    await kubectl(b, 'get', 'pods', '-n', REAL_WORKLOAD.namespace, '-o', 'wide');
  }
  await hecate(b, ['status', ...e2e.args()]);
  out(`\nDemo done in ${elapsed()}.`);

  if (keep) {
    say(`The cluster stays up: KUBECONFIG=${e2e.plane.kubeconfigPath}. Ctrl-C stops it.`);
    await new Promise(() => {});
  }
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => (keep ? undefined : bed?.stop()));

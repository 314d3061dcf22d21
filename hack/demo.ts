/**
 * `npm run demo`: the Atlas cluster on a real local control plane (etcd, kube-apiserver, controller-manager,
 * scheduler built from Go modules), with kubelet, Flux and Longhorn stand-ins. Hecate shuts it down, the power
 * comes back, and Hecate starts it up again. Each mode's dry-run is shown first; a mode is executed when this build
 * has every executor its plan needs, otherwise the demo says which are still to come.
 *
 *   npm run demo               # run it through and stop everything
 *   npm run demo -- --keep     # keep the cluster up at the end (Ctrl-C stops it)
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { execa } from 'execa';
import { KubeFlux } from '../adapters/kube/flux.js';
import { runCli } from '../cli/main.js';
import { type PowerPlanSpec, parseOrThrow, powerPlan } from '../core/api/index.js';
import { fromYaml, toYaml } from '../core/yaml.js';
import { allCrdPaths, type ControlPlane, REPO_ROOT, startControlPlane } from '../test/bed/index.js';
import { ATLAS_SCENARIO, loadScenario, type Scenario } from '../test/bed/scenario.js';
import { eventually, type Simulators, startScenario } from '../test/bed/simulators.js';
import { snapshotFiles, writeSnapshot } from '../test/bed/snapshot.js';

const keep = process.argv.includes('--keep');
const say = (text: string) => process.stderr.write(`\n\x1b[1m== ${text}\x1b[0m\n`);

let bed: ControlPlane | undefined;
let sims: Simulators | undefined;
let work: string | undefined;

async function cleanUp(): Promise<void> {
  await sims?.stop().catch(() => {});
  await bed?.stop().catch(() => {});
  if (work) await rm(work, { recursive: true, force: true });
}

process.once('SIGINT', () => {
  process.stderr.write('\nStopping the demo cluster...\n');
  void cleanUp().then(() => process.exit(130));
});

async function ensureBinaries(): Promise<void> {
  say('Test binaries: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (built once, cached)');
  await execa(join(REPO_ROOT, 'hack/setup-test-binaries.sh'), [], { stdout: 'ignore', stderr: 'inherit' });
}

/** The Atlas plan, adapted to the bed: helper-pod power-off, a drill UPS reading, files in the demo folder. */
async function demoPlan(dir: string, snapshot: string, harbor: boolean): Promise<string> {
  const plan = fromYaml(await readFile(join(REPO_ROOT, 'manifests/atlas-powerplan.yaml'), 'utf8')) as {
    spec: Record<string, unknown> & { drain: Record<string, unknown> };
  };
  plan.spec.repoSnapshot = snapshot;
  plan.spec.stateFile = join(dir, 'cluster_power_recovery.state');
  plan.spec.powerOff = { method: 'helper-pod', command: ['systemctl', 'poweroff'], delayBetweenNodes: '1s' };
  plan.spec.startup = { apiTimeout: '5m', nodeReadyQuorum: 0.6, nodesReadyTimeout: '5m' };
  if (!harbor) delete plan.spec.harbor;
  plan.spec.ups = { source: 'static', staticCharge: 100, minStartupCharge: 50, emergencyCharge: 30 };
  plan.spec.drain = { ...plan.spec.drain, timeout: '20s' };
  const file = join(dir, 'atlas-powerplan.yaml');
  await writeFile(file, toYaml(plan));
  return file;
}

async function hecate(args: string[]): Promise<number> {
  process.stderr.write(`\n$ hecate ${args.join(' ')}\n`);
  return runCli(args, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: { ...process.env, ...(bed ? { HECATE_KUBECTL: bed.binaries.kubectl } : {}) },
    cwd: process.cwd(),
    now: () => new Date(),
    isTTY: process.stderr.isTTY === true,
  });
}

/** Shows the dry-run, then executes when every executor exists (exit 1 with "not available" otherwise). */
async function mode(name: string, plan: string, kubeconfig: string): Promise<void> {
  say(`hecate ${name}: the dry-run first (nothing changes)`);
  await hecate([name, '--plan', plan, '--kubeconfig', kubeconfig]);
  say(`hecate ${name} --execute`);
  const code = await hecate([name, '--plan', plan, '--kubeconfig', kubeconfig, '--execute']);
  if (code !== 0) {
    process.stderr.write(`(hecate ${name} --execute exited ${code}; see the message above)\n`);
    process.exitCode = 1;
  }
}

/**
 * The cold-boot deadlock, as the bed can show it: the chain's workloads (Gitea among them) do not come back by
 * themselves, so Flux's source stays down until Hecate applies the chain from the repo snapshot.
 */
async function loseChainWorkloads(kc: KubeConfig, scenario: Scenario, spec: PowerPlanSpec): Promise<void> {
  const apps = kc.makeApiClient(AppsV1Api);
  const chainPaths = new Set(spec.bootstrapChain.map((s) => s.path.replace(/^\.\//, '')));
  for (const [path, objects] of snapshotFiles(scenario)) {
    if (!chainPaths.has(path.replace(/^\.\//, ''))) continue;
    for (const o of objects) {
      const { namespace = '', name = '' } = o.metadata as { namespace?: string; name?: string };
      const ref = { namespace, name };
      if (o.kind === 'Deployment') await apps.deleteNamespacedDeployment(ref);
      if (o.kind === 'StatefulSet') await apps.deleteNamespacedStatefulSet(ref);
      if (o.kind === 'DaemonSet') await apps.deleteNamespacedDaemonSet(ref);
    }
  }
}

async function main(): Promise<void> {
  await ensureBinaries();
  say('Starting a real control plane on 127.0.0.1');
  bed = await startControlPlane({
    crds: allCrdPaths(),
    nodeLifecycle: { nodeMonitorGracePeriod: '6s' },
    log: (m) => process.stderr.write(`  ${m}\n`),
  });
  process.stderr.write(`  up in ${(bed.startupMs / 1000).toFixed(1)} s\n`);
  process.stderr.write(
    `\n  In another terminal:\n    export KUBECONFIG=${bed.kubeconfigPath}\n    kubectl get nodes,powerevents,kustomizations -A\n`,
  );

  say('Applying the Atlas scenario: 7 nodes, Flux, the bootstrap chain, Harbor, apps with PodDisruptionBudgets');
  const atlas = await loadScenario(ATLAS_SCENARIO);
  // powerOffHelperMs: the helper pod that runs Hecate's power-off script takes its node down, as on a real host
  sims = await startScenario(bed.kubeConfig, atlas, { kubelet: { speed: 10, powerOffHelperMs: 500 } });
  const flux = new KubeFlux(bed.kubeConfig);
  await eventually(
    'the Flux source to be Ready (Gitea serving)',
    async () => (await flux.source('GitRepository', 'flux-system', 'flux-system'))?.ready,
    {
      timeoutMs: 90_000,
    },
  );

  work = await mkdtemp(join(tmpdir(), 'hecate-demo-'));
  const snapshot = join(work, 'hecate-repo');
  const revision = await writeSnapshot(atlas, snapshot);
  process.stderr.write(`  repo snapshot at ${snapshot} (${revision})\n`);
  // NOTE: seeding Harbor needs a bundle and a node that can exec (the kubelet stand-in cannot); it is tested against
  // a real containerd over SSH in test/integration/harbor-seed.test.ts. The demo plan leaves Harbor out.
  const plan = await demoPlan(work, snapshot, false);
  const spec = parseOrThrow(powerPlan, fromYaml(await readFile(plan, 'utf8')), plan).spec;
  process.stderr.write('  the demo plan leaves Harbor out: the bed has no bundle and its nodes cannot exec\n');

  await hecate(['status', '--plan', plan, '--kubeconfig', bed.kubeconfigPath]);
  await mode('shutdown', plan, bed.kubeconfigPath);

  say('The power goes out and comes back: every node boots again, but Gitea and the chain do not come back alone');
  for (const node of sims.kubelet.nodeNames) await sims.kubelet.powerOff(node);
  await loseChainWorkloads(bed.kubeConfig, atlas, spec);
  for (const node of sims.kubelet.nodeNames) await sims.kubelet.powerOn(node);
  await eventually(
    'the Flux source to be down (Gitea gone)',
    async () => (await flux.source('GitRepository', 'flux-system', 'flux-system'))?.ready === false,
    { timeoutMs: 60_000 },
  );

  await mode('startup', plan, bed.kubeconfigPath);
  await hecate(['status', '--plan', plan, '--kubeconfig', bed.kubeconfigPath]);

  if (keep) {
    say(`The cluster stays up: KUBECONFIG=${bed.kubeconfigPath}. Ctrl-C stops it.`);
    await new Promise(() => {});
  }
}

main()
  .catch((error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => (keep ? undefined : cleanUp()));

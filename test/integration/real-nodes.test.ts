/**
 * Hecate's executors against real nodes (bed/real-node/): a real kubelet + containerd + runc per node, each in a
 * PID + mount + UTS namespace whose PID 1 is pause, beside a kubelet stand-in, on the real control plane. The helper
 * pods run for real: the pre-pull makes the node's containerd pull from the bed's registry, the power-off helper's
 * nsenter lands in the node's "host" and its `systemctl poweroff` ends the node's PID 1, the real node-lifecycle
 * controller marks it down. Root only (skips with the reason elsewhere; under CI=true it runs).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, PolicyV1Api, type V1Node, type V1Pod } from '@kubernetes/client-node';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBundle } from '../../adapters/bundle/build.js';
import { HelperPodImageSeed } from '../../adapters/bundle/seed-helper-pod.js';
import { localBundleFiles } from '../../adapters/bundle-files.js';
import { KubeNodes } from '../../adapters/kube/nodes.js';
import { KubePods } from '../../adapters/kube/pods.js';
import { HelperPodAccess } from '../../adapters/node-access/helper-pod.js';
import { helperSelector } from '../../adapters/node-access/helper-pod-spec.js';
import { SshNodeAccess } from '../../adapters/node-access/ssh.js';
import { systemClock } from '../../adapters/system.js';
import {
  BED_IMAGES,
  type ControlPlane,
  describeEvent,
  hostFingerprint,
  mutationsBy,
  type RealNodes,
  requireBed,
  requireRealNodes,
  startControlPlane,
  startMixedScenario,
  startRealNodes,
} from '../../bed/index.js';
import { applyScenario, parseScenario } from '../../bed/scenario.js';
import { eventually, type Simulators, startSimulators } from '../../bed/simulators.js';
import { outageRecord, type PowerPlanSpec } from '../../core/api/index.js';
import type { DrainOptions } from '../../core/drain/options.js';
import { compilePlan } from '../../core/plan/index.js';
import { StepKind } from '../../core/plan/stages.js';
import { step } from '../../core/plan/step.js';
import { runPlan } from '../../core/run/runner.js';
import { drainNode } from '../../core/steps/drain.js';
import { seedHarbor } from '../../core/steps/harbor.js';
import { uncordonNodes, waitNodes } from '../../core/steps/nodes.js';
import { powerOffNode } from '../../core/steps/power.js';
import { prepullImage, verifyBundle } from '../../core/steps/prepare.js';
import { atlasInput } from '../helpers/atlas.js';
import { MemoryStore, silentLogger } from '../helpers/fakes.js';
import { writeOciLayout } from '../helpers/oci-layout.js';
import { type Registry, requireRegistry, startRegistry } from '../helpers/registry.js';

const bed = requireBed();
const real = requireRealNodes();
const registryTools = requireRegistry();
const SSHD = '/usr/sbin/sshd';
const MiB = 1024 * 1024;
const HECATE = 'hecate-operator';
const NAMESPACE = 'hecate-system';
/** Traps SIGTERM and takes 2 s to finish, saying so in its log. */
const GRACEFUL = [
  'sh',
  '-c',
  'trap \'echo "SIGTERM received"; sleep 2; echo "exiting after the grace"; exit 0\' TERM; echo ready; while :; do sleep 1 & wait $!; done',
];
const DRAIN: DrainOptions = {
  escalation: ['evict', 'disable-eviction'],
  levelTimeoutMs: 3_000,
  gracePeriodSeconds: -1,
  deleteEmptyDirData: true,
  ignoreDaemonSets: true,
  evictionRetryIntervalMs: 1_000,
  skipWaitForDeleteTimeoutMs: 0,
  parallelism: 1,
};
/** Exits at once on SIGTERM (a plain `sleep` as PID 1 would ignore it and wait for the whole grace period). */
const IDLE = ['sh', '-c', "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done"];

const isReady = (pod: V1Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** node-a: a Deployment with a PDB that allows no disruption; node-b: a pod that only tolerates its taint. */
const SCENARIO = parseScenario({
  name: 'real-nodes',
  nodes: [
    { name: 'node-a', role: 'worker', real: true },
    { name: 'node-b', role: 'worker', real: true },
    { name: 'standin-1', role: 'worker' },
  ],
  workloads: [
    {
      kind: 'Deployment',
      namespace: 'apps',
      name: 'graceful',
      image: BED_IMAGES.busybox,
      command: GRACEFUL,
      nodeSelector: { 'kubernetes.io/hostname': 'node-a' },
      terminationGracePeriodSeconds: 15,
      pdb: { minAvailable: 1 },
    },
  ],
  pods: [
    {
      namespace: 'apps',
      name: 'survivor',
      image: BED_IMAGES.busybox,
      command: IDLE,
      nodeName: 'node-b',
      tolerations: [{ key: 'dedicated', operator: 'Exists' }],
      terminationGracePeriodSeconds: 5,
    },
  ],
});

describe.skipIf(!bed.ok || !real.ok)('real nodes leave the machine as they found it', () => {
  /** A control plane with a scenario of one real node (a pod on it) and one stand-in; stopped again. */
  async function round() {
    if (!real.ok) return;
    const plane = await startControlPlane();
    const scenario = parseScenario({
      name: 'as-found',
      nodes: [
        { name: 'real-1', role: 'worker', real: true },
        { name: 'standin-1', role: 'worker' },
      ],
      pods: [{ namespace: 'apps', name: 'idle', image: BED_IMAGES.busybox, command: IDLE, nodeName: 'real-1' }],
    });
    const mixed = await startMixedScenario(plane, scenario, real, { simulators: { flux: false, longhorn: false } });
    try {
      const core = plane.kubeConfig.makeApiClient(CoreV1Api);
      await eventually('the pod Running on the real node', async () =>
        isReady(await core.readNamespacedPod({ namespace: 'apps', name: 'idle' })),
      );
      // while it runs, the machine is changed (else the comparison below could not fail)
      const during = hostFingerprint() as { sysctls: Record<string, string>; loAddresses: string[]; links: string[] };
      expect(during.sysctls['vm/overcommit_memory']).toBe('1');
      expect(during.loAddresses).toContain(`${mixed.real.node('real-1').slot.ip}/32`);
      expect(during.links).toContain(mixed.real.node('real-1').slot.bridge);
    } finally {
      await mixed.stop();
      await plane.stop();
    }
  }

  it('a bed with a real node started and stopped twice, and once killed: sysctls, iptables, addresses, bridges and cgroups as before', async () => {
    const before = hostFingerprint();
    await round();
    expect(hostFingerprint()).toEqual(before);

    // a runner SIGKILLed with a real node up: the node dies with it (pdeathsig), its host changes stay until the
    // next start releases its slot
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/integration/real-nodes.child.ts'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0] ?? '');
      });
      child.once('exit', (code) => reject(new Error(`real-nodes.child.ts exited (${code}) before its node was up`)));
    });
    const crashed = JSON.parse(line) as { dir: string; pause: number; ip: string };
    child.kill('SIGKILL');
    await eventually("the killed runner's node gone", () => !existsSync(`/proc/${crashed.pause}`), {
      timeoutMs: 10_000,
    });
    expect((hostFingerprint() as { loAddresses: string[] }).loAddresses).toContain(`${crashed.ip}/32`);

    const started = Date.now();
    await round();
    console.info(`Second round (after the crash) took ${Date.now() - started} ms`);
    expect(hostFingerprint()).toEqual(before);
  });
});

describe.skipIf(!bed.ok || !real.ok || !registryTools.ok)('Hecate on real nodes', () => {
  let plane: ControlPlane;
  let nodes: RealNodes;
  let sims: Simulators;
  let registry: Registry;
  let core: CoreV1Api;
  let hecate: Awaited<ReturnType<ControlPlane['userKubeConfig']>>;
  /** The helper image as the bed's registry serves it (node-a has it only from there). */
  let registryHelper: string;

  const ready = (node: V1Node) => node.status?.conditions?.find((c) => c.type === 'Ready');
  /** Hecate's drain of node-a, for the kubectl baseline. */
  let drainedMs = 0;
  /** The outage record the shutdown builds up (drain, power-off) and the startup reads. */
  const store = new MemoryStore({ outage: outageRecord.parse({}) });
  const planFor = (spec: PowerPlanSpec) => ({ ...atlasInput(), spec });
  const specWith = (helperImage: string, nodeNames: string[]): PowerPlanSpec => {
    const input = atlasInput();
    return {
      ...input.spec,
      helperImage,
      nodes: nodeNames.map((name) => ({ name, role: 'worker' as const, order: 1 })),
      powerOff: { ...input.spec.powerOff, method: 'helper-pod', delayBetweenNodes: '0s' },
    };
  };

  beforeAll(async () => {
    if (!real.ok || !registryTools.ok) return;
    const started = Date.now();
    [plane, registry] = await Promise.all([startControlPlane(), startRegistry(registryTools)]);
    registryHelper = `${registry.host}/hecate/helper:bed`;
    await execa(registryTools.skopeo, [
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `docker-archive:${real.imagesDir}/helper.tar`,
      `docker://${registryHelper}`,
    ]);
    nodes = await startRealNodes(
      plane,
      [
        { name: 'node-a', images: ['pause', 'busybox'] },
        { name: 'node-b', taints: [{ key: 'dedicated', value: 'storage', effect: 'NoExecute' }] },
      ],
      real,
      { plainHttpRegistries: [registry.host], log: console.info },
    );
    // a stand-in beside them: real and simulated nodes in one cluster
    sims = await startSimulators(plane.kubeConfig, [{ name: 'standin-1', role: 'worker' }], {
      flux: false,
      longhorn: false,
    });
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    hecate = await plane.userKubeConfig(HECATE, ['system:masters']);
    await applyScenario(plane.kubeConfig, SCENARIO);
    const policy = plane.kubeConfig.makeApiClient(PolicyV1Api);
    await eventually(
      'the scenario running on the real nodes, the PDB computed',
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: 'apps' })).items;
        const pdb = await policy.readNamespacedPodDisruptionBudget({ namespace: 'apps', name: 'graceful' });
        return pods.length === 2 && pods.every(isReady) && pdb.status?.currentHealthy === 1;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    console.info(`Bed, registry, 2 real nodes and a stand-in up in ${Date.now() - started} ms`);
  });
  afterAll(async () => {
    try {
      await sims?.stop();
      await nodes?.stop();
    } finally {
      await Promise.all([plane?.stop(), registry?.stop()]);
    }
  });

  it('boots real nodes Ready beside a stand-in, with the bed images in their containerd', async () => {
    for (const [name, boot] of nodes.boots) console.info(`${name} boot → Ready: ${JSON.stringify(boot)}`);
    const list = await core.listNode();
    expect(list.items.map((n) => [n.metadata?.name, ready(n)?.status])).toEqual([
      ['node-a', 'True'],
      ['node-b', 'True'],
      ['standin-1', 'True'],
    ]);
    const nodeA = list.items[0];
    expect(nodeA?.status?.addresses).toContainEqual({ type: 'InternalIP', address: nodes.node('node-a').slot.ip });
    expect(nodeA?.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(nodeA?.metadata?.labels?.['node-role.kubernetes.io/worker']).toBe('true');
    expect(list.items[1]?.spec?.taints).toContainEqual({ key: 'dedicated', value: 'storage', effect: 'NoExecute' });
    expect(await nodes.node('node-a').images()).toEqual(expect.arrayContaining([BED_IMAGES.pause, BED_IMAGES.busybox]));
    expect(await nodes.node('node-a').images()).not.toContain(BED_IMAGES.helper);
    expect(await nodes.node('node-b').images()).toContain(BED_IMAGES.helper);
  });

  it('pre-pulls the helper image through a helper pod: node-a pulls it from the registry, node-b has it', async () => {
    const spec = specWith(registryHelper, ['node-a']);
    const access = new HelperPodAccess(hecate, { helperImage: registryHelper, pullTimeoutMs: 60_000, pollMs: 250 });
    const plan = compilePlan('prepare', planFor(spec));
    const reports: string[] = [];
    const started = Date.now();
    const progress = await runPlan({
      plan: { ...plan, steps: plan.steps.filter((s) => s.kind === 'prepull-image') },
      action: 'prepare',
      executors: { 'prepull-image': prepullImage(access, spec) },
      store: new MemoryStore(),
      clock: systemClock,
      logger: silentLogger,
      onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
    });
    console.info(`Pre-pull on a real node took ${Date.now() - started} ms`);
    expect(progress.steps.map((s) => s.state)).toEqual(['done']);
    expect(reports).toContain(`node-a: ${registryHelper} present (pulled)`);
    expect(await nodes.node('node-a').images()).toContain(registryHelper);
    const left = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: helperSelector('prepull') });
    expect(left.items).toEqual([]);
    // created (generateName: the audit has no name yet), then deleted once the image was there
    const events = mutationsBy(await plane.readAudit(), HECATE).map(describeEvent);
    expect(events.filter((e) => e.includes('pods'))).toEqual([
      'create pods hecate-system 201',
      expect.stringMatching(/^delete pods hecate-system\/hecate-prepull-node-a-\S+ 200$/),
    ]);
  });

  it('drains node-a gracefully: the PDB holds eviction, disable-eviction deletes, the pod gets SIGTERM and its grace', async () => {
    const before = await core.listNamespacedPod({
      namespace: 'apps',
      labelSelector: 'app.kubernetes.io/name=graceful',
    });
    const pod = before.items[0]?.metadata?.name ?? '';
    // the pod's log, followed through the API server and the real kubelet until the container ends
    const follow = spawn(plane.binaries.kubectl, [
      '--kubeconfig',
      plane.kubeconfigPath,
      'logs',
      '-f',
      '-n',
      'apps',
      pod,
    ]);
    let log = '';
    follow.stdout.on('data', (chunk: Buffer) => {
      log += chunk.toString();
    });
    const followed = new Promise((resolve) => follow.once('close', resolve));
    await eventually('the log followed', () => log.includes('ready'));
    const drainStep = step({
      id: 'drain/node-a',
      stage: 'drain',
      kind: StepKind.DrainNode,
      title: 'drain node-a',
      why: 'test',
      timeoutSeconds: 90,
      params: { node: 'node-a' },
    });
    const reports: string[] = [];
    const started = Date.now();
    await runPlan({
      plan: { mode: 'shutdown', planName: 'test', execute: true, steps: [drainStep], notes: [] },
      action: 'shutdown',
      executors: {
        [StepKind.DrainNode]: drainNode(new KubeNodes(hecate), new KubePods(hecate), DRAIN, { reportEveryMs: 1_000 }),
      },
      store,
      clock: systemClock,
      logger: silentLogger,
      onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
    });
    drainedMs = Date.now() - started;
    await followed;
    console.info(`Drain of node-a (PDB, escalation after ${DRAIN.levelTimeoutMs} ms, 2 s grace) took ${drainedMs} ms`);
    expect(log.trim().split('\n')).toEqual(['ready', 'SIGTERM received', 'exiting after the grace']);
    expect(drainedMs).toBeGreaterThanOrEqual(DRAIN.levelTimeoutMs + 2_000);
    expect((await core.readNode({ name: 'node-a' })).spec?.unschedulable).toBe(true);
    expect(store.latest?.outage.cordonedByHecate).toEqual(['node-a']);
    // the order: cordon, evictions refused by the PDB (429), then the plain delete; nothing on node-a any more
    const events = mutationsBy(await plane.readAudit(), HECATE)
      .filter((e) => Date.parse(e.timestamp) >= started - 1_000)
      .map(describeEvent);
    const cordon = events.indexOf('patch nodes node-a 200');
    const evictions = events.flatMap((e, i) => (e === `create pods/eviction apps/${pod} 429` ? [i] : []));
    const deleted = events.indexOf(`delete pods apps/${pod} 200`);
    expect(cordon).toBeGreaterThanOrEqual(0);
    expect(evictions.length).toBeGreaterThan(0);
    expect(Math.min(...evictions)).toBeGreaterThan(cordon);
    expect(deleted).toBeGreaterThan(Math.max(...evictions));
    const left = await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node-a' });
    expect(left.items.map((p) => p.metadata?.name)).toEqual([]);
  });

  it('powers node-b off with the helper pod: the node ends, the node-lifecycle controller marks it down, the step sees it', async () => {
    const spec = specWith(BED_IMAGES.helper, ['node-b']);
    const access = new HelperPodAccess(hecate, { helperImage: BED_IMAGES.helper, settleMs: 3_000, pollMs: 250 });
    const plan = compilePlan('shutdown', planFor(spec));
    const steps = plan.steps.filter((s) => s.kind === 'power-off-node');
    const reports: string[] = [];
    const node = nodes.node('node-b');
    const started = Date.now();
    let endedAt = 0;
    void node.poweredOff().then(() => {
      endedAt = Date.now();
    });
    await runPlan({
      plan: { ...plan, steps },
      action: 'shutdown',
      executors: { 'power-off-node': powerOffNode(access, new KubeNodes(hecate), spec, { intervalMs: 500 }) },
      store,
      clock: systemClock,
      logger: silentLogger,
      onEvent: (e) => (e.type === 'report' ? reports.push(`${e.step.id}: ${e.message}`) : undefined),
    });
    const doneAt = Date.now();
    console.info(
      `Helper-pod power-off: node ended after ${endedAt - started} ms, step done (node down) after ${doneAt - started} ms`,
    );
    expect(node.isOn()).toBe(false);
    expect(endedAt).toBeGreaterThan(0);
    expect(ready(await core.readNode({ name: 'node-b' }))?.status).not.toBe('True');
    expect(store.latest?.outage.poweredOff).toEqual(['node-b']);
    // the helper as it ran: privileged, hostPID, nsenter into PID 1, on node-b
    const helpers = (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: helperSelector('power-off') }))
      .items;
    expect(helpers.map((p: V1Pod) => p.spec?.nodeName)).toEqual(['node-b']);
    // the node's cgroups are gone with it, as after a reboot
    expect(
      await execa('sh', ['-c', `ls -d /sys/fs/cgroup/*${node.slot.cgroupRoot} 2>/dev/null || true`]),
    ).toMatchObject({ stdout: '' });
    // one helper created and left running (deleting it would kill the script); nothing else written to pods
    const events = mutationsBy(await plane.readAudit(), HECATE)
      .filter((e) => Date.parse(e.timestamp) >= started - 1_000)
      .map(describeEvent);
    const pods = events.filter((e) => e.includes('pods'));
    expect(pods).toHaveLength(1);
    expect(pods[0]).toMatch(/^create pods hecate-system\/hecate-power-off-node-b-[0-9a-f]{8} 201$/); // named per boot
    await eventually('node-b tainted unreachable', async () =>
      (await core.readNode({ name: 'node-b' })).spec?.taints?.some((t) => t.key === 'node.kubernetes.io/unreachable'),
    );
  });
  it('cold-boots node-b: its pod restarts (restartCount 1), the startup steps wait for it and uncordon node-a', async () => {
    const node = nodes.node('node-b');
    const before = await core.readNamespacedPod({ namespace: 'apps', name: 'survivor' });
    const poweredOn = Date.now();
    const boot = await node.boot();
    console.info(`node-b cold boot → Ready: ${JSON.stringify(boot)}`);
    const restarted = await eventually(
      'the survivor restarted and Ready',
      async () => {
        const pod = await core.readNamespacedPod({ namespace: 'apps', name: 'survivor' });
        return isReady(pod) && (pod.status?.containerStatuses?.[0]?.restartCount ?? 0) > 0 ? pod : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    console.info(`node-b power on → its pod restarted and Ready: ${Date.now() - poweredOn} ms`);
    expect(restarted.metadata?.uid).toBe(before.metadata?.uid);
    expect(restarted.status?.containerStatuses?.[0]?.restartCount).toBe(1);
    expect(restarted.status?.containerStatuses?.[0]?.lastState?.terminated).toBeDefined();
    // the power-off helper never came back: the kubelet failed it, a rerun's cleanup removes it
    const access = new HelperPodAccess(hecate, { helperImage: BED_IMAGES.helper });
    expect(await access.removeHelpers('power-off')).toBe(1);

    const steps = [
      step({
        id: 'nodes/quorum',
        stage: 'nodes',
        kind: StepKind.WaitNodes,
        title: 'quorum',
        why: 'test',
        targets: ['node-a', 'node-b'],
        timeoutSeconds: 60,
        params: { quorum: '2' },
      }),
      step({ id: 'nodes/uncordon', stage: 'nodes', kind: StepKind.Uncordon, title: 'uncordon', why: 'test' }),
    ];
    const nodePort = new KubeNodes(hecate);
    const reports: string[] = [];
    await runPlan({
      plan: { mode: 'startup', planName: 'test', execute: true, steps, notes: [] },
      action: 'startup',
      executors: { [StepKind.WaitNodes]: waitNodes(nodePort, 250), [StepKind.Uncordon]: uncordonNodes(nodePort) },
      store,
      clock: systemClock,
      logger: silentLogger,
      onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
    });
    expect(reports).toEqual(['uncordoned node-a']);
    expect((await core.readNode({ name: 'node-a' })).spec?.unschedulable).toBeFalsy();
    expect(store.latest?.outage.cordonedByHecate).toEqual([]);
  });
  it('kubectl drain on the same pod, as a baseline: it must bypass the PDB from the start (--disable-eviction)', async () => {
    // uncordoned by the startup: the Deployment's replacement runs on node-a again
    await eventually(
      'graceful Running on node-a again',
      async () => {
        const pods = await core.listNamespacedPod({
          namespace: 'apps',
          labelSelector: 'app.kubernetes.io/name=graceful',
        });
        return pods.items.some((p) => p.spec?.nodeName === 'node-a' && isReady(p));
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const kubectl = (...args: string[]) =>
      execa(plane.binaries.kubectl, ['--kubeconfig', plane.kubeconfigPath, ...args], { reject: false });
    const started = Date.now();
    const result = await kubectl('drain', 'node-a', '--ignore-daemonsets', '--disable-eviction', '--timeout=60s');
    const kubectlMs = Date.now() - started;
    console.info(
      `Drain makespan on a real node: Hecate ${drainedMs} ms (evict held ${DRAIN.levelTimeoutMs} ms by the PDB, then disable-eviction), kubectl drain --disable-eviction ${kubectlMs} ms`,
    );
    expect(result.exitCode, result.stderr).toBe(0);
    expect(kubectlMs).toBeGreaterThanOrEqual(2_000); // the pod's own grace: kubectl waited for it too
    expect((await kubectl('uncordon', 'node-a')).exitCode).toBe(0);
  });

  it('seeds Harbor into node-a through a helper pod: streamed into its containerd, digests verified, a seeded image runs', async () => {
    if (!registryTools.ok || !real.ok) return;
    const work = await mkdtemp(join(plane.dir, 'seed-'));
    const layout = join(work, 'layout');
    // Harbor's images: a runnable one (the bed's busybox under Harbor's name) and a bulky one (incompressible)
    await writeOciLayout(layout, [
      { reference: 'docker.io/goharbor/harbor-bulk:v2.14.1', platforms: ['linux/amd64'], randomBytes: 48 * MiB },
    ]);
    const core_ = 'docker.io/goharbor/harbor-core:v2.14.1';
    await execa(registryTools.skopeo, [
      'copy',
      '-q',
      `docker-archive:${real.imagesDir}/busybox.tar`,
      `oci:${layout}:${core_}`,
    ]);
    const bundle = join(work, 'harbor-bootstrap-v2.14.1-amd64.tar.zst');
    const built = await writeBundle(layout, {
      platform: 'linux/amd64',
      harbor: { version: 'v2.14.1', arch: 'amd64' },
      output: bundle,
      level: 1,
      now: () => new Date(),
    });
    const input = atlasInput();
    const spec: PowerPlanSpec = {
      ...specWith(registryHelper, ['node-a']),
      harbor: { ...input.spec.harbor, node: 'node-a', version: 'v2.14.1', arch: 'amd64', bundlePath: bundle } as never,
    };
    /** The import alone (its helper's start included), without the verify and the listings around it. */
    let importMs = 0;
    /** From the first byte sent to the end of the import: the stream itself, the helper's start left out. */
    let streamMs = 0;
    // a namespace that does not exist yet, as on a cluster that never ran prepare
    const SEED_NAMESPACE = 'hecate-seed';
    const seed = new (class extends HelperPodImageSeed {
      override async importBundle(...[node, path, options]: Parameters<HelperPodImageSeed['importBundle']>) {
        const t = Date.now();
        let firstByte = 0;
        const onProgress = (sent: number) => {
          firstByte ||= Date.now();
          options.onProgress?.(sent);
        };
        try {
          return await super.importBundle(node, path, { ...options, onProgress });
        } finally {
          importMs = Date.now() - t;
          streamMs = Date.now() - firstByte;
        }
      }
    })(hecate, {
      helperImage: registryHelper,
      namespace: SEED_NAMESPACE,
      kubectl: plane.binaries.kubectl,
      kubeconfig: await plane.writeKubeConfig(hecate, 'hecate.kubeconfig'),
      pollMs: 250,
    });
    const files = localBundleFiles();
    const plan = compilePlan('harbor-seed', {
      ...atlasInput({ spec }),
      paths: { ...input.paths, harborBundle: bundle },
    });
    const reports: string[] = [];
    const started = Date.now();
    await runPlan({
      plan: { ...plan, steps: plan.steps.filter((s) => s.id !== 'harbor/reconcile') },
      action: 'harbor-seed',
      executors: {
        [StepKind.VerifyBundle]: verifyBundle(files, spec),
        [StepKind.SeedHarbor]: seedHarbor(seed, seed, files, spec, { progressIntervalMs: 0 }),
      },
      store: new MemoryStore(),
      clock: systemClock,
      logger: silentLogger,
      onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
    });
    const seedMs = Date.now() - started;
    // the same bundle the raw way into node-b's (equally fresh) containerd: the baseline
    const rawStarted = Date.now();
    const raw = await execa('sh', [
      '-c',
      `zstd -dc "$1" | ${real.ctr} --address "$2" -n k8s.io images import --platform linux/amd64 -`,
      'raw',
      bundle,
      nodes.node('node-b').socket,
    ]);
    const rawMs = Date.now() - rawStarted;
    const mb = (await stat(bundle)).size / 1e6;
    console.info(
      `Seed of ${mb.toFixed(1)} MB: the whole step ${seedMs} ms (verify, listings, import); the import through a helper pod ${importMs} ms, of which the stream ${streamMs} ms (${(mb / (streamMs / 1000)).toFixed(1)} MB/s); raw zstd -dc | ctr import ${rawMs} ms (${(mb / (rawMs / 1000)).toFixed(1)} MB/s)`,
    );
    expect(raw.exitCode).toBe(0);
    expect(reports).toContain('2 of 2 images missing on node-a: streaming the bundle');
    expect(reports.at(-1)).toMatch(/^imported \d+\.\d MiB; all 2 digests verified on node-a$/);
    // what node-a's containerd holds, as ctr lists it
    const listed = (await nodes.node('node-a').ctr(['images', 'ls'])).stdout;
    for (const image of built.manifest.images)
      expect(listed).toMatch(new RegExp(`^${image.reference}\\s+\\S+\\s+${image.digest}\\s`, 'm'));
    // a pod from a seeded image, never pulled
    await core.createNamespacedPod({
      namespace: 'apps',
      body: {
        metadata: { name: 'seeded' },
        spec: {
          nodeName: 'node-a',
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: core_, imagePullPolicy: 'Never', command: IDLE }],
        },
      },
    });
    await eventually('the seeded pod Running', async () =>
      isReady(await core.readNamespacedPod({ namespace: 'apps', name: 'seeded' })),
    );
    // the helper: created, exec'd into (the stream), deleted; none left
    const seedEvents = (await plane.readAudit())
      .filter((e) => e.user === HECATE && Date.parse(e.timestamp) >= started - 1_000)
      .filter(
        (e) =>
          e.objectRef?.resource === 'pods' &&
          e.objectRef.namespace === SEED_NAMESPACE &&
          e.verb !== 'get' &&
          e.verb !== 'list',
      )
      .map(describeEvent);
    expect(seedEvents[0]).toBe(`create pods ${SEED_NAMESPACE} 201`);
    expect(seedEvents.at(-1)).toMatch(new RegExp(`^delete pods ${SEED_NAMESPACE}/hecate-seed-node-a-\\S+ 200$`));
    const left = await core.listNamespacedPod({ namespace: SEED_NAMESPACE, labelSelector: helperSelector('seed') });
    expect(left.items).toEqual([]);
  });
  it("powers node-b off over SSH: an sshd inside the node, Hecate's script and `systemctl poweroff` end its PID 1", async () => {
    const node = nodes.node('node-b');
    const dir = await mkdtemp(join(plane.dir, 'ssh-'));
    const keygen = (file: string) => execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, file)]);
    await Promise.all([keygen('host_key'), keygen('client_key')]);
    await copyFile(join(dir, 'client_key.pub'), join(dir, 'authorized_keys'));
    await writeFile(join(dir, 'known_hosts'), '');
    const config = [
      'Port 2222',
      `ListenAddress ${node.slot.ip}`,
      `HostKey ${join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'UsePAM no',
      'StrictModes no',
    ];
    await writeFile(join(dir, 'sshd_config'), `${config.join('\n')}\n`);
    // the node's /run is its own: sshd's privilege separation folder is made in there
    const sshd = node.inside('sshd', [
      'sh',
      '-c',
      `mkdir -p /run/sshd && exec ${SSHD} -D -e -f ${join(dir, 'sshd_config')}`,
    ]);
    const access = new SshNodeAccess({
      user: 'root',
      keyFile: join(dir, 'client_key'),
      port: 2222,
      knownHostsFile: join(dir, 'known_hosts'),
      connectTimeoutSeconds: 5,
    });
    await eventually('sshd answers on node-b', async () => {
      await access.powerOff({ name: 'node-b', address: node.slot.ip }, ['true'], { dryRun: true });
      return true;
    });
    const spec = { ...specWith(BED_IMAGES.helper, ['node-b']) };
    spec.powerOff = { ...spec.powerOff, method: 'ssh' };
    spec.nodes = [{ name: 'node-b', role: 'worker', order: 1, address: node.slot.ip }];
    const plan = compilePlan('shutdown', planFor(spec));
    const own = new MemoryStore({ outage: outageRecord.parse({}) });
    const reports: string[] = [];
    const started = Date.now();
    await runPlan({
      plan: { ...plan, steps: plan.steps.filter((s) => s.kind === 'power-off-node') },
      action: 'shutdown',
      executors: { 'power-off-node': powerOffNode(access, new KubeNodes(hecate), spec, { intervalMs: 500 }) },
      store: own,
      clock: systemClock,
      logger: silentLogger,
      onEvent: (e) => (e.type === 'report' ? reports.push(e.message) : undefined),
    });
    // the only node of this plan is the last: the step does not wait for it (the API would go with it); the bed does
    await eventually('node-b off', () => !node.isOn(), { timeoutMs: 10_000, intervalMs: 20 });
    console.info(`SSH power-off of a real node: the node ended ${Date.now() - started} ms after the step started`);
    await node.poweredOff();
    expect(reports).toEqual([
      'power-off sent to node-b (ssh)',
      'not waiting for node-b: last node, the API goes with it',
    ]);
    expect(sshd.hasExited()).toBe(true);
    expect(own.latest?.outage.poweredOff).toEqual(['node-b']);
    await eventually(
      'node-b not Ready',
      async () => ready(await core.readNode({ name: 'node-b' }))?.status !== 'True',
      {
        timeoutMs: 30_000,
      },
    );
  });
});

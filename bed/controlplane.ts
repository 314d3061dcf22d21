/**
 * A real Kubernetes control plane on loopback (etcd, kube-apiserver, kube-controller-manager, kube-scheduler)
 * in a fresh temporary folder. Only the kubelet is missing: the kubelet stand-in in this folder fills in, and real
 * kubelets (./real-node/) join too: the API server reaches them (logs, exec) on their InternalIP with a client
 * certificate of its own.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { AUDIT_POLICY } from './audit.js';
import { bedAvailability } from './availability.js';
import type { TestBinaries } from './binaries.js';
import { createPki, type Pki } from './certs.js';
import {
  apiserverArgs,
  controllerManagerArgs,
  etcdArgs,
  type Layout,
  type NodeLifecycleTimings,
  probe,
  schedulerArgs,
} from './components.js';
import { bedKubeConfig, componentKubeConfigYaml } from './kubeconfig.js';
import { BedControlPlane, type ControlPlane } from './plane.js';
import { freePorts } from './ports.js';
import { type Component, logTail, spawnComponent } from './processes.js';
import { forgetBed, registerBed, sweepStaleBeds } from './reaper.js';
import { exists, waitUntil } from './wait.js';

export const BED_DIR_PREFIX = 'hecate-bed-';
export const ADMIN_USER = 'hecate-admin';

type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler';

export interface ControlPlaneOptions {
  /** Default: found like `bedAvailability()` does ($KUBEBUILDER_ASSETS, then the build cache). */
  binaries?: TestBinaries;
  /** Node-lifecycle controller timings; defaults `{ nodeMonitorGracePeriod: '10s', nodeMonitorPeriod: '1s' }`. */
  nodeLifecycle?: Partial<NodeLifecycleTimings>;
  /** CRD files or folders to install once the control plane is up (see `allCrdPaths()`). */
  crds?: readonly string[];
  /** Give up starting after this long (default 120 s). */
  startTimeoutMs?: number;
  /** Keep the folder (logs, audit, etcd) after stop(); default when HECATE_BED_KEEP=1. */
  keepDir?: boolean;
  /** Progress messages, e.g. `console.error`. */
  log?: (message: string) => void;
  /**
   * Extra flags, appended (a repeated flag's last value wins), e.g.
   * `{ 'kube-apiserver': ['--disable-admission-plugins=ResourceQuota'] }`: that plugin makes the first write of
   * each new resource type wait ~2 s while it builds an evaluator (a real cluster does the same).
   */
  extraArgs?: Partial<Record<ComponentName, string[]>>;
}

/** Starts a bed; retries with new ports (up to 3 times) when one was taken between choosing and binding it. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const started = Date.now();
  const availability = bedAvailability();
  if (!availability.ok) {
    throw new Error(`Cannot start the control plane: ${availability.reason}. Fix: ${availability.fix}`);
  }
  await sweepStaleBeds(tmpdir(), BED_DIR_PREFIX);
  const run: Run = {
    binaries: options.binaries ?? availability.binaries,
    tools: availability,
    options,
    started,
    deadline: started + (options.startTimeoutMs ?? 120_000),
    log: (message) => options.log?.(`${message} (+${Date.now() - started} ms)`),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(run);
    } catch (error) {
      if (!(error instanceof PortClashError) || attempt >= 3) throw error;
      run.log(`Port taken while starting, retrying (attempt ${attempt + 1})`);
    }
  }
}

interface Run {
  binaries: TestBinaries;
  tools: { setpriv: string; openssl: string };
  options: ControlPlaneOptions;
  started: number;
  deadline: number;
  log: (message: string) => void;
}

class PortClashError extends Error {}

/** What one start attempt has made so far; `stop` undoes all of it. */
interface Bed {
  dir: string;
  components: Component[];
  spawn(name: ComponentName, defaults: string[]): Component;
  stop(): Promise<void>;
}

async function startOnce(run: Run): Promise<ControlPlane> {
  const bed = await newBed(run);
  try {
    const { layout, pki } = await prepare(bed.dir, run.tools.openssl);
    const admin = await startApiServer(run, bed, layout, pki);
    await startControllers(run, bed, layout, admin.kubeConfig);
    const plane = new BedControlPlane({
      ...admin,
      apiServer: apiServerSwitch(run, bed, layout, pki),
      dir: bed.dir,
      pki,
      auditLogPath: layout.auditLogPath,
      binaries: run.binaries,
      components: bed.components,
      stop: bed.stop,
    });
    await plane.init();
    if (run.options.crds && run.options.crds.length > 0) {
      run.log(`Installing CRDs from ${run.options.crds.length} path(s)`);
      await plane.installCrds(run.options.crds);
    }
    plane.startupMs = Date.now() - run.started;
    run.log(`Control plane ready at ${plane.server}; kubeconfig ${plane.kubeconfigPath}`);
    return plane;
  } catch (error) {
    throw await failed(bed, error);
  }
}

/**
 * Stops and starts kube-apiserver alone (etcd, the controllers and the stand-ins keep running), as a control-plane
 * node's reboot does: clients see connection refused, then the same server (same port, certificates, audit log).
 */
function apiServerSwitch(run: Run, bed: Bed, layout: Layout, pki: Pki) {
  const current = () => bed.components.find((c) => c.name === 'kube-apiserver' && !c.hasExited());
  return {
    stop: async () => {
      await current()?.stop();
      const gone = bed.components.findIndex((c) => c.name === 'kube-apiserver' && c.hasExited());
      if (gone >= 0) bed.components.splice(gone, 1); // else waitUntil() fails on the exited component
    },
    start: async (timeoutMs = 60_000) => {
      if (current()) return;
      await startApiServer({ ...run, deadline: Date.now() + timeoutMs }, bed, layout, pki, false);
    },
  };
}

async function newBed(run: Run): Promise<Bed> {
  const dir = await mkdtemp(join(tmpdir(), BED_DIR_PREFIX));
  const components: Component[] = [];
  registerBed(dir, components);
  const keepDir = run.options.keepDir ?? process.env.HECATE_BED_KEEP === '1';
  let stopping: Promise<void> | undefined;
  const stopAll = async () => {
    await Promise.all(components.filter((c) => !/etcd|apiserver/.test(c.name)).map((c) => c.stop()));
    for (const name of ['kube-apiserver', 'etcd']) await components.find((c) => c.name === name)?.stop();
    forgetBed(dir);
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  };
  return {
    dir,
    components,
    spawn(name, defaults) {
      const args = [...defaults, ...(run.options.extraArgs?.[name] ?? [])];
      const logPath = join(dir, 'logs', `${name}.log`);
      const component = spawnComponent(name, run.binaries[name], args, { setpriv: run.tools.setpriv, logPath });
      components.push(component);
      return component;
    },
    stop: () => {
      stopping ??= stopAll();
      return stopping;
    },
  };
}

/** Stops what was started and says why the start failed, with the tail of each component's log. */
async function failed(bed: Bed, error: unknown): Promise<Error> {
  if (error instanceof ApiException) {
    await bed.stop();
    return error; // the API answered: component logs would not explain it
  }
  const logs = await Promise.all(
    bed.components.map(async (c) => {
      const state = c.hasExited() ? 'exited' : 'running';
      return `--- ${c.name} (${state}) ---\n${await logTail(c.logPath, 15)}`;
    }),
  );
  await bed.stop();
  const detail = logs.join('\n');
  if (/address already in use/.test(detail)) return new PortClashError(`Port clash: ${detail}`);
  return new Error(`${(error as Error).message}\n${detail}`, { cause: error });
}

async function startApiServer(run: Run, bed: Bed, layout: Layout, pki: Pki, withEtcd = true) {
  run.log(`Starting ${withEtcd ? 'etcd and ' : ''}kube-apiserver in ${bed.dir}`);
  if (withEtcd) bed.spawn('etcd', etcdArgs(layout));
  bed.spawn('kube-apiserver', [...apiserverArgs(layout), ...kubeletClientArgs(layout.dir)]);
  const server = `https://127.0.0.1:${layout.ports.apiserver}`;
  const cert = await pki.clientCert(ADMIN_USER, ['system:masters']);
  const [caPem, certPem, keyPem] = (await Promise.all(
    [pki.ca.certPath, cert.certPath, cert.keyPath].map((path) => readFile(path, 'utf8')),
  )) as [string, string, string];
  const ready = async () =>
    (await probe(`${server}/readyz`, { ca: caPem, cert: certPem, key: keyPem }))?.status === 200;
  await waitUntil('kube-apiserver /readyz', run.deadline, bed.components, ready);
  const kubeConfig = bedKubeConfig(server, caPem, { name: ADMIN_USER, certPem, keyPem });
  return { server, caPem, kubeConfig };
}

/** Starts the controller-manager and scheduler; ready once both are healthy and controllers have acted. */
async function startControllers(run: Run, bed: Bed, layout: Layout, admin: BedControlPlane['kubeConfig']) {
  run.log('Starting kube-controller-manager and kube-scheduler');
  const timings = { nodeMonitorGracePeriod: '10s', nodeMonitorPeriod: '1s', ...run.options.nodeLifecycle };
  bed.spawn('kube-controller-manager', controllerManagerArgs(layout, timings));
  bed.spawn('kube-scheduler', schedulerArgs(layout));
  const healthy = (port: number) => async () => (await probe(`https://127.0.0.1:${port}/healthz`))?.status === 200;
  const core = admin.makeApiClient(CoreV1Api);
  // NOTE: the ServiceAccount controller syncs last among the controllers, so its work means they all run.
  const defaultServiceAccount = () =>
    exists(() => core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }));
  await Promise.all([
    waitUntil(
      'kube-controller-manager /healthz',
      run.deadline,
      bed.components,
      healthy(layout.ports.controllerManager),
    ),
    waitUntil('kube-scheduler /healthz', run.deadline, bed.components, healthy(layout.ports.scheduler)),
    waitUntil('the default ServiceAccount', run.deadline, bed.components, defaultServiceAccount),
  ]);
}

/**
 * How the API server calls real kubelets (logs, exec, attach, port-forward): as a system:masters user, on the Node's
 * InternalIP (the node IP a real kubelet reports; the stand-ins are never called). The kubelet's self-signed serving
 * certificate is not verified, as in kubeadm's default.
 */
function kubeletClientArgs(dir: string): string[] {
  return [
    `--kubelet-client-certificate=${join(dir, 'pki', KUBELET_CLIENT)}.crt`,
    `--kubelet-client-key=${join(dir, 'pki', KUBELET_CLIENT)}.key`,
    '--kubelet-preferred-address-types=InternalIP',
  ];
}
const KUBELET_CLIENT = 'apiserver-kubelet-client';

/** Certificates, ports, audit policy and component kubeconfigs, all inside `dir`. */
async function prepare(dir: string, openssl: string): Promise<{ layout: Layout; pki: Pki }> {
  await Promise.all(['logs', 'pki', 'etcd'].map((d) => mkdir(join(dir, d), { recursive: true, mode: 0o700 })));
  const pki = await createPki(join(dir, 'pki'), openssl);
  const kubeletClient = await pki.clientCert('kube-apiserver-kubelet-client', ['system:masters']);
  await copyFile(kubeletClient.certPath, join(dir, 'pki', `${KUBELET_CLIENT}.crt`));
  await copyFile(kubeletClient.keyPath, join(dir, 'pki', `${KUBELET_CLIENT}.key`));
  const [etcd, etcdPeer, apiserver, controllerManager, scheduler] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const layout: Layout = {
    dir,
    ports: { etcd, etcdPeer, apiserver, controllerManager, scheduler },
    pki: {
      ca: pki.ca.certPath,
      caKey: pki.ca.keyPath,
      servingCert: pki.serving.certPath,
      servingKey: pki.serving.keyPath,
      saPrivate: pki.serviceAccountKey.privatePath,
      saPublic: pki.serviceAccountKey.publicPath,
    },
    auditPolicyPath: join(dir, 'audit-policy.yaml'),
    auditLogPath: join(dir, 'audit.log'),
    controllerManagerKubeconfig: join(dir, 'kube-controller-manager.kubeconfig'),
    schedulerKubeconfig: join(dir, 'kube-scheduler.kubeconfig'),
  };
  const server = `https://127.0.0.1:${apiserver}`;
  const componentKubeconfig = async (path: string, user: string) => {
    const cert = await pki.clientCert(user);
    await writeFile(path, componentKubeConfigYaml(server, pki.ca.certPath, cert.certPath, cert.keyPath));
  };
  await Promise.all([
    writeFile(layout.auditPolicyPath, AUDIT_POLICY),
    componentKubeconfig(layout.controllerManagerKubeconfig, 'system:kube-controller-manager'),
    componentKubeconfig(layout.schedulerKubeconfig, 'system:kube-scheduler'),
  ]);
  return { layout, pki };
}

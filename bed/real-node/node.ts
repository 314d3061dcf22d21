/**
 * One real node: a PID + mount + UTS namespace whose PID 1 is the real `pause` binary, with its own containerd
 * (CRI) and kubelet inside, against the bed's control plane.
 *
 * - power on (`boot`): the namespace is made (`unshare`), /run becomes a fresh tmpfs and the node's folders are
 *   bind-mounted on the standard paths, `pause` becomes PID 1; then containerd and the kubelet are started inside
 *   with nsenter. The node's disk (its folder) survives power cycles: images imported once stay.
 * - power off: PID 1 ends (`powerOff()` sends it SIGTERM, as a helper pod's `kill -TERM 1` does, or `systemctl
 *   poweroff` on a host), the kernel kills everything else in the namespace and the mounts go with it; then the
 *   node's cgroups are removed, as a reboot would (stale ones stall cAdvisor ~12 s at the next boot).
 *
 * NOTE: every process is started through `setpriv --pdeathsig KILL`, and `unshare --kill-child` passes that on to
 * PID 1, so a test process that dies takes its nodes with it; ./host.ts undoes what they changed on the machine.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { execa } from 'execa';
import { nodeLabels } from '../kubelet/node.js';
import type { ControlPlane } from '../plane.js';
import { type Component, logTail, spawnComponent } from '../processes.js';
import { cniConflist, containerdToml, kubeletConfig, NODE_MOUNTS, type NodeSlot } from './config.js';
import { cgroupHierarchies, claimSlot, releaseSlot, removeCgroups } from './host.js';
import type { RealNodeTools } from './tools.js';

export const BED_IMAGES = {
  pause: 'localhost/hecate/pause:bed',
  busybox: 'localhost/hecate/busybox:bed',
  helper: 'localhost/hecate/helper:bed',
} as const;
export type BedImage = keyof typeof BED_IMAGES;

const SYSTEMCTL = '/usr/bin/systemctl';
/**
 * The node's `systemctl`, bind-mounted over the machine's inside the node: `poweroff`, `halt` and `reboot` end PID 1
 * (so Hecate's default power-off command works as on a host); every other verb does nothing and succeeds.
 */
const SYSTEMCTL_SHIM = `#!/bin/sh
case "$1" in poweroff|halt|reboot) sync; kill -TERM 1 ;; esac
exit 0
`;

export interface RealNodeSpec {
  name: string;
  role?: 'control-plane' | 'worker';
  labels?: Record<string, string>;
  taints?: { key: string; value?: string | undefined; effect: string }[];
  /** Bed images imported into the node's containerd at its first boot (default all: pause, busybox, helper). */
  images?: readonly BedImage[];
  /** `host:port` registries containerd reaches over plain HTTP (e.g. the bed's registry). */
  plainHttpRegistries?: readonly string[];
}

export interface BootTimings {
  /** unshare until pause is PID 1 */
  namespaceMs: number;
  containerdMs: number;
  importMs: number;
  /** kubelet start until the Node is Ready */
  kubeletMs: number;
  totalMs: number;
}

export class RealNode {
  readonly name: string;
  readonly dir: string;
  readonly slot: NodeSlot;
  private init: Component | undefined;
  private parts: Component[] = [];
  private initPid = 0;
  private booted = false;
  private released = false;
  private readonly log: (message: string) => void;

  private constructor(
    private readonly spec: RealNodeSpec,
    private readonly plane: ControlPlane,
    private readonly tools: RealNodeTools,
    log: (message: string) => void,
  ) {
    this.name = spec.name;
    this.dir = join(plane.dir, 'real-nodes', spec.name);
    this.slot = claimSlot(spec.name, Object.keys(NODE_MOUNTS));
    this.log = (message) => log(`${spec.name}: ${message}`);
  }

  /** Claims a slot and writes the node's configuration; `boot()` powers it on. */
  static async create(
    spec: RealNodeSpec,
    plane: ControlPlane,
    tools: RealNodeTools,
    log: (message: string) => void = () => {},
  ): Promise<RealNode> {
    const node = new RealNode(spec, plane, tools, log);
    try {
      await node.configure();
      return node;
    } catch (error) {
      node.release();
      throw error;
    }
  }

  /** containerd's socket as the host sees it (through PID 1's root). */
  get socket(): string {
    return `/proc/${this.initPid}/root/run/containerd/containerd.sock`;
  }

  /** The host PID of the node's PID 1 (pause), 0 when off. */
  get pid(): number {
    return this.isOn() ? this.initPid : 0;
  }

  isOn(): boolean {
    return this.init !== undefined && !this.init.hasExited();
  }

  /** Resolves when PID 1 has ended and the node's cgroups are removed (whoever powered it off). */
  async poweredOff(): Promise<void> {
    if (!this.init) return;
    await this.init.exited;
    await Promise.all(this.parts.map((p) => p.exited));
    removeCgroups(this.slot.cgroupRoot);
  }

  /** Powers the node on and resolves once its Node is Ready. */
  async boot(timeoutMs = 60_000): Promise<BootTimings> {
    if (this.isOn()) throw new Error(`${this.name} is already on`);
    const t0 = Date.now();
    const deadline = t0 + timeoutMs;
    this.parts = [];
    for (const h of cgroupHierarchies()) await mkdir(join(h, this.slot.cgroupRoot), { recursive: true });
    if (!hasAddress(this.slot.ip)) execFileSync('ip', ['addr', 'add', `${this.slot.ip}/32`, 'dev', 'lo']);
    await this.startNamespace(deadline);
    const t1 = Date.now();
    this.parts = [this.inside('containerd', [this.tools.containerd, '--config', join(this.dir, 'containerd.toml')])];
    await this.until('containerd answers', deadline, async () => (await this.ctr(['version'])).exitCode === 0);
    const t2 = Date.now();
    if (!this.booted) await this.importImages(this.spec.images ?? (Object.keys(BED_IMAGES) as BedImage[]));
    const t3 = Date.now();
    this.parts.push(this.inside('kubelet', this.kubeletArgs()));
    await this.until('the Node Ready', deadline, () => this.ready());
    if (!this.booted) await this.label();
    this.booted = true;
    const timings = {
      namespaceMs: t1 - t0,
      containerdMs: t2 - t1,
      importMs: t3 - t2,
      kubeletMs: Date.now() - t3,
      totalMs: Date.now() - t0,
    };
    this.log(`booted, Ready after ${timings.totalMs} ms (kubelet ${timings.kubeletMs} ms)`);
    return timings;
  }

  /** Pulls the plug: PID 1 gets SIGTERM (pause exits), the kernel kills the rest; resolves once all is gone. */
  async powerOff(): Promise<void> {
    if (this.isOn()) {
      try {
        // NOTE: never pid 0 (that would signal this process's own group)
        if (this.initPid <= 0) throw new Error('PID 1 unknown');
        process.kill(this.initPid, 'SIGTERM');
      } catch {
        // PID 1 not known yet (a boot that failed early): end its wrapper, `--kill-child` takes PID 1 along
        await this.init?.stop(1_000);
      }
    }
    await this.poweredOff();
  }

  /** `ctr -n k8s.io <args>` against the node's containerd. */
  ctr(args: readonly string[], input?: string) {
    return execa(this.tools.ctr, ['--address', this.socket, '--connect-timeout', '2s', '-n', 'k8s.io', ...args], {
      reject: false,
      ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
      timeout: 120_000,
    });
  }

  /** Image references in the node's containerd (k8s.io namespace). */
  async images(): Promise<string[]> {
    const result = await this.ctr(['images', 'ls', '-q']);
    if (result.exitCode !== 0) throw new Error(`ctr images ls on ${this.name} failed: ${result.stderr}`);
    return result.stdout.split('\n').filter(Boolean);
  }

  /** The last lines of the node's containerd and kubelet logs, for failure messages. */
  async logs(lines = 20): Promise<string> {
    const parts = await Promise.all(
      ['init', 'containerd', 'kubelet'].map(
        async (n) => `--- ${this.name} ${n} ---\n${await logTail(this.logPath(n), lines)}`,
      ),
    );
    return parts.join('\n');
  }

  /** Powers off (if on) and gives the slot back (address, bridge, cgroups; the last node restores the machine). */
  async stop(): Promise<void> {
    await this.powerOff();
    this.release();
  }

  /** For the reaper's exit hook: SIGKILL to PID 1 and its wrapper, wait (synchronously) and release the slot. */
  killSync(): void {
    for (const pid of [this.initPid, this.init?.pid ?? 0]) {
      try {
        if (pid > 0 && this.isOn()) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    releaseSlot(this.slot);
  }

  private async configure(): Promise<void> {
    await Promise.all(Object.values(NODE_MOUNTS).map((d) => mkdir(join(this.dir, d), { recursive: true })));
    await mkdir(join(this.dir, 'logs'), { recursive: true });
    const kc = await this.plane.userKubeConfig(`system:node:${this.name}`, ['system:nodes']);
    const caPem = Buffer.from(kc.getCurrentCluster()?.caData ?? '', 'base64').toString('utf8');
    await writeFile(join(this.dir, 'ca.crt'), caPem);
    await this.plane.writeKubeConfig(kc, join('real-nodes', this.name, 'kubelet.kubeconfig'));
    await writeFile(
      join(this.dir, 'containerd.toml'),
      containerdToml({ sandboxImage: BED_IMAGES.pause, plainHttpRegistries: this.spec.plainHttpRegistries ?? [] }),
    );
    await writeFile(join(this.dir, NODE_MOUNTS['/etc/cni/net.d'], '10-hecate-bed.conflist'), cniConflist(this.slot));
    await writeFile(join(this.dir, 'systemctl'), SYSTEMCTL_SHIM, { mode: 0o755 });
    await writeFile(
      join(this.dir, 'kubelet.yaml'),
      kubeletConfig({ slot: this.slot, clientCaFile: join(this.dir, 'ca.crt') }),
    );
  }

  private kubeletArgs(): string[] {
    const taints = (this.spec.taints ?? []).map((t) => `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`);
    return [
      this.tools.kubelet,
      `--config=${join(this.dir, 'kubelet.yaml')}`,
      `--kubeconfig=${join(this.dir, 'kubelet.kubeconfig')}`,
      `--hostname-override=${this.name}`,
      `--node-ip=${this.slot.ip}`,
      ...(taints.length > 0 ? [`--register-with-taints=${taints.join(',')}`] : []),
      '--v=1',
    ];
  }

  /** unshare: new PID, mount and UTS namespaces; the mounts; then `exec pause` as PID 1. */
  private async startNamespace(deadline: number): Promise<void> {
    this.initPid = 0;
    const mounts = Object.entries(NODE_MOUNTS).map(
      ([target, source]) => `mkdir -p ${target} && mount --bind ${join(this.dir, source)} ${target}`,
    );
    const script = [
      `hostname ${this.name}`,
      'mount -t tmpfs -o mode=755 tmpfs /run',
      ...mounts,
      // NOTE: the node's own systemctl: the machine's must never be reached from a node (it would power it off)
      `if [ -e ${SYSTEMCTL} ]; then mount --bind ${join(this.dir, 'systemctl')} ${SYSTEMCTL}; fi`,
      `exec ${this.tools.pause}`,
    ];
    const args = [
      '--pid',
      '--fork',
      '--kill-child=SIGKILL',
      '--mount',
      '--mount-proc',
      '--uts',
      '--propagation',
      'private',
    ];
    this.init = spawnComponent(
      `${this.name}-init`,
      this.tools.unshare,
      [...args, '--', 'sh', '-ec', script.join('\n')],
      {
        setpriv: this.tools.setpriv,
        logPath: this.logPath('init'),
      },
    );
    const wrapper = this.init.pid;
    await this.until('pause as PID 1', deadline, async () => {
      const child = await childOf(wrapper);
      if (child && (await readFile(`/proc/${child}/comm`, 'utf8').catch(() => '')).trim() === 'pause') {
        this.initPid = child;
        return true;
      }
      return false;
    });
  }

  /**
   * A process inside the node's namespaces (nsenter into PID 1's): it sees the node's mounts and PID 1, and dies
   * with the node (e.g. an sshd whose sessions power the node off). Logs in the node's logs/<name>.log.
   */
  inside(name: string, argv: string[]): Component {
    if (!this.isOn()) throw new Error(`${this.name} is off`);
    return spawnComponent(
      `${this.name}-${name}`,
      this.tools.nsenter,
      ['-t', String(this.initPid), '-p', '-m', '-u', '--', ...argv],
      { setpriv: this.tools.setpriv, logPath: this.logPath(name) },
    );
  }

  private async importImages(images: readonly BedImage[]): Promise<void> {
    for (const image of images) {
      const result = await this.ctr(['images', 'import', join(this.tools.imagesDir, `${image}.tar`)]);
      if (result.exitCode !== 0) throw new Error(`Importing ${image} into ${this.name} failed: ${result.stderr}`);
    }
  }

  private async ready(): Promise<boolean> {
    try {
      const node = await this.core().readNode({ name: this.name });
      return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    } catch {
      return false;
    }
  }

  /** The stand-ins' labels (k3s roles, scenario labels): the kubelet may not set node-role.kubernetes.io/*, an admin may. */
  private async label(): Promise<void> {
    const labels = nodeLabels({ name: this.name, role: this.spec.role ?? 'worker', labels: this.spec.labels ?? {} });
    await this.core().patchNode(
      { name: this.name, body: { metadata: { labels } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  private core(): CoreV1Api {
    return (this.plane.kubeConfig as KubeConfig).makeApiClient(CoreV1Api);
  }

  private logPath(part: string): string {
    return join(this.dir, 'logs', `${part}.log`);
  }

  /** Polls `check` until it holds; fails with the node's logs when a part exited or the deadline passed. */
  private async until(what: string, deadline: number, check: () => Promise<boolean>): Promise<void> {
    for (;;) {
      if (await check()) return;
      const dead = [this.init, ...this.parts].find((c) => c?.hasExited());
      if (dead || Date.now() > deadline) {
        const why = dead ? `${dead.name} exited (${await dead.exited})` : 'timed out';
        throw new Error(`${this.name}: waiting for ${what}: ${why}\n${await this.logs()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

async function childOf(pid: number): Promise<number | undefined> {
  try {
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    const first = Number(children.trim().split(' ')[0]);
    return first > 0 ? first : undefined;
  } catch {
    return undefined;
  }
}

function hasAddress(ip: string): boolean {
  return execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }).includes(` ${ip}/32`);
}

/**
 * Whether real nodes can run here, and with what: root, a cgroup v1 machine, the kubelet (built with the other test
 * binaries), the node images (hack/setup-node-images.sh), containerd + runc, the CNI plugins and util-linux. Like the
 * control plane: on a laptop without them the tests skip with the reason and the fix; under CI=true they fail.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bedAvailability } from '../availability.js';
import { isExecutable, onPath, REPO_ROOT } from '../binaries.js';

export interface RealNodeTools {
  kubelet: string;
  /** The folder with pause (the binary, every node's PID 1) and pause.tar, busybox.tar, helper.tar. */
  imagesDir: string;
  pause: string;
  containerd: string;
  ctr: string;
  unshare: string;
  nsenter: string;
  setpriv: string;
}

export type RealNodeAvailability = ({ ok: true } & RealNodeTools) | { ok: false; reason: string; fix: string };

export const NODE_IMAGES_COMMAND = 'hack/setup-node-images.sh';
const PACKAGES = 'apt-get install containerd runc containernetworking-plugins iptables util-linux';

export function realNodeAvailability(env: NodeJS.ProcessEnv = process.env): RealNodeAvailability {
  if (process.getuid?.() !== 0) {
    return { ok: false, reason: 'real nodes need root (namespaces, mounts, cgroups, addresses)', fix: 'run as root' };
  }
  if (!existsSync('/sys/fs/cgroup/memory/cgroup.procs')) {
    return { ok: false, reason: 'real nodes are only made for cgroup v1 machines so far', fix: 'boot with cgroup v1' };
  }
  const bed = bedAvailability(env);
  if (!bed.ok) return bed;
  const kubelet = join(bed.binaries.dir, 'kubelet');
  if (!isExecutable(kubelet)) {
    return { ok: false, reason: `no kubelet in ${bed.binaries.dir}`, fix: 'run hack/setup-test-binaries.sh' };
  }
  const imagesDir = findNodeImages(env);
  if (!imagesDir) {
    return { ok: false, reason: 'the node images are not built', fix: `run ${NODE_IMAGES_COMMAND} (as root)` };
  }
  const found = Object.fromEntries(
    ['containerd', 'ctr', 'runc', 'unshare', 'nsenter', 'ip', 'iptables'].map((n) => [n, onPath(n, env)]),
  );
  const missing = Object.entries(found).filter(([, path]) => !path);
  if (missing.length > 0 || !existsSync('/usr/lib/cni/bridge')) {
    const what = [...missing.map(([n]) => n), ...(existsSync('/usr/lib/cni/bridge') ? [] : ['/usr/lib/cni/bridge'])];
    return { ok: false, reason: `missing: ${what.join(', ')}`, fix: PACKAGES };
  }
  return {
    ok: true,
    kubelet,
    imagesDir,
    pause: join(imagesDir, 'pause'),
    containerd: found.containerd as string,
    ctr: found.ctr as string,
    unshare: found.unshare as string,
    nsenter: found.nsenter as string,
    setpriv: bed.setpriv,
  };
}

/** The cached image folder, found by the script that builds it (`--find` never builds). */
function findNodeImages(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return (
      execFileSync(join(REPO_ROOT, NODE_IMAGES_COMMAND), ['--find'], { encoding: 'utf8', env }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/**
 * For test files: `const real = requireRealNodes(); describe.skipIf(!real.ok)(...)`. Prints why real nodes cannot
 * run; throws instead when CI=true (CI runs as root), so CI cannot pass by skipping.
 */
export function requireRealNodes(env: NodeJS.ProcessEnv = process.env): RealNodeAvailability {
  const availability = realNodeAvailability(env);
  if (availability.ok) return availability;
  const message = `Real nodes unavailable: ${availability.reason}. Fix: ${availability.fix}`;
  if (env.CI === 'true') throw new Error(`${message} (CI=true: integration tests may not skip)`);
  console.warn(`SKIP ${message}`);
  return availability;
}

/**
 * A real node (root only): its boot to Ready (the first, which imports the bed's images, and a cold boot after a power
 * cut), and the seed throughput through a helper pod on it (root only: a real kubelet, containerd and runc, see
 * bed/real-node/), against the raw pipeline `zstd -dc bundle | ctr import -` into the same node's containerd. Hecate's
 * path is `kubectl exec -i` into a privileged helper pod (API server → kubelet → containerd's stream server), whose
 * nsenter runs the same `zstd -dc | ctr import` on the node. Measured both ways kubectl speaks to the API server:
 * WebSocket (its default since 1.30; the API server translates to SPDY for the kubelet) and SPDY end to end
 * (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`). The stream is timed from its first byte (the helper pod's start apart);
 * each import starts with the image removed. A benchmark, not a test: it measures and prints.
 *
 *   npx tsx hack/bench-real-node.ts [sizeMiB=256] [rounds=2]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { execa } from 'execa';
import { HelperPodImageSeed } from '../adapters/bundle/seed-helper-pod.js';
import { eventually, realNodeAvailability, startControlPlane, startRealNodes } from '../bed/index.js';
import { BED_IMAGES } from '../bed/real-node/index.js';
import { makeBundle } from '../test/helpers/oci-layout.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 256);
const rounds = Number(process.argv[3] ?? 2);
const REF = 'docker.io/goharbor/bench-node:v2.14.1';

const real = realNodeAvailability();
if (!real.ok) {
  console.log(`bench-real-node: skipped (${real.reason}; ${real.fix})`);
  process.exit(0);
}

const work = await mkdtemp(join(tmpdir(), 'hecate-bench-real-node-'));
const plane = await startControlPlane();
const nodes = await startRealNodes(plane, [{ name: 'seed-a' }], real).catch(async (error: unknown) => {
  await plane.stop();
  throw error;
});
try {
  const node = nodes.node('seed-a');
  const first = nodes.boots.get('seed-a');
  await node.powerOff();
  // as after a real power cut: the node-lifecycle controller has marked it down before it boots again (else the boot
  // would find its Node still Ready and time nothing)
  const core = plane.kubeConfig.makeApiClient(CoreV1Api);
  await eventually(
    'seed-a NotReady',
    async () =>
      (await core.readNode({ name: 'seed-a' })).status?.conditions?.some(
        (c) => c.type === 'Ready' && c.status !== 'True',
      ) === true,
    { timeoutMs: 120_000 },
  );
  const cold = await node.boot();
  const parts = (b: typeof cold | undefined) =>
    b
      ? `${(b.totalMs / 1000).toFixed(1)} s (namespace ${b.namespaceMs} ms, containerd ${b.containerdMs} ms, image import ${b.importMs} ms, kubelet to Ready ${b.kubeletMs} ms)`
      : '-';
  console.log(`boot to Ready, first (imports the bed's images): ${parts(first)}`);
  console.log(`boot to Ready, cold boot after a power cut:        ${parts(cold)}`);
  const bundle = join(work, 'bundle.tar.zst');
  const { manifest } = await makeBundle(
    bundle,
    [{ reference: REF, platforms: ['linux/amd64'], randomBytes: sizeMiB * MiB }],
    { platform: 'linux/amd64' },
  );
  const seed = new HelperPodImageSeed(plane.kubeConfig, {
    helperImage: BED_IMAGES.helper,
    kubectl: plane.binaries.kubectl,
    kubeconfig: plane.kubeconfigPath,
    pollMs: 250,
  });
  const clear = async () => {
    await node.ctr(['images', 'rm', '--sync', REF]);
  };
  /** Hecate's import through the helper pod: the stream from its first byte, and the whole import. */
  // NOTE: set here for both runs (Hecate's own default is SPDY unless the user sets it: seed-helper-pod.ts)
  const throughHelper = (websockets: boolean) => async () => {
    process.env.KUBECTL_REMOTE_COMMAND_WEBSOCKETS = String(websockets);
    let first = 0;
    const t0 = performance.now();
    await seed.importBundle({ name: 'seed-a', address: node.slot.ip }, bundle, {
      platform: 'linux/amd64',
      totalBytes: manifest.size,
      sha256: manifest.sha256,
      onProgress: () => {
        first ||= performance.now();
      },
    });
    const end = performance.now();
    return { streamS: (end - (first || t0)) / 1000, wholeS: (end - t0) / 1000 };
  };
  const runs: Record<string, () => Promise<{ streamS: number; wholeS: number }>> = {
    'zstd -dc | ctr import - (raw, same containerd)': async () => {
      const t0 = performance.now();
      await execa('sh', [
        '-c',
        `zstd -dc "$1" | ${real.ctr} --address "$2" -n k8s.io images import --platform linux/amd64 -`,
        'raw',
        bundle,
        node.socket,
      ]);
      const s = (performance.now() - t0) / 1000;
      return { streamS: s, wholeS: s };
    },
    'helper pod, kubectl exec over WebSocket': throughHelper(true),
    'helper pod, kubectl exec over SPDY': throughHelper(false),
  };
  const results: Record<string, { stream: number; whole: number }[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(runs)) {
      await clear();
      const { streamS, wholeS } = await run();
      if (!(await node.images()).includes(REF)) throw new Error(`${name}: ${REF} is not in the node's containerd`);
      const mb = manifest.size / 1e6;
      results[name] = [...(results[name] ?? []), { stream: mb / streamS, whole: mb / wholeS }];
    }
  }
  const best = (name: string, key: 'stream' | 'whole') => Math.max(...(results[name] ?? []).map((r) => r[key]));
  const raw = best('zstd -dc | ctr import - (raw, same containerd)', 'stream');
  console.log(
    `\n${'run'.padEnd(48)} ${'stream MB/s'.padStart(12)} ${'vs raw'.padStart(7)} ${'whole MB/s'.padStart(11)}`,
  );
  for (const name of Object.keys(runs)) {
    console.log(
      `${name.padEnd(48)} ${best(name, 'stream').toFixed(0).padStart(12)} ${(best(name, 'stream') / raw).toFixed(2).padStart(7)} ${best(name, 'whole').toFixed(0).padStart(11)}`,
    );
  }
  console.log(
    `\nbundle ${(manifest.size / MiB).toFixed(0)} MiB of incompressible layers; MB = 10^6 bytes; best of ${rounds} round(s); whole = with the helper pod's start; 2 shared cores`,
  );
  console.log(`reproduce: npx tsx hack/bench-real-node.ts ${sizeMiB} ${rounds}`);
} finally {
  await nodes.stop();
  await plane.stop();
  await rm(work, { recursive: true, force: true });
}

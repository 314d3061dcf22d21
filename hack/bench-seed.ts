/**
 * Seed throughput for a bundle of incompressible layers (default 1 GiB), on real parts on loopback: Hecate's
 * stream (SshImageSeed: the file through ssh's stdin, `zstd -dc | ctr import --platform` on the "node") vs the raw
 * pipeline `zstd -dc bundle | ctr import -` on the same machine, vs the same raw pipeline through ssh, vs
 * `cat bundle > /dev/null` (the disk limit). Each import starts from an empty containerd namespace. A benchmark,
 * not a test: it measures and prints, it does not pass or fail.
 *
 *   npx tsx hack/bench-seed.ts [sizeMiB=1024] [rounds=1]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SshImageSeed } from '../adapters/bundle/seed-ssh.js';
import { remoteCommand, sshArgs } from '../adapters/node-access/ssh.js';
import { requireContainerd, startContainerd } from '../test/helpers/containerd.js';
import { makeBundle } from '../test/helpers/oci-layout.js';
import { requireSshd, startSshd } from '../test/helpers/sshd.js';

const MiB = 1024 * 1024;
const sizeMiB = Number(process.argv[2] ?? 1024);
const rounds = Number(process.argv[3] ?? 1);
const REF = 'docker.io/goharbor/bench:v2.14.1';

const ctrTools = requireContainerd();
const sshTools = requireSshd();
if (!ctrTools.ok || !sshTools.ok) {
  console.log('bench-seed: skipped (see above)');
  process.exit(0);
}

const work = await mkdtemp(join(tmpdir(), 'hecate-bench-seed-'));
const [containerd, sshd] = await Promise.all([startContainerd(ctrTools), startSshd(sshTools)]);
try {
  const bundle = join(work, 'bundle.tar.zst');
  const built = performance.now();
  const { manifest } = await makeBundle(
    bundle,
    [{ reference: REF, platforms: ['linux/arm64'], randomBytes: sizeMiB * MiB }],
    { platform: 'linux/arm64' },
  );
  console.log(
    `bundle: ${(manifest.size / MiB).toFixed(0)} MiB of incompressible layers, built in ${((performance.now() - built) / 1000).toFixed(1)} s`,
  );
  const ctr = [...containerd.ctrArgs];
  const clear = async () => {
    await execa(containerd.ctr, [...ctr, 'images', 'rm', '--sync', REF], { reject: false });
  };
  const seed = new SshImageSeed({
    user: sshd.user,
    keyFile: sshd.keyFile,
    port: sshd.port,
    knownHostsFile: sshd.knownHostsFile,
    ctr: [containerd.ctr],
    address: containerd.address,
  });
  const node = { name: 'bench', address: '127.0.0.1' };
  const remoteImport = `zstd -dc | ${containerd.ctr} ${ctr.join(' ')} images import --platform linux/arm64 -`;
  const ssh = sshArgs(node, remoteCommand(['sh', '-c', remoteImport]), {
    user: sshd.user,
    keyFile: sshd.keyFile,
    port: sshd.port,
    knownHostsFile: sshd.knownHostsFile,
  });
  let hecatePeakRss = 0;
  let hecateBaseRss = 0;
  const runs: Record<string, () => Promise<unknown>> = {
    'cat bundle > /dev/null (page cache)': () => execa('sh', ['-c', 'cat "$1" > /dev/null', 'sh', bundle]),
    'zstd -dc | ctr import - (local)': () =>
      execa('sh', [
        '-c',
        `zstd -dc "$1" | ${containerd.ctr} ${ctr.join(' ')} images import --platform linux/arm64 -`,
        'sh',
        bundle,
      ]),
    'ssh "zstd -dc | ctr import -" < bundle': () => execa('ssh', ssh, { inputFile: bundle }),
    "Hecate's stream (SshImageSeed)": async () => {
      hecateBaseRss = process.memoryUsage().rss;
      hecatePeakRss = hecateBaseRss;
      const sampler = setInterval(() => {
        hecatePeakRss = Math.max(hecatePeakRss, process.memoryUsage().rss);
      }, 20);
      try {
        await seed.importBundle(node, bundle, {
          platform: 'linux/arm64',
          totalBytes: manifest.size,
          sha256: manifest.sha256,
        });
      } finally {
        clearInterval(sampler);
      }
    },
  };
  const results: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [name, run] of Object.entries(runs)) {
      await clear();
      const started = performance.now();
      await run();
      const seconds = (performance.now() - started) / 1000;
      if (!name.startsWith('cat')) {
        const images = await containerd.images();
        if (!images.some((i) => i.reference === REF && i.digest === manifest.images[0]?.digest)) {
          throw new Error(`${name}: the image is not in containerd after the import`);
        }
      }
      results[name] = [...(results[name] ?? []), manifest.size / 1e6 / seconds];
    }
  }
  const best = (name: string) => Math.max(...(results[name] ?? [0]));
  const raw = best('zstd -dc | ctr import - (local)');
  const disk = best('cat bundle > /dev/null (page cache)');
  console.log(`\n${'run'.padEnd(42)} ${'MB/s'.padStart(8)} ${'vs raw'.padStart(8)} ${'vs cat'.padStart(8)}`);
  for (const name of Object.keys(runs)) {
    const mbs = best(name);
    console.log(
      `${name.padEnd(42)} ${mbs.toFixed(0).padStart(8)} ${(mbs / raw).toFixed(2).padStart(8)} ${(mbs / disk).toFixed(3).padStart(8)}`,
    );
  }
  console.log(
    `\nHecate's process RSS while streaming: +${((hecatePeakRss - hecateBaseRss) / MiB).toFixed(0)} MiB over ${(hecateBaseRss / MiB).toFixed(0)} MiB (bundle ${(manifest.size / MiB).toFixed(0)} MiB)`,
  );
  console.log(`MB = 10^6 bytes; best of ${rounds} round(s); containerd ${containerd.dir}, 2 shared cores`);
  console.log(`reproduce: npx tsx hack/bench-seed.ts ${sizeMiB} ${rounds}`);
} finally {
  await Promise.all([containerd.stop(), sshd.stop()]);
  await rm(work, { recursive: true, force: true });
}

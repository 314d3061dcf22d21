/**
 * The node-side scripts run by a real `sh` with a stand-in ctr (a shell script that logs its argv and reads stdin),
 * so the exit statuses of the zstd | ctr pipeline are checked without a containerd.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importScript, listScript, parseImageList } from '../../../adapters/bundle/node-script.js';
import { imagesFromNodeStatus } from '../../../adapters/bundle/presence-kube.js';
import { kubectlExecArgs, streamEnv } from '../../../adapters/bundle/seed-helper-pod.js';

const D = (n: number) => `sha256:${String(n).repeat(64)}`;

describe('parseImageList', () => {
  it('reads REF and DIGEST from ctr images ls, whatever the padding and the size column', () => {
    const output = [
      'REF                                      TYPE                                                 DIGEST    SIZE      PLATFORMS   LABELS',
      `docker.io/goharbor/harbor-core:v2.14.1  application/vnd.oci.image.manifest.v1+json           ${D(1)} 12.3 KiB  linux/arm64 -`,
      `docker.io/goharbor/harbor-db:v2.14.1    application/vnd.docker.distribution.manifest.v2+json ${D(2)} 1.0 MiB   linux/arm64 -`,
      '',
    ].join('\n');
    expect(parseImageList(output)).toEqual([
      { reference: 'docker.io/goharbor/harbor-core:v2.14.1', digest: D(1) },
      { reference: 'docker.io/goharbor/harbor-db:v2.14.1', digest: D(2) },
    ]);
  });
});

describe('imagesFromNodeStatus', () => {
  it('pairs each tag with the digests of its own repository', () => {
    const images = [
      { names: [`docker.io/goharbor/core@${D(1)}`, 'docker.io/goharbor/core:v1'], sizeBytes: 1 },
      { names: ['127.0.0.1:5000/x:v2', `127.0.0.1:5000/x@${D(2)}`, `other/y@${D(3)}`], sizeBytes: 1 },
      { names: ['no-digest:v1'], sizeBytes: 1 },
    ];
    expect(imagesFromNodeStatus(images)).toEqual([
      { reference: 'docker.io/goharbor/core:v1', digest: D(1) },
      { reference: '127.0.0.1:5000/x:v2', digest: D(2) },
    ]);
  });
});

describe('kubectlExecArgs', () => {
  it('streams stdin into the helper container and enters the host with nsenter', () => {
    expect(kubectlExecArgs({ kubeconfig: '/k', context: 'c' }, 'hecate-system', 'p', 'echo', ['a', 'b'])).toEqual([
      '--kubeconfig',
      '/k',
      '--context',
      'c',
      'exec',
      '-i',
      '-n',
      'hecate-system',
      'p',
      '-c',
      'helper',
      '--',
      'nsenter',
      '-t',
      '1',
      '-m',
      '-u',
      '-i',
      '-n',
      '-p',
      '--',
      'sh',
      '-c',
      'echo',
      'a',
      'b',
    ]);
  });
});

describe('importScript under a real sh', () => {
  let dir: string;
  let ctr: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-node-script-'));
    ctr = join(dir, 'fake ctr');
    // Logs its argv, reads all of stdin into a file, exits with $FAKE_CTR_EXIT.
    await writeFile(ctr, `#!/bin/sh\necho "$@" >> "${dir}/argv"\ncat > "${dir}/stdin"\nexit "\${FAKE_CTR_EXIT:-0}"\n`);
    await chmod(ctr, 0o755);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const run = (input: Buffer, env: Record<string, string> = {}, keepIn?: string) =>
    spawnSync(
      'sh',
      ['-c', importScript({ ctr: [ctr], address: '/run/c.sock', ...(keepIn ? { keepIn } : {}) }), 'x', 'linux/arm64'],
      {
        input,
        env: { ...process.env, ...env },
      },
    );
  const zst = (text: string) => execFileSync('zstd', ['-q', '-c'], { input: Buffer.from(text) });

  it('decompresses into ctr with the platform and the address, and exits 0', async () => {
    const result = run(zst('tar bytes'));
    expect(result.status).toBe(0);
    expect(await readFile(join(dir, 'stdin'), 'utf8')).toBe('tar bytes');
    expect((await readFile(join(dir, 'argv'), 'utf8')).trim().split('\n').at(-1)).toBe(
      '--address /run/c.sock --connect-timeout 3s -n k8s.io images import --platform linux/arm64 -',
    );
  });

  it('exits with ctr’s status when the import fails', () => {
    const result = run(zst('tar bytes'), { FAKE_CTR_EXIT: '7' });
    expect(result.status).toBe(7);
  });

  it('exits 3 and says so when the stream is not valid zstd, even though ctr exited 0', () => {
    const result = run(Buffer.from('not zstd at all'));
    expect(result.status).toBe(3);
    expect(result.stderr.toString()).toContain('zstd -dc failed');
  });

  it('keeps the compressed bundle in the agent folder only once the import succeeded', async () => {
    const keep = join(dir, 'images');
    await execFileSync('mkdir', ['-p', keep]);
    expect(run(zst('one'), { FAKE_CTR_EXIT: '1' }, keep).status).toBe(1);
    expect(spawnSync('ls', [keep]).stdout.toString().trim()).toBe('harbor-bootstrap.tar.zst.part');
    expect(run(zst('two'), {}, keep).status).toBe(0);
    expect(spawnSync('ls', [keep]).stdout.toString().trim()).toBe('harbor-bootstrap.tar.zst');
  });

  it('lists with the same ctr and namespace', () => {
    expect(listScript({ ctr: ['ctr'] })).toContain('c() { ctr --connect-timeout 3s -n k8s.io "$@"; }');
  });
});

describe('streamEnv (kubectl for the bundle stream)', () => {
  it('asks kubectl for SPDY end to end, unless the user chose', () => {
    expect(streamEnv({ PATH: '/usr/bin' })).toEqual({ PATH: '/usr/bin', KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false' });
    expect(streamEnv({ KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'true' })).toEqual({
      KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'true',
    });
  });
});

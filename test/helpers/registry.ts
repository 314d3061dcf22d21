/**
 * A real OCI distribution registry (Debian's docker-registry) on a loopback port, its storage in a temporary
 * folder, and skopeo to push hand-built OCI layouts into it (research/test-components.md §3).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { onPath } from '../../bed/binaries.js';
import { freePorts } from '../../bed/ports.js';
import { logTail, spawnComponent } from '../../bed/processes.js';

export type RegistryAvailability =
  | { ok: true; registry: string; skopeo: string; setpriv: string }
  | { ok: false; reason: string; fix: string };

export function registryAvailability(env: NodeJS.ProcessEnv = process.env): RegistryAvailability {
  const fix = 'apt-get install docker-registry skopeo zstd util-linux';
  const registry = onPath('docker-registry', env);
  const skopeo = onPath('skopeo', env);
  const setpriv = onPath('setpriv', env);
  if (!registry) return { ok: false, reason: 'docker-registry is not on PATH', fix };
  if (!skopeo) return { ok: false, reason: 'skopeo is not on PATH', fix };
  if (!onPath('zstd', env) || !setpriv) return { ok: false, reason: 'zstd or setpriv is not on PATH', fix };
  return { ok: true, registry, skopeo, setpriv };
}

export function requireRegistry(env: NodeJS.ProcessEnv = process.env): RegistryAvailability {
  const availability = registryAvailability(env);
  if (availability.ok) return availability;
  const message = `registry unavailable: ${availability.reason}. Fix: ${availability.fix}`;
  if (env.CI === 'true') throw new Error(`${message} (CI=true: integration tests may not skip)`);
  console.warn(`SKIP ${message}`);
  return availability;
}

export interface Registry {
  /** `127.0.0.1:<port>`. */
  readonly host: string;
  /** Pushes every platform of the image named `reference` in the OCI layout at `layout` to `host/<repository>`. */
  push(layout: string, reference: string, repository: string): Promise<void>;
  /** The raw manifest (or index) at `repository:tag`, with its Docker-Content-Digest. */
  manifest(repository: string, tag: string): Promise<{ digest: string; body: unknown }>;
  stop(): Promise<void>;
}

export async function startRegistry(tools: Extract<RegistryAvailability, { ok: true }>): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), 'hecate-registry-'));
  const [port = 0] = await freePorts(1);
  const host = `127.0.0.1:${port}`;
  const config = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'data')}`,
    'http:',
    `  addr: ${host}`,
    '  debug:',
    '    addr: ""',
  ].join('\n');
  await writeFile(join(dir, 'config.yml'), `${config}\n`);
  const logPath = join(dir, 'registry.log');
  const server = spawnComponent('docker-registry', tools.registry, ['serve', join(dir, 'config.yml')], {
    setpriv: tools.setpriv,
    logPath,
  });
  const ready = async () =>
    fetch(`http://${host}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
  let up = false;
  for (let i = 0; i < 200 && !up && !server.hasExited(); i++) {
    up = await ready();
    if (!up) await new Promise((r) => setTimeout(r, 50));
  }
  if (!up) {
    await server.stop();
    throw new Error(`docker-registry did not start:\n${await logTail(logPath)}`);
  }
  return {
    host,
    push: async (layout, reference, repository) => {
      await execa(tools.skopeo, [
        'copy',
        '--all',
        '--dest-tls-verify=false',
        `oci:${layout}:${reference}`,
        `docker://${host}/${repository}`,
      ]);
    },
    manifest: async (repository, tag) => {
      const [name, ref] = [repository, tag];
      const response = await fetch(`http://${host}/v2/${name}/manifests/${ref}`, {
        headers: {
          accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json',
        },
      });
      return { digest: response.headers.get('docker-content-digest') ?? '', body: await response.json() };
    },
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A repo snapshot made from a scenario: for every Flux Kustomization with a path, a kustomization.yaml and the
 * objects it deploys (those labelled with its name). It is what `~/hecate-repo` holds on the control host, so the
 * bootstrap chain can be applied from it when the in-cluster Git server is down.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { toYaml } from '../core/api/yaml.js';
import { renderScenario, type Scenario } from './scenario.js';

type Manifest = { kind?: string; metadata?: { name?: string; labels?: Record<string, string> } };

const OWNER = 'kustomize.toolkit.fluxcd.io/name';

/**
 * The objects each Kustomization deploys, keyed by its path: the Namespaces it owns (Atlas's core stage), and each
 * folder also declares the namespaces of its own objects, so that any stage applies on its own.
 */
export function snapshotFiles(scenario: Scenario): Map<string, Manifest[]> {
  const objects = renderScenario(scenario) as Manifest[];
  const files = new Map<string, Manifest[]>();
  for (const k of scenario.flux?.kustomizations ?? []) {
    const owned = objects.filter((o) => o.metadata?.labels?.[OWNER] === k.name);
    files.set(k.path, owned);
  }
  return files;
}

/** Writes the snapshot as a git repository with one commit; returns its revision (`main@sha1:<hex>`). */
export async function writeSnapshot(
  scenario: Scenario,
  dir: string,
  extra: Record<string, string> = {},
): Promise<string> {
  for (const [path, objects] of snapshotFiles(scenario)) {
    const folder = join(dir, path);
    await mkdir(folder, { recursive: true });
    const namespaces = [
      ...new Set(objects.map((o) => (o.metadata as { namespace?: string }).namespace).filter(Boolean)),
    ];
    const nsDocs = namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
    await writeFile(join(folder, 'resources.yaml'), [...nsDocs, ...objects].map((o) => toYaml(o)).join('---\n'));
    await writeFile(
      join(folder, 'kustomization.yaml'),
      toYaml({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: ['resources.yaml'] }),
    );
  }
  for (const [file, text] of Object.entries(extra)) {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  }
  const git = (...args: string[]) =>
    execa('git', ['-C', dir, ...args], {
      env: {
        GIT_AUTHOR_NAME: 'bed',
        GIT_AUTHOR_EMAIL: 'bed@hecate.invalid',
        GIT_COMMITTER_NAME: 'bed',
        GIT_COMMITTER_EMAIL: 'bed@hecate.invalid',
      },
    });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'snapshot');
  const { stdout } = await git('rev-parse', 'HEAD');
  return `main@sha1:${stdout.trim()}`;
}

/**
 * `hecate drill capture` on the Atlas bed: the file validates and holds the cluster a rehearsal needs (every node,
 * the Flux objects, the workloads and their pods on their nodes), the capture sent only list requests and none for
 * a Secret or a ConfigMap, it changed nothing, and `--redact` leaves no original name in any value.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2e, HECATE_USER, listFlux, nodes, startE2e } from '../../bed/e2e.js';
import { describeEvent, requestsBy, requireBed } from '../../bed/index.js';
import { type DrillCapture, drillCapture } from '../../core/api/index.js';
import { fromYaml } from '../../core/api/yaml.js';

const bed = requireBed();

async function capture(e2e: E2e, file: string, ...extra: string[]) {
  const run = await e2e.hecate(['drill', 'capture', '--kubeconfig', e2e.kubeconfig, '-o', file, ...extra]);
  expect(run.code, run.stderr).toBe(0);
  return { run, capture: drillCapture.parse(fromYaml(await readFile(file, 'utf8'))) };
}

const of = (c: DrillCapture, kind: string) => c.objects.filter((o) => o.kind === kind);

/** Every string value but apiVersion and kind, where a name may hide. */
function values(value: unknown, key?: string): string[] {
  if (typeof value === 'string') return key === 'apiVersion' || key === 'kind' ? [] : [value];
  if (Array.isArray(value)) return value.flatMap((v) => values(v));
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => values(v, k));
  return [];
}

describe.skipIf(!bed.ok)('hecate drill capture on the Atlas bed', () => {
  let e2e: E2e;
  let plain: DrillCapture;
  let stderr: string;
  let requests: string[];
  let mutations: number;

  beforeAll(async () => {
    e2e = await startE2e();
    const before = requestsBy(await e2e.plane.readAudit(), HECATE_USER).length;
    const changedBefore = (await e2e.mutations()).length;
    const result = await capture(e2e, join(e2e.dir, 'capture.yaml'));
    plain = result.capture;
    stderr = result.run.stderr;
    requests = requestsBy(await e2e.plane.readAudit(), HECATE_USER)
      .slice(before)
      .map(describeEvent);
    mutations = (await e2e.mutations()).length - changedBefore;
  });
  afterAll(async () => {
    await e2e?.stop();
  });

  it('holds every node, the Flux objects, and the workloads with their pods on their nodes', async () => {
    const live = (await nodes(e2e.plane)).map((n) => n.metadata?.name).sort();
    expect(
      of(plain, 'Node')
        .map((n) => n.metadata.name)
        .sort(),
    ).toEqual(live);
    expect(of(plain, 'Kustomization').length).toBe((await listFlux(e2e.plane, 'Kustomization')).length);
    expect(of(plain, 'HelmRelease').length).toBe((await listFlux(e2e.plane, 'HelmRelease')).length);
    const pods = of(plain, 'Pod');
    expect(pods.length).toBeGreaterThan(0);
    for (const pod of pods) expect(live).toContain((pod.spec as { nodeName?: string }).nodeName);
    expect(of(plain, 'CustomResourceDefinition').map((c) => c.metadata.name)).toContain(
      'kustomizations.kustomize.toolkit.fluxcd.io',
    );
    expect(stderr).toMatch(/Nodes: \d+/);
  });

  it('sent only list requests, none for a Secret or a ConfigMap, and changed nothing', () => {
    expect(requests.length).toBeGreaterThan(10);
    expect(requests.filter((r) => !r.startsWith('list '))).toEqual([]);
    expect(requests.filter((r) => /^list (secrets|configmaps) /.test(r))).toEqual([]);
    expect(mutations).toBe(0);
  });

  it('--redact: no original namespace, node or object name in any value, and the same shape', async () => {
    const { capture: redacted } = await capture(e2e, join(e2e.dir, 'redacted.yaml'), '--redact');
    const kept = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
    const names = new Set(
      plain.objects
        .filter((o) => o.kind !== 'CustomResourceDefinition')
        .flatMap((o) => [o.metadata.name, o.metadata.namespace ?? ''])
        .filter((n) => n && !kept.has(n)),
    );
    // NOTE: a redacted CRD keeps only its public identity (group, names, versions), checked in the unit test
    const texts = values(redacted.objects.filter((o) => o.kind !== 'CustomResourceDefinition'));
    texts.push(...values(redacted.referenced), ...values(redacted.metadata));
    const leaks = [...names].filter((name) =>
      texts.some((t) => new RegExp(`(?<![a-z0-9])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![a-z0-9])`).test(t)),
    );
    expect(leaks).toEqual([]);
    expect(redacted.objects.map((o) => o.kind)).toEqual(plain.objects.map((o) => o.kind));
    expect(redacted.metadata.redacted).toBe(true);
  });
});

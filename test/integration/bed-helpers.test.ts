/** The bed's pure helpers: where binaries are looked up, when tests skip or fail, and audit-log filtering. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ATLAS_SCENARIO,
  type AuditEvent,
  BedUnavailableError,
  bedAvailability,
  describeEvent,
  loadScenario,
  mutations,
  mutationsBy,
  parseAuditLog,
  requestsBy,
  requireBed,
  startScenario,
  upstreamCrdNames,
  upstreamCrdPath,
} from '../../bed/index.js';

describe('bed availability', () => {
  const empty = mkdtempSync(join(tmpdir(), 'hecate-no-binaries-'));
  const missing = { KUBEBUILDER_ASSETS: empty, HECATE_CACHE_DIR: empty, PATH: process.env.PATH };
  const made = [empty];
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true });
  });

  it('explains what is missing and the command that fixes it', () => {
    const availability = bedAvailability(missing);
    expect(availability.ok).toBe(false);
    if (availability.ok) return;
    expect(availability.reason).toContain(`${empty} (missing: etcd, kube-apiserver`);
    expect(availability.fix).toContain('hack/setup-test-binaries.sh');
  });

  it('skips on a laptop and fails under CI=true', () => {
    expect(requireBed({ ...missing, CI: undefined }).ok).toBe(false);
    expect(() => requireBed({ ...missing, CI: 'true' })).toThrow(BedUnavailableError);
  });

  const fakeAssets = () => {
    const assets = mkdtempSync(join(tmpdir(), 'hecate-assets-'));
    made.push(assets);
    for (const name of ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kubectl']) {
      writeFileSync(join(assets, name), '#!/bin/sh\n', { mode: 0o755 });
    }
    return assets;
  };
  const fakeCrds = (names: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'hecate-crds-'));
    made.push(dir);
    for (const name of names) writeFileSync(join(dir, `${name}.yaml`), 'kind: CustomResourceDefinition\n');
    return dir;
  };

  it('uses KUBEBUILDER_ASSETS and HECATE_TEST_CRDS when they hold every binary and every CRD', () => {
    const assets = fakeAssets();
    const crds = fakeCrds(upstreamCrdNames());
    const availability = bedAvailability({ ...missing, KUBEBUILDER_ASSETS: assets, HECATE_TEST_CRDS: crds });
    expect(availability.ok && availability.binaries['kube-apiserver']).toBe(join(assets, 'kube-apiserver'));
    expect(availability.ok && availability.crds).toBe(crds);
  });

  it('names the missing upstream CRDs and the command that fetches them', () => {
    const crds = fakeCrds(upstreamCrdNames().filter((name) => name !== 'replicas.longhorn.io'));
    const availability = bedAvailability({ ...missing, KUBEBUILDER_ASSETS: fakeAssets(), HECATE_TEST_CRDS: crds });
    expect(availability.ok).toBe(false);
    if (availability.ok) return;
    expect(availability.reason).toContain(`${crds} (missing: replicas.longhorn.io)`);
    expect(availability.reason).toContain(`${join(empty, 'test-crds')}/`);
    expect(availability.fix).toContain('hack/setup-test-crds.sh');
    expect(() => upstreamCrdPath('volumes.longhorn.io', { ...missing, HECATE_TEST_CRDS: crds })).toThrow(
      /no upstream CRDs in .*run hack\/setup-test-crds\.sh/,
    );
  });

  it('pins the Flux and Longhorn CRDs the bed installs', () => {
    expect(upstreamCrdNames()).toEqual(
      expect.arrayContaining([
        'gitrepositories.source.toolkit.fluxcd.io',
        'ocirepositories.source.toolkit.fluxcd.io',
        'kustomizations.kustomize.toolkit.fluxcd.io',
        'helmreleases.helm.toolkit.fluxcd.io',
        'volumes.longhorn.io',
        'replicas.longhorn.io',
      ]),
    );
  });
});

describe('audit log', () => {
  const line = (e: Partial<AuditEvent> & { username: string; uri: string; stage?: string; code?: number }) =>
    JSON.stringify({
      auditID: e.auditID ?? Math.random().toString(36),
      stage: e.stage ?? 'ResponseComplete',
      verb: e.verb,
      requestURI: e.uri,
      user: { username: e.username, groups: ['system:authenticated'] },
      objectRef: e.objectRef,
      responseStatus: { code: e.code ?? 200 },
      stageTimestamp: '2026-01-01T00:00:00Z',
    });
  const log = [
    line({
      username: 'op',
      verb: 'patch',
      uri: '/api/v1/namespaces/a',
      objectRef: { resource: 'namespaces', name: 'a' },
    }),
    line({
      username: 'op',
      verb: 'create',
      uri: '/api/v1/namespaces/a/pods/p/eviction?dryRun=All',
      objectRef: { resource: 'pods', namespace: 'a', name: 'p', subresource: 'eviction' },
    }),
    line({
      username: 'op',
      verb: 'create',
      uri: '/api/v1/namespaces/a/pods/p/eviction',
      code: 429,
      objectRef: { resource: 'pods', namespace: 'a', name: 'p', subresource: 'eviction' },
    }),
    line({ auditID: 'w', username: 'ro', verb: 'watch', uri: '/api/v1/pods?watch=true', stage: 'ResponseStarted' }),
    line({ auditID: 'w', username: 'ro', verb: 'watch', uri: '/api/v1/pods?watch=true' }),
    line({ username: 'ro', verb: 'list', uri: '/api/v1/pods' }),
    '{"truncated',
  ].join('\n');
  const events = parseAuditLog(log);

  it('parses every complete line and skips a partial one', () => {
    expect(events).toHaveLength(6);
  });

  it.each([
    { filter: { user: 'op' }, expected: ['patch namespaces a 200', 'create pods/eviction a/p 429'] },
    {
      filter: { user: 'op', includeDryRun: true },
      expected: ['patch namespaces a 200', 'create pods/eviction a/p 200', 'create pods/eviction a/p 429'],
    },
    { filter: { user: 'op', includeFailed: false }, expected: ['patch namespaces a 200'] },
    { filter: { user: 'ro' }, expected: [] },
  ])('mutations($filter)', ({ filter, expected }) => {
    expect(mutations(events, filter).map(describeEvent)).toEqual(expected);
  });

  it('counts one event per request of a user, reads included', () => {
    expect(requestsBy(events, 'ro').map((e) => e.verb)).toEqual(['watch', 'list']);
    expect(mutationsBy(events, 'ro')).toEqual([]);
  });
});

describe('startScenario', () => {
  it('refuses a scenario with real nodes instead of standing in for them, naming them and the function that boots them', async () => {
    const atlas = await loadScenario(ATLAS_SCENARIO);
    const scenario = { ...atlas, nodes: atlas.nodes.map((n, i) => (i === 0 ? { ...n, real: true } : n)) };
    await expect(startScenario(new KubeConfig(), scenario)).rejects.toThrow(
      `nodes ${atlas.nodes[0]?.name} are real: start this scenario with startMixedScenario`,
    );
  });
});

/**
 * API semantics Hecate relies on, against the real API server: server-side apply through client-node 1.4,
 * resourceVersion conflicts, the status subresource, and CRD schemas (Hecate's, Flux's, Longhorn's) enforced
 * by the server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlane,
  HECATE_CRDS_DIR,
  hecateCrdPaths,
  REPO_ROOT,
  requireBed,
  startControlPlane,
  upstreamCrdPaths,
} from '../../bed/index.js';
import { MAX_NODES } from '../../core/api/powerplan.js';
import { fromYaml } from '../../core/api/yaml.js';
import { atlasSpec } from '../helpers/atlas.js';

const bed = requireBed();
const SSA = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
const hecateCrds = hecateCrdPaths();
if (bed.ok && hecateCrds.length === 0) {
  const message = `Hecate CRD tests: no CRDs in ${HECATE_CRDS_DIR}. Fix: npm run gen:crds`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: integration tests may not skip)`);
  console.warn(`SKIP ${message}`);
}

/** The `message` of the Status the API server answered with. */
function messageOf(error: ApiException<unknown>): string {
  const body = String(error.body);
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}

/** The ApiException of a call that must fail. */
async function failureOf(call: Promise<unknown>): Promise<ApiException<unknown>> {
  try {
    await call;
  } catch (error) {
    if (error instanceof ApiException) return error;
    throw error;
  }
  throw new Error('expected the API server to refuse the request');
}

describe.skipIf(!bed.ok)('API semantics on the real API server', () => {
  let plane: ControlPlane;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;
  const namespace = 'semantics';

  beforeAll(async () => {
    plane = await startControlPlane({ crds: upstreamCrdPaths() });
    console.info(`Bed with Flux and Longhorn CRDs started in ${plane.startupMs} ms`);
    core = plane.kubeConfig.makeApiClient(CoreV1Api);
    custom = plane.kubeConfig.makeApiClient(CustomObjectsApi);
    await plane.createNamespace(namespace);
  });
  afterAll(async () => {
    await plane?.stop();
  });

  describe('server-side apply (client-node 1.4: Content-Type set per call)', () => {
    const applied = (data: Record<string, string>): V1ConfigMap => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'ssa', namespace },
      data,
    });

    it('creates, then updates, an object owned by field manager "hecate"', async () => {
      await core.patchNamespacedConfigMap(
        { name: 'ssa', namespace, body: applied({ a: '1' }), fieldManager: 'hecate', force: true },
        SSA,
      );
      const updated = await core.patchNamespacedConfigMap(
        { name: 'ssa', namespace, body: applied({ a: '2', b: '1' }), fieldManager: 'hecate', force: true },
        SSA,
      );
      expect(updated.data).toEqual({ a: '2', b: '1' });
      const managers = updated.metadata?.managedFields?.map((f) => [f.manager, f.operation]);
      expect(managers).toEqual([['hecate', 'Apply']]);
    });

    it('drops fields the manager stops applying', async () => {
      const updated = await core.patchNamespacedConfigMap(
        { name: 'ssa', namespace, body: applied({ a: '3' }), fieldManager: 'hecate', force: true },
        SSA,
      );
      expect(updated.data).toEqual({ a: '3' });
    });

    it('refuses (409) another manager taking a field without force, and lets it with force', async () => {
      const other = { name: 'ssa', namespace, body: applied({ a: 'theirs' }), fieldManager: 'someone-else' };
      const conflict = await failureOf(core.patchNamespacedConfigMap(other, SSA));
      expect(conflict.code).toBe(409);
      expect(messageOf(conflict)).toContain('conflict with "hecate"');
      const forced = await core.patchNamespacedConfigMap({ ...other, force: true }, SSA);
      expect(forced.data?.a).toBe('theirs');
    });

    it('sends an apply patch, not the json-patch default, when the header is set', async () => {
      const error = await failureOf(
        core.patchNamespacedConfigMap({ name: 'ssa', namespace, body: applied({ a: '4' }), fieldManager: 'hecate' }),
      );
      expect(error.code).toBe(400); // the trap: an object body sent as application/json-patch+json
    });
  });

  it('answers an update with a stale resourceVersion with 409 Conflict', async () => {
    const created = await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'rv' }, data: { n: '0' } },
    });
    await core.replaceNamespacedConfigMap({ name: 'rv', namespace, body: { ...created, data: { n: '1' } } });
    const stale = await failureOf(
      core.replaceNamespacedConfigMap({ name: 'rv', namespace, body: { ...created, data: { n: '2' } } }),
    );
    expect(stale.code).toBe(409);
    expect((await core.readNamespacedConfigMap({ name: 'rv', namespace })).data).toEqual({ n: '1' });
  });

  describe('Flux and Longhorn CRD fixtures', () => {
    const gitRepo = { group: 'source.toolkit.fluxcd.io', version: 'v1', namespace, plural: 'gitrepositories' };

    it('are Established and serve their kinds', async () => {
      const names = (await plane.kubeConfig.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition()).items.map(
        (crd) => crd.metadata?.name,
      );
      expect(names).toEqual(
        expect.arrayContaining([
          'gitrepositories.source.toolkit.fluxcd.io',
          'kustomizations.kustomize.toolkit.fluxcd.io',
          'helmreleases.helm.toolkit.fluxcd.io',
          'volumes.longhorn.io',
        ]),
      );
    });

    it('install again idempotently (replace path)', async () => {
      expect(await plane.installCrds(upstreamCrdPaths())).toContain('gitrepositories.source.toolkit.fluxcd.io');
    });

    it('keep status out of main-resource writes; the status subresource takes SSA', async () => {
      const body = {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'flux-system', namespace },
        spec: { url: 'https://gitea.example/atlas.git', interval: '1m' },
        status: { conditions: [readyCondition('False')] },
      };
      const created = (await custom.createNamespacedCustomObject({ ...gitRepo, body })) as {
        status?: { conditions?: unknown };
      };
      expect(created.status?.conditions).toBeUndefined();
      const status = {
        apiVersion: body.apiVersion,
        kind: body.kind,
        metadata: { name: 'flux-system', namespace },
        status: { conditions: [readyCondition('True')] },
      };
      await custom.patchNamespacedCustomObjectStatus(
        { ...gitRepo, name: 'flux-system', body: status, fieldManager: 'flux-stand-in', force: true },
        SSA,
      );
      const read = (await custom.getNamespacedCustomObject({ ...gitRepo, name: 'flux-system' })) as {
        status?: { conditions?: Array<{ status: string }> };
      };
      expect(read.status?.conditions?.map((c) => c.status)).toEqual(['True']);
    });

    it('reject a GitRepository without spec.url, naming the field', async () => {
      const error = await failureOf(
        custom.createNamespacedCustomObject({
          ...gitRepo,
          body: {
            apiVersion: 'source.toolkit.fluxcd.io/v1',
            kind: 'GitRepository',
            metadata: { name: 'bad' },
            spec: { interval: '1m' },
          },
        }),
      );
      expect(error.code).toBe(422);
      expect(messageOf(error)).toContain('spec.url');
    });
  });

  describe.skipIf(hecateCrds.length === 0)("Hecate's CRDs (crds/)", () => {
    const powerEvents = {
      group: 'power.hecate.dev',
      version: 'v1alpha1',
      namespace: 'hecate-system',
      plural: 'powerevents',
    };
    const sample = fromYaml(readFileSync(join(REPO_ROOT, 'examples/samples/powerevent-shutdown.yaml'), 'utf8')) as {
      metadata: { name: string };
      spec: Record<string, unknown>;
    };

    beforeAll(async () => {
      await plane.installCrds(hecateCrds);
      await plane.createNamespace('hecate-system');
    });

    it('accept the sample PowerEvent and apply schema defaults', async () => {
      const { execute: _, ...withoutExecute } = sample.spec;
      const body = { ...sample, metadata: { name: 'defaults' }, spec: withoutExecute };
      const created = (await custom.createNamespacedCustomObject({ ...powerEvents, body })) as {
        spec: Record<string, unknown>;
      };
      expect(created.spec).toMatchObject({ action: 'shutdown', execute: false, ignoreUps: false });
    });

    it.each([
      { field: 'spec.action', spec: { action: 'reboot', planRef: { name: 'atlas' } } },
      { field: 'spec.planRef.name', spec: { action: 'shutdown', planRef: { name: 'Not_A_Name' } } },
      { field: 'spec.action', spec: { planRef: { name: 'atlas' } } },
    ])('reject a PowerEvent with a bad $field (422, the error names the field)', async ({ field, spec }) => {
      const body = { ...sample, metadata: { name: 'invalid' }, spec };
      const error = await failureOf(custom.createNamespacedCustomObject({ ...powerEvents, body }));
      expect(error.code).toBe(422);
      expect(messageOf(error)).toContain(field);
    });

    describe('a PowerPlan at the node limit', () => {
      const powerPlans = { group: 'power.hecate.dev', version: 'v1alpha1', plural: 'powerplans' };
      const plan = (name: string, nodes: number) => {
        const names = Array.from({ length: nodes }, (_, i) => `node-${String(i).padStart(3, '0')}`.padEnd(253, 'x'));
        const spec = {
          ...atlasSpec(),
          nodes: names.map((n, i) => ({ name: n, role: i < 3 ? 'control-plane' : 'worker' })),
        };
        return { apiVersion: 'power.hecate.dev/v1alpha1', kind: 'PowerPlan', metadata: { name }, spec };
      };

      it(`accepts ${MAX_NODES} nodes of the longest names, the Harbor node among them (the CEL rule fits the budget)`, async () => {
        const body = plan('at-limit', MAX_NODES);
        body.spec.harbor = { ...body.spec.harbor, node: body.spec.nodes.at(-1)?.name ?? '' } as typeof body.spec.harbor;
        await custom.createClusterCustomObject({ ...powerPlans, body });
        const missing = plan('harbor-unlisted', MAX_NODES);
        missing.spec.harbor = { ...missing.spec.harbor, node: 'not-a-node' } as typeof missing.spec.harbor;
        const error = await failureOf(custom.createClusterCustomObject({ ...powerPlans, body: missing }));
        expect(messageOf(error)).toContain('spec.harbor.node must be the name of one of spec.nodes');
      });

      it(`refuses ${MAX_NODES + 1} nodes, naming spec.nodes`, async () => {
        const error = await failureOf(
          custom.createClusterCustomObject({ ...powerPlans, body: plan('over-limit', MAX_NODES + 1) }),
        );
        expect(error.code).toBe(422);
        expect(messageOf(error)).toContain(
          `spec.nodes: Too many: ${MAX_NODES + 1}: must have at most ${MAX_NODES} items`,
        );
      });
    });

    it('refuse changing spec.action of an existing PowerEvent', async () => {
      await custom.createNamespacedCustomObject({
        ...powerEvents,
        body: { ...sample, metadata: { name: 'immutable' } },
      });
      const error = await failureOf(
        custom.patchNamespacedCustomObject(
          { ...powerEvents, name: 'immutable', body: { spec: { action: 'startup' } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        ),
      );
      expect(error.code).toBe(422);
      expect(messageOf(error)).toContain('spec.action is immutable');
    });
  });
});

function readyCondition(status: 'True' | 'False') {
  return {
    type: 'Ready',
    status,
    reason: status === 'True' ? 'Succeeded' : 'Progressing',
    message: '',
    lastTransitionTime: '2026-01-01T00:00:00Z',
  };
}

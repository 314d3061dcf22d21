// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Flux post-build variables are literal text in these tests
/**
 * The chain executor with port fakes that behave like a cluster: applied objects exist, workloads become Ready a
 * while after their apply (or never), and the fake clock drives every wait.
 */
import { describe, expect, it } from 'vitest';
import { applyOrder } from '../../../adapters/kube/apply.js';
import { KustomizeBuilder, SnapshotKustomizations } from '../../../adapters/kustomize.js';
import { findTestBinaries, onPath } from '../../../bed/binaries.js';
import { type PowerPlanSpec, powerPlanSpec, type RenderedPlan } from '../../../core/api/index.js';
import { compileStartup } from '../../../core/plan/startup.js';
import type {
  AppliedRef,
  FluxKustomizationPort,
  FluxKustomizationView,
  KubeObject,
  ObjectKey,
  Readiness,
  SubstituteFrom,
  Substitutions,
} from '../../../core/ports/chain.js';
import type { FluxObject } from '../../../core/ports/index.js';
import { StepFailedError } from '../../../core/run/errors.js';
import { type RunEvent, runPlan } from '../../../core/run/runner.js';
import { applyChainStage, StageNotReadyError, stageDir } from '../../../core/steps/chain.js';
import {
  type ChainManifests,
  resolveSubstitutions,
  SubstitutionError,
  substituteObjects,
  substituteText,
} from '../../../core/steps/chain-substitute.js';
import type { ReadinessCheck } from '../../../core/steps/readiness.js';
import { UNSEAL_HINT } from '../../../core/steps/readiness.js';
import { FakeFlux } from '../../helpers/fake-flux.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

const ROOT = '/snap';

/** A non-Atlas chain: storage → database → git-server. */
function chainSpec(extra: Partial<Record<string, unknown>> = {}): PowerPlanSpec {
  return powerPlanSpec.parse({
    bootstrapChain: [
      { name: 'storage', path: 'infra/storage', waitFor: [{ kind: 'DaemonSet', namespace: 'store', name: 'csi' }] },
      {
        name: 'database',
        path: './apps/db/',
        waitFor: [{ kind: 'StatefulSet', namespace: 'db', name: 'pg' }],
        timeout: '5m',
      },
      { name: 'git-server', path: 'apps/git', waitFor: [{ kind: 'Deployment', namespace: 'git', name: 'forge' }] },
    ],
    nodes: [{ name: 'n1', role: 'control-plane' }],
    ...extra,
  });
}

function chainPlan(spec: PowerPlanSpec): RenderedPlan {
  const steps = compileStartup({
    planName: 'lab',
    spec,
    execute: true,
    paths: { repoSnapshot: ROOT, stateFile: '/state' },
    observed: { api: 'reachable', flux: { sourceReady: false } },
  }).filter((s) => s.kind === 'apply-chain-stage');
  return { mode: 'startup', planName: 'lab', execute: true, steps, notes: [] };
}

const obj = (apiVersion: string, kind: string, name: string, namespace?: string, extra: object = {}): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
  ...extra,
});
const key = (r: ObjectKey) => `${r.kind}/${r.namespace ?? ''}/${r.name}`;

type Rule = { readyAfterMs: number } | 'never' | { sealedUntilMs: number };

/** ManifestPort + ReadinessPort over one in-memory cluster; `log` holds applies and first-Ready observations. */
class FakeCluster implements ChainManifests, ReadinessCheck {
  readonly log: string[] = [];
  readonly builds: { dir: string; substitutions?: Substitutions }[] = [];
  readonly appliedBatches: KubeObject[][] = [];
  private readonly live = new Map<string, { object: KubeObject; at: number }>();
  private readonly seenReady = new Set<string>();

  constructor(
    private readonly clock: FakeClock,
    private readonly dirs: Record<string, KubeObject[]>,
    readonly rules: Record<string, Rule> = {},
  ) {}

  async build(dir: string, substitutions?: Substitutions): Promise<KubeObject[]> {
    this.builds.push({ dir, ...(substitutions ? { substitutions } : {}) });
    const objects = this.dirs[dir];
    if (!objects) throw new Error(`${dir} does not exist`);
    return substitutions ? substituteObjects(objects, substitutions) : structuredClone(objects);
  }

  async apply(objects: readonly KubeObject[], { dryRun }: { dryRun: boolean }): Promise<AppliedRef[]> {
    this.appliedBatches.push([...objects]);
    return applyOrder(objects).map((o) => {
      const k = key({ kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace });
      const existed = this.live.has(k);
      if (!dryRun) {
        this.log.push(`apply ${k}`);
        this.live.set(k, { object: o, at: existed ? (this.live.get(k)?.at ?? 0) : this.clock.now().getTime() });
      }
      return {
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.metadata.name,
        result: existed ? 'configured' : 'created',
      };
    });
  }

  async check(ref: ObjectKey): Promise<Readiness> {
    const k = key(ref);
    const found = this.live.get(k);
    if (!found) return { ready: false, message: `${ref.kind} ${ref.namespace}/${ref.name} not found`, missing: true };
    const rule = this.rules[k] ?? { readyAfterMs: 0 };
    const age = this.clock.now().getTime() - found.at;
    if (rule !== 'never' && 'sealedUntilMs' in rule && age < rule.sealedUntilMs) {
      return {
        ready: false,
        message: `${ref.kind} ${ref.namespace}/${ref.name} 1/1 ready; vault-0 sealed`,
        sealed: ['vault-0'],
      };
    }
    const ready = rule !== 'never' && ('sealedUntilMs' in rule || age >= rule.readyAfterMs);
    if (ready && !this.seenReady.has(k)) {
      this.seenReady.add(k);
      this.log.push(`ready ${k}`);
    }
    return { ready, message: `${ref.kind} ${ref.namespace}/${ref.name} ${ready ? 1 : 0}/1 ready` };
  }

  async explain(ref: ObjectKey): Promise<string[]> {
    return this.rules[key(ref)] === 'never'
      ? ["pod pg-0: Unschedulable: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector"]
      : [];
  }

  /** Makes a stuck object become Ready from now on (the operator fixed it). */
  fix(k: string): void {
    this.rules[k] = { readyAfterMs: 0 };
  }
}

const dirs = (): Record<string, KubeObject[]> => ({
  [`${ROOT}/infra/storage`]: [
    obj('apps/v1', 'DaemonSet', 'csi', 'store'),
    obj('v1', 'Namespace', 'store'),
    obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'volumes.store.dev'),
  ],
  [`${ROOT}/apps/db`]: [obj('v1', 'Namespace', 'db'), obj('apps/v1', 'StatefulSet', 'pg', 'db')],
  [`${ROOT}/apps/git`]: [obj('v1', 'Namespace', 'git'), obj('apps/v1', 'Deployment', 'forge', 'git')],
});

async function runChain(
  spec: PowerPlanSpec,
  cluster: FakeCluster,
  clock: FakeClock,
  store = new MemoryStore(),
  options: Parameters<typeof applyChainStage>[4] = {},
) {
  const events: RunEvent[] = [];
  const reports: string[] = [];
  const executor = applyChainStage(cluster, cluster, spec, { repoSnapshot: ROOT }, { intervalMs: 5_000, ...options });
  const run = runPlan({
    plan: chainPlan(spec),
    action: 'startup',
    executors: { 'apply-chain-stage': executor },
    store,
    clock,
    logger: silentLogger,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'report') reports.push(e.message);
    },
  });
  return { run, events, reports, store };
}

describe('applyChainStage', () => {
  it('given three stages, applies them in order and waits for each stage Ready before the next', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster(clock, dirs(), {
      'DaemonSet/store/csi': { readyAfterMs: 20_000 },
      'StatefulSet/db/pg': { readyAfterMs: 60_000 },
      'Deployment/git/forge': { readyAfterMs: 10_000 },
    });
    const { run, reports } = await runChain(chainSpec(), cluster, clock);
    const progress = await run;
    expect(progress.steps.map((s) => `${s.id}:${s.state}`)).toEqual([
      'chain/storage:done',
      'chain/database:done',
      'chain/git-server:done',
    ]);
    expect(cluster.log).toEqual([
      'apply CustomResourceDefinition//volumes.store.dev',
      'apply Namespace//store',
      'apply DaemonSet/store/csi',
      'ready DaemonSet/store/csi',
      'apply Namespace//db',
      'apply StatefulSet/db/pg',
      'ready StatefulSet/db/pg',
      'apply Namespace//git',
      'apply Deployment/git/forge',
      'ready Deployment/git/forge',
    ]);
    expect(cluster.builds.map((b) => b.dir)).toEqual([`${ROOT}/infra/storage`, `${ROOT}/apps/db`, `${ROOT}/apps/git`]);
    expect(reports).toContain('database: StatefulSet db/pg 0/1 ready (waiting 0s of 5m00s)');
    expect(reports).toContain('database: Ready');
  });

  it('given a stage whose workload never becomes Ready, fails at its deadline naming the object and why; a rerun resumes there', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster(clock, dirs(), { 'StatefulSet/db/pg': 'never' });
    const store = new MemoryStore();
    const first = await runChain(chainSpec(), cluster, clock, store);
    const error = await first.run.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailedError);
    const cause = (error as StepFailedError).cause;
    expect(cause).toBeInstanceOf(StageNotReadyError);
    expect((cause as StageNotReadyError).notReady).toEqual([
      {
        ref: { kind: 'StatefulSet', namespace: 'db', name: 'pg' },
        message: 'StatefulSet db/pg 0/1 ready',
        details: [
          "pod pg-0: Unschedulable: 0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector",
        ],
      },
    ]);
    expect((error as Error).message).toMatch(
      /database not Ready after 300s: StatefulSet db\/pg 0\/1 ready \(pod pg-0: Unschedulable/,
    );
    expect(first.reports).toContain('database: not Ready by the deadline; a rerun resumes at this stage');
    expect(store.latest?.progress?.steps.map((s) => `${s.id}:${s.state}`)).toEqual([
      'chain/storage:done',
      'chain/database:failed',
    ]);
    expect(cluster.log.filter((l) => l.includes('forge'))).toEqual([]);

    cluster.fix('StatefulSet/db/pg');
    cluster.log.length = 0;
    const second = await runChain(chainSpec(), cluster, clock, store);
    const progress = await second.run;
    expect(progress.steps.map((s) => `${s.id}:${s.state}`)).toEqual([
      'chain/storage:done',
      'chain/database:done',
      'chain/git-server:done',
    ]);
    // the fixed stage is already Ready: check() says done, nothing of storage or database is applied again
    expect(cluster.log).toEqual([
      'ready StatefulSet/db/pg',
      'apply Namespace//git',
      'apply Deployment/git/forge',
      'ready Deployment/git/forge',
    ]);
  });

  it('given Vault running but sealed, says so plainly and keeps waiting until it is unsealed', async () => {
    const clock = new FakeClock();
    const spec = chainSpec({
      bootstrapChain: [
        { name: 'secrets', path: 'apps/vault', waitFor: [{ kind: 'StatefulSet', namespace: 'vault', name: 'vault' }] },
      ],
    });
    const cluster = new FakeCluster(
      clock,
      { [`${ROOT}/apps/vault`]: [obj('apps/v1', 'StatefulSet', 'vault', 'vault')] },
      { 'StatefulSet/vault/vault': { sealedUntilMs: 180_000 } },
    );
    const { run, reports } = await runChain(spec, cluster, clock);
    await run;
    const sealed = reports.filter((r) => r.includes(UNSEAL_HINT));
    expect(sealed).toEqual([
      'secrets: vault is sealed: unseal it with `vault operator unseal` (StatefulSet vault/vault 1/1 ready; vault-0 sealed) (waiting 0s of 10m00s)',
    ]);
    expect(reports.at(-1)).toBe('secrets: Ready');
    expect(clock.now().getTime() - new FakeClock().now().getTime()).toBeGreaterThanOrEqual(180_000);
  });

  it('given a sealed Vault past the deadline, the failure report says it is sealed', async () => {
    const clock = new FakeClock();
    const spec = chainSpec({
      bootstrapChain: [
        {
          name: 'secrets',
          path: 'apps/vault',
          timeout: '1m',
          waitFor: [{ kind: 'StatefulSet', namespace: 'vault', name: 'vault' }],
        },
      ],
    });
    const cluster = new FakeCluster(
      clock,
      { [`${ROOT}/apps/vault`]: [obj('apps/v1', 'StatefulSet', 'vault', 'vault')] },
      { 'StatefulSet/vault/vault': { sealedUntilMs: 3_600_000 } },
    );
    const { run } = await runChain(spec, cluster, clock);
    const error = await run.catch((e: unknown) => e);
    expect((error as Error).message).toContain(`vault-0 sealed: ${UNSEAL_HINT}`);
  });

  it('given a stage that waits for nothing, checks that every built object exists', async () => {
    const clock = new FakeClock();
    const spec = chainSpec({ bootstrapChain: [{ name: 'config', path: 'cfg' }] });
    const cluster = new FakeCluster(clock, {
      [`${ROOT}/cfg`]: [obj('v1', 'Namespace', 'cfg'), obj('v1', 'ConfigMap', 'settings', 'cfg')],
    });
    const executor = applyChainStage(cluster, cluster, spec, { repoSnapshot: ROOT });
    const [stageStep] = chainPlan(spec).steps;
    if (!stageStep) throw new Error('no step');
    const ctx = {} as never;
    expect(await executor.check(stageStep, ctx)).toBe(false);
    await cluster.apply(await cluster.build(`${ROOT}/cfg`), { dryRun: false });
    expect(await executor.check(stageStep, ctx)).toBe(true);
  });

  it('given a Flux Kustomization, substitutes its variables and also waits for its health checks', async () => {
    const clock = new FakeClock();
    const spec = chainSpec({
      bootstrapChain: [
        {
          name: 'database',
          path: 'apps/db',
          kustomization: { name: 'db' },
          waitFor: [{ kind: 'StatefulSet', namespace: 'db', name: 'pg' }],
        },
      ],
    });
    const cluster = new FakeCluster(
      clock,
      {
        [`${ROOT}/apps/db`]: [
          obj('apps/v1', 'StatefulSet', 'pg', 'db', {
            spec: { replicas: '${PG_REPLICAS}', image: 'pg:${PG_VERSION:=16}' },
          }),
          obj('v1', 'Service', 'pg', 'db'),
        ],
      },
      { 'StatefulSet/db/pg': { readyAfterMs: 5_000 } },
    );
    const kustomizations = fakeKustomizations(
      {
        namespace: 'flux-system',
        name: 'db',
        postBuild: {
          substitute: { PG_REPLICAS: '2' },
          substituteFrom: [{ kind: 'ConfigMap', name: 'cluster-vars' }],
        },
        healthChecks: [{ apiVersion: 'v1', kind: 'Service', name: 'pg', namespace: 'db' }],
        from: 'clusters/lab/db.yaml',
      },
      { 'ConfigMap/cluster-vars': { PG_REPLICAS: '9', PG_VERSION: '17' } },
    );
    const { run } = await runChain(spec, cluster, clock, new MemoryStore(), { kustomizations });
    await run;
    const [applied] = cluster.appliedBatches;
    expect(applied?.[0]?.spec).toEqual({ replicas: 2, image: 'pg:17' });
    expect(cluster.builds[0]?.substitutions).toEqual({ vars: { PG_REPLICAS: '2', PG_VERSION: '17' }, strict: false });
    expect(cluster.log).toContain('ready Service/db/pg');
  });

  it('resumes the Flux objects of a stage that Hecate suspended, and leaves those suspended by someone else', async () => {
    const clock = new FakeClock();
    const spec = chainSpec({
      bootstrapChain: [
        {
          name: 'ingress',
          path: 'infra/ingress',
          waitFor: [{ kind: 'HelmRelease', namespace: 'edge', name: 'proxy' }],
        },
      ],
    });
    const hr = (name: string) => obj('helm.toolkit.fluxcd.io/v2', 'HelmRelease', name, 'edge');
    const cluster = new FakeCluster(clock, { [`${ROOT}/infra/ingress`]: [hr('proxy'), hr('legacy')] });
    const fluxObjects: FluxObject[] = ['proxy', 'legacy'].map((name) => ({
      kind: 'HelmRelease',
      namespace: 'edge',
      name,
      suspended: true,
      dependsOn: [],
    }));
    const flux = new FakeFlux(fluxObjects);
    const store = new MemoryStore({
      outage: {
        ...(await import('../../../core/api/index.js')).outageRecord.parse({}),
        suspendedByHecate: { kustomizations: [], helmReleases: ['HelmRelease/edge/proxy'] },
        alreadySuspended: ['HelmRelease/edge/legacy'],
      },
    });
    const { run, reports } = await runChain(spec, cluster, clock, store, { flux });
    await run;
    expect(flux.mutations).toEqual(['resume HelmRelease/edge/proxy', 'reconcile HelmRelease/edge/proxy']);
    expect(reports).toContain(
      'ingress: HelmRelease/edge/legacy stays suspended (it was suspended before the shutdown, not by Hecate)',
    );
  });

  it('in a dry-run, applies with dryRun and waits for nothing', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster(clock, dirs(), { 'StatefulSet/db/pg': 'never' });
    const { run, reports } = await runChain(chainSpec(), cluster, clock, new MemoryStore(), { dryRun: true });
    await run;
    expect(cluster.log).toEqual([]);
    expect(cluster.appliedBatches).toHaveLength(3);
    expect(reports[0]).toMatch(/^storage: \(server dry-run\) applied 3 objects/);
  });
});

function fakeKustomizations(
  view: FluxKustomizationView,
  data: Record<string, Record<string, string>>,
): FluxKustomizationPort {
  return {
    kustomization: async (namespace, name) => (namespace === view.namespace && name === view.name ? view : undefined),
    substitutionData: async (_namespace, from: SubstituteFrom) => data[`${from.kind}/${from.name}`],
  };
}

describe('Flux post-build substitution', () => {
  const vars = { NAME: 'lab', EMPTY: '', N: '3' };
  it.each([
    ['${NAME}', 'lab'],
    ['x-${NAME}-y', 'x-lab-y'],
    ['${MISSING}', ''],
    ['${MISSING:=dflt}', 'dflt'],
    ['${MISSING:-dflt}', 'dflt'],
    ['${EMPTY:=dflt}', 'dflt'],
    ['${EMPTY=dflt}', ''],
    ['${EMPTY-dflt}', ''],
    ['${MISSING=dflt}', 'dflt'],
    ['${NAME:=dflt}', 'lab'],
    ['$${NAME}', '${NAME}'],
    ['$NAME', '$NAME'],
    ['${URL:=http://a:8080/x}', 'http://a:8080/x'],
  ])('given %s, substitutes %j', (text, expected) => {
    expect(substituteText(text, { vars })).toBe(expected);
  });

  it.each([['${MISSING}'], ['${NAME:1:2}'], ['${NAME/a/b}'], ['${#NAME}']])(
    'given %s in strict mode or an unsupported form, throws naming it',
    (text) => {
      expect(() => substituteText(text, { vars, strict: true })).toThrow(SubstitutionError);
    },
  );

  it('substitutes in YAML, so numbers stay numbers; skips objects that opt out', () => {
    const objects = [
      obj('apps/v1', 'Deployment', 'a', 'ns', { spec: { replicas: '${N}' } }),
      {
        ...obj('v1', 'ConfigMap', 'script', 'ns', { data: { run: 'echo ${NAME}' } }),
        metadata: { name: 'script', annotations: { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' } },
      },
    ];
    const [deployment, script] = substituteObjects(objects, { vars });
    expect(deployment?.spec).toEqual({ replicas: 3 });
    expect(script?.data).toEqual({ run: 'echo ${NAME}' });
  });

  it('merges substituteFrom in order and the inline substitute over them; a missing non-optional source fails', async () => {
    const view: FluxKustomizationView = {
      namespace: 'flux-system',
      name: 'apps',
      postBuild: {
        substitute: { A: 'inline' },
        substituteFrom: [
          { kind: 'ConfigMap', name: 'first' },
          { kind: 'Secret', name: 'second' },
          { kind: 'ConfigMap', name: 'absent', optional: true },
        ],
      },
      from: 'x',
    };
    const source = fakeKustomizations(view, {
      'ConfigMap/first': { A: '1', B: '1', C: '1' },
      'Secret/second': { B: '2' },
    });
    expect(await resolveSubstitutions(view, source)).toEqual({ vars: { A: 'inline', B: '2', C: '1' }, strict: false });
    const required = { ...view, postBuild: { substituteFrom: [{ kind: 'Secret' as const, name: 'absent' }] } };
    await expect(resolveSubstitutions(required, source)).rejects.toThrow(
      'Secret flux-system/absent (postBuild.substituteFrom of Kustomization flux-system/apps) not found',
    );
    expect(await resolveSubstitutions({ ...view, postBuild: {} }, source)).toBeUndefined();
  });
});

describe('apply order and paths', () => {
  it('puts CRDs first, then Namespaces, then the rest in their order', () => {
    const objects = [
      obj('apps/v1', 'Deployment', 'd', 'n'),
      obj('v1', 'Namespace', 'n'),
      obj('store.dev/v1', 'Volume', 'v', 'n'),
      obj('apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'volumes.store.dev'),
      obj('v1', 'Service', 's', 'n'),
    ];
    expect(applyOrder(objects).map((o) => o.kind)).toEqual([
      'CustomResourceDefinition',
      'Namespace',
      'Deployment',
      'Volume',
      'Service',
    ]);
  });

  it.each([
    ['/snap', 'apps/db', '/snap/apps/db'],
    ['/snap/', './apps/db/', '/snap/apps/db'],
  ])('joins %s and %s', (root, path, expected) => {
    expect(stageDir(root, path)).toBe(expected);
  });
});

describe('Flux substitution gotchas, as Flux has them', () => {
  it('turns a bare "true" into a boolean, and keeps it a string with the ${quote} idiom', () => {
    const annotated = (value: string) =>
      obj('v1', 'ServiceAccount', 'app', 'ns', { metadata: { name: 'app', annotations: { enabled: value } } });
    const vars = { enabled: 'true', quote: '"' };
    const [bare] = substituteObjects([annotated('${enabled}')], { vars });
    const [quoted] = substituteObjects([annotated('${quote}${enabled}${quote}')], { vars });
    expect(bare?.metadata.annotations?.enabled).toBe(true);
    expect(quoted?.metadata.annotations?.enabled).toBe('true');
  });
});

/** kubectl from PATH, else the test bed's (built by hack/setup-test-binaries.sh); skipped with neither. */
function kubectlPath(): string | undefined {
  const lookup = findTestBinaries();
  return onPath('kubectl') ?? (lookup.ok ? lookup.binaries.kubectl : undefined);
}
const KUBECTL = kubectlPath();
if (!KUBECTL && process.env.CI === 'true') throw new Error('kubectl is needed for the kustomize adapter tests');

describe.skipIf(!KUBECTL)('the kustomize adapter on the lab snapshot', () => {
  const REPO = new URL('../../fixtures/repos/lab', import.meta.url).pathname;

  it('builds a stage with kubectl kustomize and substitutes its variables', async () => {
    const builder = new KustomizeBuilder({ kustomize: false, ...(KUBECTL ? { kubectl: KUBECTL } : {}) });
    const objects = substituteObjects(await builder.build(`${REPO}/apps/database`), { vars: { PG_VERSION: '17.6' } });
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Namespace/lab-db',
      'Service/postgres',
      'StatefulSet/postgres',
    ]);
    const sts = objects[2] as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } };
    expect(sts.spec.template.spec.containers[0]?.image).toBe('postgres:17.6');
  });

  it('reads the Flux Kustomizations from the snapshot, with postBuild, healthChecks and wait', async () => {
    const snapshot = new SnapshotKustomizations(REPO);
    expect(await snapshot.kustomization('flux-system', 'database')).toMatchObject({
      postBuild: {
        substitute: { PG_VERSION: '17.6' },
        substituteFrom: [{ kind: 'ConfigMap', name: 'lab-vars', optional: true }],
      },
      healthChecks: [{ apiVersion: 'v1', kind: 'Service', name: 'postgres', namespace: 'lab-db' }],
      from: 'clusters/lab/stages.yaml',
    });
    expect((await snapshot.kustomization('flux-system', 'git-server'))?.wait).toBe(true);
    expect(await snapshot.kustomization('flux-system', 'nothing')).toBeUndefined();
    expect(await snapshot.substitutionData('flux-system', { kind: 'ConfigMap', name: 'lab-vars' })).toBeUndefined();
  });

  it('fails with the command and its error for a broken path', async () => {
    const builder = new KustomizeBuilder({ kustomize: false, ...(KUBECTL ? { kubectl: KUBECTL } : {}) });
    await expect(builder.build(`${REPO}/nowhere`)).rejects.toThrow(/does not exist/);
    await expect(builder.build(`${REPO}/clusters`)).resolves.toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'PowerPlan' })]),
    );
  });
});

describe('substitution errors never show values', () => {
  it('names the object and the line when the substituted YAML does not parse', () => {
    const secret = obj('v1', 'Secret', 'creds', 'ns', { stringData: { token: '${TOKEN}' } });
    const attempt = () => substituteObjects([secret], { vars: { TOKEN: 'hunter2: [oops' } });
    expect(attempt).toThrow(SubstitutionError);
    expect(attempt).toThrow(/^Secret ns\/creds: the YAML after substitution does not parse \(line \d+\)/);
    expect(attempt).not.toThrow(/hunter2/);
  });
});

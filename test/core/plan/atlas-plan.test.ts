import { describe, expect, it } from 'vitest';
import { outageRecord } from '../../../core/api/index.js';
import { compilePlan } from '../../../core/plan/index.js';
import type { FluxObject } from '../../../core/ports/index.js';
import { atlasInput, ATLAS_CHAIN as CHAIN } from '../../helpers/atlas.js';

const ids = (mode: Parameters<typeof compilePlan>[0], input = atlasInput()) =>
  compilePlan(mode, input).steps.map((s) => s.id);
const at = (list: string[], id: string) => {
  const index = list.indexOf(id);
  expect(index, `${id} is in the plan`).toBeGreaterThanOrEqual(0);
  return index;
};

function ks(name: string, dependsOn: string[] = [], suspended = false): FluxObject {
  return {
    kind: 'Kustomization',
    namespace: 'flux-system',
    name,
    suspended,
    dependsOn: dependsOn.map((d) => ({ namespace: 'flux-system', name: d })),
  };
}
function hr(namespace: string, name: string, dependsOn: string[] = []): FluxObject {
  return {
    kind: 'HelmRelease',
    namespace,
    name,
    suspended: false,
    dependsOn: dependsOn.map((d) => ({ namespace, name: d })),
  };
}

describe('the Atlas startup plan', () => {
  it('applies the bootstrap chain in the plan order', () => {
    const chain = ids('startup').filter((id) => id.startsWith('chain/'));
    expect(chain).toEqual(CHAIN.map((name) => `chain/${name}`));
  });

  it.each(['vault', 'postgres', 'gitea'])('brings Longhorn up before %s', (stage) => {
    const steps = ids('startup');
    expect(at(steps, 'chain/longhorn')).toBeLessThan(at(steps, `chain/${stage}`));
  });

  it('seeds and reconciles Harbor after Gitea, then resumes Flux, then closes the outage', () => {
    const steps = ids('startup');
    const order = [
      'chain/gitea',
      'harbor/seed',
      'harbor/reconcile',
      'flux-resume/resume',
      'flux-resume/wait',
      'outage/close',
    ];
    const indexes = order.map((id) => at(steps, id));
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
  });

  it("checks the UPS first, waits for the API, adopts the cluster's outage record, and waits for a node quorum before uncordoning", () => {
    expect(ids('startup').slice(0, 6)).toEqual([
      'power-gate/ups',
      'api/wait',
      'outage/adopt',
      'nodes/quorum',
      'nodes/uncordon',
      'flux-source/check',
    ]);
  });

  it.each([
    { sourceReady: undefined, chainSteps: 10, guard: 'flux-source-not-ready' },
    { sourceReady: false, chainSteps: 10, guard: 'always' },
    { sourceReady: true, chainSteps: 0, guard: undefined },
  ])(
    'given the Flux source Ready=$sourceReady, the chain has $chainSteps steps guarded by $guard',
    ({ sourceReady, chainSteps, guard }) => {
      const observed =
        sourceReady === undefined ? { api: 'unknown' as const } : { api: 'reachable' as const, flux: { sourceReady } };
      const chain = compilePlan('startup', atlasInput({ observed })).steps.filter((s) => s.stage === 'chain');
      expect(chain).toHaveLength(chainSteps);
      for (const step of chain) expect(step.when).toBe(guard);
    },
  );

  it('resumes only what Hecate suspended, the root first, then in dependsOn order', () => {
    const observed = {
      api: 'reachable' as const,
      flux: {
        sourceReady: true,
        objects: [
          ks('flux-system'),
          ks('apps', ['vault', 'gitea']),
          ks('gitea', ['postgres']),
          ks('postgres', ['longhorn']),
          ks('vault', ['longhorn']),
          ks('longhorn'),
          ks('paused', [], true),
          hr('harbor', 'harbor'),
        ],
      },
    };
    const outage = {
      inOutage: true,
      suspendedByHecate: {
        kustomizations: ['flux-system', 'apps', 'gitea', 'longhorn', 'postgres', 'vault'].map(
          (n) => `Kustomization/flux-system/${n}`,
        ),
        helmReleases: ['HelmRelease/harbor/harbor'],
      },
      alreadySuspended: ['Kustomization/flux-system/paused'],
      cordonedByHecate: [],
      poweredOff: [],
      ignoredUps: false,
    };
    const resume = compilePlan('startup', atlasInput({ observed, outage })).steps.find(
      (s) => s.id === 'flux-resume/resume',
    );
    expect(resume?.targets).toEqual([
      'Kustomization/flux-system/flux-system',
      'Kustomization/flux-system/longhorn',
      'Kustomization/flux-system/vault',
      'Kustomization/flux-system/postgres',
      'Kustomization/flux-system/gitea',
      'Kustomization/flux-system/apps',
      'HelmRelease/harbor/harbor',
    ]);
    expect(resume?.targets).not.toContain('Kustomization/flux-system/paused');
  });
});

describe('the Atlas shutdown plan', () => {
  it('records the outage before anything changes', () => {
    expect(ids('shutdown')[0]).toBe('outage/record');
  });

  it('suspends the Flux root first and HelmReleases last', () => {
    const flux = ids('shutdown').filter((id) => id.startsWith('flux-suspend/'));
    expect(flux).toEqual(['flux-suspend/root', 'flux-suspend/kustomizations', 'flux-suspend/helmreleases']);
  });

  it('lists observed Flux objects in suspend order and leaves already-suspended ones alone', () => {
    const observed = {
      api: 'reachable' as const,
      flux: { objects: [hr('harbor', 'harbor'), ks('zeta'), ks('flux-system'), ks('alpha'), ks('paused', [], true)] },
    };
    const steps = compilePlan('shutdown', atlasInput({ observed })).steps.filter((s) => s.stage === 'flux-suspend');
    expect(steps.map((s) => s.targets)).toEqual([
      ['Kustomization/flux-system/flux-system'],
      ['Kustomization/flux-system/alpha', 'Kustomization/flux-system/zeta'],
      ['HelmRelease/harbor/harbor'],
    ]);
    expect(steps[0]?.blockers.join()).toContain('already suspended, left alone: Kustomization/flux-system/paused');
  });

  it('drains every worker, and only workers, before any node is powered off', () => {
    const steps = ids('shutdown');
    const drains = steps.filter((id) => id.startsWith('drain/'));
    expect(drains).toEqual(['drain/titan-04', 'drain/titan-05', 'drain/titan-06', 'drain/titan-07']);
    const firstPowerOff = steps.findIndex((id) => id.startsWith('power-off/'));
    for (const drain of drains) expect(at(steps, drain)).toBeLessThan(firstPowerOff);
    expect(at(steps, 'storage/quiesce')).toBeLessThan(firstPowerOff);
  });

  it('powers off the workers, then the control plane in its declared order', () => {
    const powerOffs = ids('shutdown')
      .filter((id) => id.startsWith('power-off/'))
      .map((id) => id.slice('power-off/'.length));
    expect(powerOffs).toEqual(['titan-04', 'titan-05', 'titan-06', 'titan-07', 'titan-03', 'titan-02', 'titan-01']);
  });

  it('marks drains and power-offs destructive and drains in parallel groups', () => {
    const steps = compilePlan('shutdown', atlasInput()).steps;
    for (const s of steps.filter((s) => s.stage === 'drain' || s.stage === 'power-off'))
      expect(s.destructive).toBe(true);
    const drain = steps.filter((s) => s.stage === 'drain');
    expect(drain[0]?.id).toBe('cordon/workers'); // every worker cordoned before the first eviction
    expect(drain.slice(1).map((s) => s.params.parallelism)).toEqual(['2', '2', '2', '2']);
    const workers = steps.filter((s) => s.stage === 'power-off' && s.params.role === 'worker');
    expect(workers.map((s) => [s.params.group, s.params.parallelism])).toEqual(
      workers.map(() => ['power-off-workers', '4']),
    );
  });
});

describe('the emergency shutdown plan', () => {
  it('drains every worker at once with a short escalation, then powers off in the same order', () => {
    const plan = compilePlan('emergency-shutdown', atlasInput());
    const steps = plan.steps.map((s) => s.id);
    expect(steps[0]).toBe('outage/record');
    const drains = plan.steps.filter((s) => s.kind === 'drain-node');
    expect(drains.map((s) => s.params.parallelism)).toEqual(['4', '4', '4', '4']);
    expect(drains[0]?.blockers.join(' ')).toContain('evict → disable-eviction after 15s');
    expect(steps.filter((id) => id.startsWith('power-off/')).at(-1)).toBe('power-off/titan-01');
    expect(plan.steps.find((s) => s.id === 'storage/quiesce')?.timeoutSeconds).toBe(20);
    const powerOffs = plan.steps.filter((s) => s.stage === 'power-off');
    expect(powerOffs.filter((s) => s.params.group === 'power-off-workers').map((s) => s.params.node)).toEqual([
      'titan-04',
      'titan-05',
      'titan-06',
      'titan-07',
    ]);
    expect(powerOffs.filter((s) => s.params.role === 'control-plane').every((s) => !s.params.group)).toBe(true);
  });

  it('never waits longer at a drain level than the plan itself would', () => {
    const input = atlasInput();
    const short = { ...input, spec: { ...input.spec, drain: { ...input.spec.drain, timeout: '5s' } } };
    const drain = compilePlan('emergency-shutdown', short).steps.find((s) => s.kind === 'drain-node');
    expect(drain?.blockers.join(' ')).toContain('evict → disable-eviction after 5s');
  });
});

describe('prepare and harbor-seed', () => {
  it('prepare pre-pulls on every node, refreshes the snapshot, records the revision, checks the chain covers the repo, checks the bundle', () => {
    expect(ids('prepare')).toEqual([
      'prepull/helper-image',
      'snapshot/refresh',
      'snapshot/revision',
      'snapshot/covers',
      'bundle/verify',
      'preflight/report',
    ]);
    const prepull = compilePlan('prepare', atlasInput()).steps[0];
    expect(prepull?.targets).toHaveLength(7);
  });

  it('harbor-seed verifies the bundle before seeding titan-05 and reconciling Harbor', () => {
    const plan = compilePlan('harbor-seed', atlasInput());
    expect(plan.steps.map((s) => s.id)).toEqual(['bundle/verify', 'harbor/seed', 'harbor/reconcile']);
    expect(plan.steps[1]?.targets[0]).toBe('titan-05');
  });
});

describe("the startup plan and the cluster's outage record", () => {
  const targets = (outage: Record<string, unknown> | undefined) => {
    const input = atlasInput(outage ? { outage: outageRecord.parse(outage) } : {});
    const steps = compilePlan('startup', input).steps;
    const of = (id: string) => steps.find((s) => s.id === id)?.targets;
    return { adopt: of('outage/adopt'), uncordon: of('nodes/uncordon'), resume: of('flux-resume/resume') };
  };

  it.each([
    {
      given: 'an open record (the CLI ran the shutdown)',
      outage: { inOutage: true, cordonedByHecate: ['titan-04'] },
      adopt: ['(this run has an open outage record: nothing to adopt)'],
      uncordon: ['titan-04'],
      resume: ['(nothing recorded as suspended by Hecate)'],
    },
    {
      given: 'a closed record (the last startup here)',
      outage: { inOutage: false, endedAt: '2026-11-20T00:00:00Z' },
      adopt: ['the newest open outage of PowerPlan atlas: shutdown PowerEvents, stop records'],
      uncordon: ['the nodes in the outage record'],
      resume: ['the objects listed in the outage record, in dependsOn order'],
    },
    {
      given: 'no record at all (an empty state file, a fresh PowerEvent)',
      outage: undefined,
      adopt: ['the newest open outage of PowerPlan atlas: shutdown PowerEvents, stop records'],
      uncordon: ['the nodes in the outage record'],
      resume: ['the objects listed in the outage record, in dependsOn order'],
    },
  ])('given $given, then the plan names what it knows and no more', ({ given: _, outage, ...expected }) => {
    expect(targets(outage)).toEqual(expected);
  });
});

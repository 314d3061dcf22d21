import { describe, expect, it } from 'vitest';
import { compilePlan } from '../../../core/plan/index.js';
import type { FluxObject } from '../../../core/ports/index.js';
import { runPlan } from '../../../core/run/runner.js';
import { resumeFlux, suspendFlux } from '../../../core/steps/flux.js';
import { coreExecutors } from '../../../core/steps/index.js';
import { atlasInput } from '../../helpers/atlas.js';
import { FakeFlux } from '../../helpers/fake-flux.js';
import { FakeClock, MemoryStore, silentLogger } from '../../helpers/fakes.js';

const ks = (name: string, dependsOn: string[] = [], suspended = false): FluxObject => ({
  kind: 'Kustomization',
  namespace: 'flux-system',
  name,
  suspended,
  dependsOn: dependsOn.map((n) => ({ namespace: 'flux-system', name: n })),
});
const hr = (name: string): FluxObject => ({
  kind: 'HelmRelease',
  namespace: name,
  name,
  suspended: false,
  dependsOn: [],
});

const world = () =>
  new FakeFlux([
    ks('apps', ['vault']),
    ks('flux-system'),
    ks('vault', ['longhorn']),
    ks('longhorn'),
    ks('paused', [], true),
    hr('harbor'),
  ]);

/** Runs only the Flux steps of a mode's Atlas plan. */
async function runFlux(mode: 'shutdown' | 'startup', flux: FakeFlux, store: MemoryStore) {
  const input = atlasInput();
  const plan = compilePlan(mode, { ...input, outage: (await store.load())?.outage });
  const steps = plan.steps.filter((s) => s.kind === 'suspend-flux' || s.kind === 'resume-flux');
  return runPlan({
    plan: { ...plan, steps },
    action: mode,
    executors: {
      ...coreExecutors(),
      'suspend-flux': suspendFlux(flux, input.spec),
      'resume-flux': resumeFlux(flux, input.spec),
    },
    store,
    clock: new FakeClock(),
    logger: silentLogger,
  });
}

describe('Flux suspend and resume', () => {
  it('given a live cluster, shutdown suspends the root, then Kustomizations, then HelmReleases, recording each first', async () => {
    const flux = world();
    const store = new MemoryStore();
    await runFlux('shutdown', flux, store);
    expect(flux.mutations).toEqual([
      'suspend Kustomization/flux-system/flux-system',
      'suspend Kustomization/flux-system/apps',
      'suspend Kustomization/flux-system/longhorn',
      'suspend Kustomization/flux-system/vault',
      'suspend HelmRelease/harbor/harbor',
    ]);
    const outage = store.latest?.outage;
    expect(outage?.alreadySuspended).toEqual(['Kustomization/flux-system/paused']);
    expect(outage?.suspendedByHecate.helmReleases).toEqual(['HelmRelease/harbor/harbor']);
    // Every suspend was recorded in a save that happened before the patch was made.
    const firstSaveWithHarbor = store.history.findIndex((h) => h.outage.suspendedByHecate.helmReleases.length === 1);
    expect(firstSaveWithHarbor).toBeGreaterThan(0);
  });

  it('given a crash mid-suspend, a rerun completes without suspending anything twice', async () => {
    const flux = world();
    const store = new MemoryStore();
    flux.failOnSuspendOf = 'Kustomization/flux-system/longhorn';
    await expect(runFlux('shutdown', flux, store)).rejects.toThrow(/crash while suspending/);
    flux.failOnSuspendOf = undefined;
    await runFlux('shutdown', flux, store);
    const suspends = flux.mutations.filter((m) => m.startsWith('suspend'));
    expect(new Set(suspends).size).toBe(suspends.length);
    expect([...flux.objects.values()].every((o) => o.suspended)).toBe(true);
    expect(store.latest?.outage.suspendedByHecate.kustomizations).toHaveLength(4);
  });

  it('given a shutdown, startup resumes only what Hecate suspended, root first, then in dependsOn order', async () => {
    const flux = world();
    const store = new MemoryStore();
    await runFlux('shutdown', flux, store);
    flux.mutations.length = 0;
    await runFlux('startup', flux, store);
    expect(flux.mutations.filter((m) => m.startsWith('resume'))).toEqual([
      'resume Kustomization/flux-system/flux-system',
      'resume Kustomization/flux-system/longhorn',
      'resume Kustomization/flux-system/vault',
      'resume Kustomization/flux-system/apps',
      'resume HelmRelease/harbor/harbor',
    ]);
    expect(flux.objects.get('Kustomization/flux-system/paused')?.suspended).toBe(true);
    expect(flux.mutations).toContain('reconcile Kustomization/flux-system/apps');
    expect(store.latest?.outage.suspendedByHecate).toEqual({ kustomizations: [], helmReleases: [] });
  });
});

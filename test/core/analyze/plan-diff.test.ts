import { describe, expect, it } from 'vitest';
import { loadPlanFile } from '../../../cli/load-plan.js';
import type { PowerPlanSpec } from '../../../core/api/powerplan.js';
import { analyzeFixture } from './helpers.js';

async function atlasSpec(): Promise<PowerPlanSpec> {
  return (await loadPlanFile('examples/atlas-powerplan.yaml')).spec;
}

function withChain(spec: PowerPlanSpec, names: string[]): PowerPlanSpec {
  const byName = new Map(spec.bootstrapChain.map((s) => [s.name, s]));
  return { ...spec, bootstrapChain: names.map((n) => byName.get(n)).filter((s) => s !== undefined) };
}

describe('comparePlan: the Atlas PowerPlan against the Atlas-like repo', () => {
  it('given the shipped Atlas plan, finds no disagreement', async () => {
    const ctx = await analyzeFixture('atlas');
    expect(ctx.compare(await atlasSpec())).toEqual([]);
  });

  it('given a plan without postgres, reports the missing dependency with the edge that needs it', async () => {
    const ctx = await analyzeFixture('atlas');
    const spec = await atlasSpec();
    const names = spec.bootstrapChain.map((s) => s.name).filter((n) => n !== 'postgres');
    const findings = ctx.compare(withChain(spec, names));
    expect(findings).toEqual([
      expect.objectContaining({
        kind: 'missing-dependency',
        severity: 'error',
        stage: 'gitea',
        message: expect.stringMatching(
          /stage gitea needs flux-system\/postgres.*gitea dependsOn flux-system\/postgres/,
        ),
      }),
    ]);
  });

  it('given gitea before vault, reports the wrong order', async () => {
    const ctx = await analyzeFixture('atlas');
    const spec = await atlasSpec();
    const names = [
      'core',
      'helm',
      'longhorn',
      'metallb',
      'traefik',
      'vault-csi',
      'vault-injector',
      'postgres',
      'gitea',
      'vault',
    ];
    const kinds = ctx.compare(withChain(spec, names)).map((f) => `${f.kind} ${f.stage}`);
    expect(kinds).toEqual(['wrong-order postgres', 'wrong-order gitea']);
  });

  it('given a plan without a harbor seed and a stage the repo does not know, reports both', async () => {
    const ctx = await analyzeFixture('atlas');
    const spec = await atlasSpec();
    const extra = { name: 'ghost', path: 'services/ghost', waitFor: [], timeout: '1m' };
    const findings = ctx.compare({ ...spec, harbor: undefined, bootstrapChain: [...spec.bootstrapChain, extra] });
    expect(findings.map((f) => f.kind).sort()).toEqual(['missing-seed', 'unknown-stage']);
  });
});

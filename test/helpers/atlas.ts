import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type PowerPlanSpec, parseOrThrow, powerPlan, type WayBackRecord } from '../../core/api/index.js';
import { fromYaml } from '../../core/api/yaml.js';
import type { CompileInput } from '../../core/plan/index.js';

/** The Atlas bootstrap chain, in the order examples/atlas-powerplan.yaml declares it. */
export const ATLAS_CHAIN = [
  'core',
  'helm',
  'longhorn',
  'metallb',
  'traefik',
  'vault-csi',
  'vault-injector',
  'vault',
  'postgres',
  'gitea',
];

export const ATLAS_PLAN_PATH = fileURLToPath(new URL('../../examples/atlas-powerplan.yaml', import.meta.url));

export function atlasSpec(): PowerPlanSpec {
  return parseOrThrow(powerPlan, fromYaml(readFileSync(ATLAS_PLAN_PATH, 'utf8')), ATLAS_PLAN_PATH).spec;
}

/** A compile input for the Atlas plan with fixed paths and nothing observed (an offline dry-run). */
export function atlasInput(overrides: Partial<CompileInput> = {}): CompileInput {
  return {
    planName: 'atlas',
    spec: atlasSpec(),
    execute: false,
    paths: {
      repoSnapshot: '/home/ops/hecate-repo',
      stateFile: '/home/ops/.local/state/cluster_power_recovery.state',
      harborBundle: '/home/ops/.local/share/hecate/bundles/harbor-bootstrap-v2.14.1-arm64.tar.zst',
    },
    observed: { api: 'unknown' },
    ...overrides,
  };
}

/**
 * A way back `hecate prepare --execute` verified an hour before the fake clock's start (test/helpers/fakes.ts): the
 * PowerPlan status an executing shutdown PowerEvent needs before the operator runs it.
 */
export const VERIFIED_WAY_BACK: WayBackRecord = {
  verified: true,
  checkedAt: '2026-11-25T01:00:00.000Z',
  checkedBy: 'cli/control-host',
  gaps: [],
};

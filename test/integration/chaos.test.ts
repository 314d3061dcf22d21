/**
 * The chaos runner with a small fixed seed: a reference power event on the Atlas bed, then two more, each with the
 * CLI SIGKILLed once during the shutdown and once during the startup at seeded instants over the measured run;
 * every rerun ends where the reference ended and sends no destructive request twice (test/helpers/chaos.ts).
 * `npm run chaos -- --kills 100` runs many more.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PowerPlanSpec, parseOrThrow, powerPlan } from '../../core/api/index.js';
import { fromYaml } from '../../core/yaml.js';
import { requireBed } from '../bed/index.js';
import { type CycleResult, cycle, diffEndStates, extraSends, seededRandom } from '../helpers/chaos.js';
import { type E2e, startE2e, withPausedApps } from '../helpers/e2e.js';

const bed = requireBed();
const SEED = 20261207;

describe.skipIf(!bed.ok)('chaos: SIGKILL at seeded instants of shutdown and startup, then rerun', () => {
  let e2e: E2e;
  let spec: PowerPlanSpec;
  let reference: CycleResult;

  beforeAll(async () => {
    e2e = await startE2e({ scenario: withPausedApps, drainTimeout: '4s' });
    spec = parseOrThrow(powerPlan, fromYaml(await readFile(e2e.planPath, 'utf8')), e2e.planPath).spec;
    reference = await cycle(e2e, spec);
  });
  afterAll(async () => {
    await e2e?.stop();
  });

  it('the reference power event ends with every node on and uncordoned, the chain Ready, the outage closed', () => {
    expect(Object.values(reference.end.nodes).every((n) => n.on && !n.cordoned)).toBe(true);
    expect(Object.values(reference.end.chain).every(Boolean)).toBe(true);
    expect(reference.end).toMatchObject({ outageOpen: false, runFinished: true, unsettled: [] });
    expect(reference.end.suspended).toEqual(['Kustomization/flux-system/apps']);
    expect(
      Object.entries(reference.sends)
        .filter(([k]) => k.startsWith('power-off '))
        .map(([, n]) => n),
    ).toEqual(Array(Object.keys(reference.end.nodes).length).fill(1));
  });

  it.each([1, 2])(
    'cycle %i: both kills resume to the reference end state, nothing destructive sent twice',
    async (n) => {
      const random = seededRandom(SEED);
      for (let skip = 1; skip < n; skip++) {
        random();
        random();
      }
      // NOTE: over the first 60% of the reference run, not all of it: a later run can be a few seconds quicker (the
      // reference pulls what the next ones find), and a kill after its end tests nothing (npm run chaos draws over
      // the whole run and counts such kills apart)
      const kills = {
        shutdown: { what: 'cli', atMs: Math.floor(random() * 0.6 * (reference.shutdown.runs[0]?.ms ?? 0)) },
        startup: { what: 'cli', atMs: Math.floor(random() * 0.6 * (reference.startup.runs[0]?.ms ?? 0)) },
      } as const;
      const result = await cycle(e2e, spec, kills);
      const runs = `kills ${JSON.stringify(kills)}; runs: shutdown ${JSON.stringify(result.shutdown.runs)}, startup ${JSON.stringify(result.startup.runs)}`;
      console.info(`chaos cycle ${n}: ${runs}`);
      expect(diffEndStates(reference.end, result.end), runs).toEqual([]);
      expect(extraSends(reference.sends, result.sends), runs).toEqual([]);
      expect(result.shutdown.killedAtMs, runs).toBeDefined();
      expect(result.startup.killedAtMs, runs).toBeDefined();
    },
  );
});

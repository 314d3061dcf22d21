/**
 * The chaos runner, not a test: kill Hecate at random instants of a power event and check that a rerun ends where an
 * uninterrupted run ends, with no destructive request sent twice (test/helpers/chaos.ts says how).
 *
 *   npm run chaos -- [--kills N=10] [--mode shutdown|startup|both] [--kill cli|api|both] [--door cli] [--seed S]
 *
 * Each cycle is one power event on the Atlas bed (shutdown, the power cut, startup with the bootstrap chain); with
 * --mode both a cycle takes one kill in each mode. Kill instants are uniform over each mode's duration in the
 * uninterrupted reference cycle, drawn from one stream seeded by --seed: the same seed replays the same instants.
 * --kill says what dies: the CLI (SIGKILL, then the same command again) or the API server (the bed's kube-apiserver
 * stopped for 4 s, the CLI rerun if it gave up); with `both`, each kill picks one from the same seeded stream.
 * The operator door (a kill of the operator, of its leader during a hand-off) is not built yet.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseOrThrow, powerPlan } from '../core/api/index.js';
import { fromYaml } from '../core/yaml.js';
import {
  type ChaosMode,
  type CycleResult,
  cycle,
  diffEndStates,
  extraSends,
  IDEMPOTENT_RESENDS,
  type Kill,
  seededRandom,
} from '../test/helpers/chaos.js';
import { startE2e, withPausedApps } from '../test/helpers/e2e.js';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'both' },
    kill: { type: 'string', default: 'both' },
    door: { type: 'string', default: 'cli' },
    seed: { type: 'string' },
  },
});
const kills = Number(values.kills);
const modes: ChaosMode[] = values.mode === 'both' ? ['shutdown', 'startup'] : [values.mode as ChaosMode];
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const usage =
  'usage: npm run chaos -- [--kills N] [--mode shutdown|startup|both] [--kill cli|api|both] [--door cli] [--seed S]';
if (!Number.isInteger(kills) || kills < 1 || !Number.isInteger(seed)) {
  console.error(`--kills and --seed take whole numbers. ${usage}`);
  process.exit(2);
}
if (!['shutdown', 'startup', 'both'].includes(values.mode ?? '')) {
  console.error(`--mode: expected shutdown, startup or both, got "${values.mode}". ${usage}`);
  process.exit(2);
}
if (!['cli', 'api', 'both'].includes(values.kill ?? '')) {
  console.error(`--kill: expected cli, api or both, got "${values.kill}". ${usage}`);
  process.exit(2);
}
if (values.door !== 'cli') {
  console.error(
    `--door ${values.door}: only the CLI door is built; killing the operator, the API server and the leader during a hand-off is not yet. ${usage}`,
  );
  process.exit(2);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const random = seededRandom(seed);
const started = Date.now();
const e2e = await startE2e({ scenario: withPausedApps, drainTimeout: '4s' });
try {
  const spec = parseOrThrow(powerPlan, fromYaml(await readFile(e2e.planPath, 'utf8')), e2e.planPath).spec;
  console.log(`bed up in ${seconds(Date.now() - started)}; seed ${seed}; ${kills} kill(s) in ${modes.join(' and ')}`);
  const reference = await cycle(e2e, spec);
  const duration = { shutdown: reference.shutdown.runs[0]?.ms ?? 0, startup: reference.startup.runs[0]?.ms ?? 0 };
  console.log(
    `reference cycle (no kill): shutdown ${seconds(duration.shutdown)}, startup ${seconds(duration.startup)}; sends: ${Object.keys(reference.sends).length} kinds`,
  );
  const problems = diffEndStates(reference.end, reference.end);
  if (reference.end.unsettled.length > 0 || problems.length > 0) {
    console.log(`  (the reference itself left: ${reference.end.unsettled.join(', ')})`);
  }

  let clean = 0;
  let different = 0;
  let missed = 0;
  const tally: Record<string, { clean: number; different: number }> = {};
  const failures: string[] = [];
  const cycles = Math.ceil(kills / modes.length);
  let left = kills;
  for (let n = 1; n <= cycles; n++) {
    const planned: Partial<Record<ChaosMode, Kill>> = {};
    for (const mode of modes) {
      if (left-- <= 0) continue;
      const atMs = Math.floor(random() * duration[mode]);
      const pick = random();
      const what = values.kill === 'both' ? (pick < 0.5 ? 'cli' : 'api') : (values.kill as Kill['what']);
      planned[mode] = { what, atMs };
    }
    const t0 = Date.now();
    let result: CycleResult;
    try {
      result = await cycle(e2e, spec, planned);
    } catch (error) {
      different += Object.keys(planned).length;
      failures.push(`cycle ${n} (${describe(planned)}): did not complete: ${(error as Error).message.slice(0, 3000)}`);
      console.log(`cycle ${n}: ${describe(planned)} → did not complete`);
      break; // the bed is in an unknown state
    }
    const diffs = [...diffEndStates(reference.end, result.end), ...extraSends(reference.sends, result.sends)];
    const landed = modes.filter((m) => planned[m] !== undefined && result[m].killedAtMs !== undefined);
    missed += Object.keys(planned).length - landed.length;
    const runs = modes.map((m) => `${m} ${result[m].runs.map((r) => `${seconds(r.ms)} (${r.exit})`).join(' + ')}`);
    for (const m of landed) {
      const key = `${m}, ${planned[m]?.what === 'api' ? 'API server' : 'CLI'} killed`;
      const t = tally[key] ?? { clean: 0, different: 0 };
      tally[key] = t;
      if (diffs.length === 0) t.clean++;
      else t.different++;
    }
    if (diffs.length === 0) clean += landed.length;
    else {
      different += landed.length;
      failures.push(`cycle ${n} (${describe(planned)}):\n    ${diffs.join('\n    ')}`);
    }
    console.log(
      `cycle ${n}: ${describe(planned)} → ${diffs.length === 0 ? 'same end state, nothing sent twice' : `${diffs.length} difference(s)`}; ${runs.join('; ')}; ${seconds(Date.now() - t0)}`,
    );
  }
  console.log(
    `\n${kills} kills: ${clean} clean resumes, ${different} different end states${missed ? `, ${missed} landed after the run had ended` : ''} (seed ${seed})`,
  );
  for (const [key, t] of Object.entries(tally)) console.log(`  ${key}: ${t.clean} clean, ${t.different} different`);
  for (const f of failures) console.log(`  ${f}`);
  console.log(`resends allowed (idempotent): ${IDEMPOTENT_RESENDS.map((r) => r.prefix.trim()).join(', ')}`);
  console.log(`replay: npm run chaos -- --kills ${kills} --mode ${values.mode} --kill ${values.kill} --seed ${seed}`);
  if (different > 0) process.exitCode = 1;
} finally {
  await e2e.stop();
}

function describe(planned: Partial<Record<ChaosMode, Kill>>): string {
  return Object.entries(planned)
    .map(
      ([mode, kill]) => `${mode}: ${kill?.what === 'api' ? 'API server' : 'CLI'} killed at ${seconds(kill?.atMs ?? 0)}`,
    )
    .join(', ');
}

/**
 * The chaos runner, not a test: kill Hecate at random instants of a power event, through either front door, and
 * check that the resumed event ends where an uninterrupted one ends, with no destructive request sent twice
 * (bed/chaos.ts says how).
 *
 *   npm run chaos -- [--kills N=10] [--mode shutdown|startup|both] [--door cli|operator|both]
 *                    [--kill door|api|both] [--seed S] [--only C]
 *
 * Each cycle is one power event on the Atlas bed with the operator deployed (shutdown, the power cut, startup with
 * the bootstrap chain) through one door; with --mode both a cycle takes one kill in each mode. Kill instants are
 * uniform over each mode's duration in the uninterrupted reference cycle of that door, drawn from one stream seeded by
 * --seed: the same seed replays the same doors, instants and kinds of kill.
 * --kill says what dies: `door`, the front door's own process (the CLI, SIGKILLed and run again; or the operator's
 * leader, SIGKILLed, its replica taking over and a new one started), or `api`, the bed's kube-apiserver (stopped for
 * 4 s); with `both`, each kill picks one from the seeded stream. With --door both, each cycle picks its door so.
 * --only C runs cycle C of that stream alone (after the references): the same door, kinds of kill and instants as a
 * fraction of each mode's reference duration, on a bed no earlier trial cycle has touched.
 */
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type ChaosMode,
  type CycleResult,
  cycle,
  type Door,
  diffEndStates,
  diffSends,
  IDEMPOTENT_RESENDS,
  type Kill,
  seededRandom,
  startChaosBed,
  volumeHolders,
} from '../bed/chaos.js';

const usage =
  'usage: npm run chaos -- [--kills N] [--mode shutdown|startup|both] [--door cli|operator|both] [--kill door|api|both] [--seed S] [--only C]';
const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'both' },
    door: { type: 'string', default: 'both' },
    kill: { type: 'string', default: 'both' },
    seed: { type: 'string' },
    only: { type: 'string' },
  },
});
const only = values.only === undefined ? undefined : Number(values.only);
if (only !== undefined && !(Number.isInteger(only) && only >= 1)) {
  console.error(`--only takes a cycle number (1 or more), got "${values.only}". ${usage}`);
  process.exit(2);
}
const kills = Number(values.kills);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isInteger(kills) || kills < 1 || !Number.isInteger(seed)) {
  console.error(`--kills and --seed take whole numbers. ${usage}`);
  process.exit(2);
}
for (const [flag, allowed] of [
  ['mode', ['shutdown', 'startup', 'both']],
  ['door', ['cli', 'operator', 'both']],
  ['kill', ['door', 'api', 'both']],
] as const) {
  const value = values[flag] ?? '';
  if (!(allowed as readonly string[]).includes(value)) {
    console.error(`--${flag}: expected ${allowed.join(', ')}, got "${value}". ${usage}`);
    process.exit(2);
  }
}
const modes: ChaosMode[] = values.mode === 'both' ? ['shutdown', 'startup'] : [values.mode as ChaosMode];
if (only !== undefined && only > Math.ceil(kills / modes.length)) {
  console.error(`--only ${only}: ${kills} kill(s) make ${Math.ceil(kills / modes.length)} cycle(s). ${usage}`);
  process.exit(2);
}
const doors: Door[] = values.door === 'both' ? ['cli', 'operator'] : [values.door as Door];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const random = seededRandom(seed);
const started = Date.now();
const logDir = await mkdtemp(join(tmpdir(), `hecate-chaos-${seed}-`));
const cb = await startChaosBed();
try {
  console.log(`bed up in ${seconds(Date.now() - started)}; seed ${seed}; ${kills} kill(s) in ${modes.join(' and ')}`);
  const references = {} as Record<Door, CycleResult>;
  for (const door of doors) {
    const reference = await cycle(cb, door);
    references[door] = reference;
    console.log(
      `reference cycle, ${door} door (no kill): shutdown ${seconds(reference.shutdown.runs[0]?.ms ?? 0)}, startup ${seconds(reference.startup.to - reference.startup.from)}`,
    );
    const left = [...reference.end.unsettled, ...Object.values(reference.end.events).flatMap((e) => e.unsettled)];
    if (left.length > 0) console.log(`  (the reference itself left: ${left.join(', ')})`);
  }

  let clean = 0;
  let different = 0;
  let missed = 0;
  const tally: Record<string, { clean: number; different: number }> = {};
  const failures: string[] = [];
  const cycles = Math.ceil(kills / modes.length);
  let left = kills;
  for (let n = 1; n <= cycles; n++) {
    const door = doors.length === 1 ? doors[0]! : random() < 0.5 ? 'cli' : 'operator';
    const reference = references[door];
    const planned: Partial<Record<ChaosMode, Kill>> = {};
    for (const mode of modes) {
      if (left-- <= 0) continue;
      // the CLI door kills the CLI: over its run; the operator door: until the PowerEvent ended
      const run = reference[mode];
      const duration = door === 'cli' ? run.runs.reduce((sum, r) => sum + r.ms, 0) : run.to - run.from;
      const atMs = Math.floor(random() * duration);
      const pick = random();
      const what = values.kill === 'both' ? (pick < 0.5 ? 'door' : 'api') : (values.kill as Kill['what']);
      planned[mode] = { what, atMs };
    }
    if (only !== undefined && n !== only) continue; // drawn, not run: the stream stays the seed's
    const t0 = Date.now();
    let result: CycleResult;
    try {
      result = await cycle(cb, door, planned);
    } catch (error) {
      different += Object.keys(planned).length;
      const what = describe(door, planned);
      const message = (error as Error).message;
      const whole = join(logDir, `cycle-${n}-failure.log`);
      await writeFile(whole, `${message}\n`);
      failures.push(`cycle ${n} (${what}): did not complete: ${excerpt(message)}\n  (the whole of it: ${whole})`);
      console.log(`cycle ${n}: ${what} → did not complete`);
      if (door === 'operator') {
        const file = join(logDir, `cycle-${n}-operator.jsonl`);
        await writeFile(file, `${cb.replicas.logsSince(t0).join('\n')}\n`);
        console.log(`    the operator replicas' logs of this cycle: ${file}`);
      }
      const standIns = join(logDir, `cycle-${n}-stand-ins.log`);
      const holders = await volumeHolders(cb.bed).catch((e: unknown) => [`volume holders: ${String(e)}`]);
      await writeFile(standIns, `${[...holders, '', ...cb.standIns.since(t0)].join('\n')}\n`);
      console.log(`    the stand-ins' logs of this cycle, after the volumes held attached: ${standIns}`);
      for (const name of ['kube-controller-manager', 'kube-scheduler', 'kube-apiserver']) {
        const copy = join(logDir, `cycle-${n}-${name}.log`);
        await copyFile(join(cb.bed.e2e.plane.dir, 'logs', `${name}.log`), copy).catch(() => undefined);
      }
      console.log(`    and the control plane's own logs (the whole run): ${join(logDir, `cycle-${n}-kube-*.log`)}`);
      break; // the bed is in an unknown state
    }
    if (result.restored.length > 0) {
      console.log(`  (left off by the cycle before, booted before this one: ${result.restored.join(', ')})`);
    }
    const diffs = [...diffEndStates(reference.end, result.end), ...diffSends(reference.sends, result.sends)];
    const landed = modes.filter((m) => planned[m] !== undefined && result[m].killedAtMs !== undefined);
    missed += Object.keys(planned).length - landed.length;
    const runs = modes.map((m) => `${m} ${result[m].runs.map((r) => `${seconds(r.ms)} (${r.exit})`).join(' + ')}`);
    for (const m of landed) {
      const key = `${door} door, ${m}, ${victim(door, planned[m])} killed`;
      const t = tally[key] ?? { clean: 0, different: 0 };
      tally[key] = t;
      if (diffs.length === 0) t.clean++;
      else t.different++;
    }
    if (diffs.length === 0) clean += landed.length;
    else {
      different += landed.length;
      failures.push(`cycle ${n} (${describe(door, planned)}, alone: --only ${n}):\n    ${diffs.join('\n    ')}`);
    }
    const slow = modes.filter((m) => result[m].to - result[m].from > 1.5 * (reference[m].to - reference[m].from));
    const stages = (m: ChaosMode) =>
      Object.entries(result[m].stages ?? {})
        .map(([stage, ms]) => `${stage} ${seconds(ms)} (${seconds(reference[m].stages?.[stage] ?? 0)})`)
        .join(', ');
    for (const m of slow) {
      console.log(`  slow ${m}, per stage (reference): ${stages(m)}`);
      if (result[m].output) {
        const file = join(logDir, `cycle-${n}-${m}-cli.txt`);
        await writeFile(file, result[m].output);
        console.log(`    the CLI's output: ${file}`);
      }
    }
    console.log(
      `cycle ${n}: ${describe(door, planned)} → ${diffs.length === 0 ? 'same end state, nothing sent twice' : `${diffs.length} difference(s)`}; ${runs.join('; ')}; ${seconds(Date.now() - t0)}`,
    );
    // at once too: a long run stopped early still says what differed
    for (const d of diffs) console.log(`    ${d}`);
    if (diffs.length > 0 && door === 'operator') {
      const file = join(logDir, `cycle-${n}-operator.jsonl`);
      await writeFile(file, `${cb.replicas.logsSince(t0).join('\n')}\n`);
      console.log(`    the operator replicas' logs of this cycle: ${file}`);
    }
  }
  console.log(
    `\n${clean + different + missed} kills: ${clean} clean resumes, ${different} different end states${missed ? `, ${missed} landed after the run had ended` : ''} (seed ${seed})`,
  );
  for (const [key, t] of Object.entries(tally)) console.log(`  ${key}: ${t.clean} clean, ${t.different} different`);
  for (const f of failures) console.log(`  ${f}`);
  console.log(`resends allowed (idempotent): ${IDEMPOTENT_RESENDS.map((r) => r.prefix.trim()).join(', ')}`);
  console.log(
    `replay: npm run chaos -- --kills ${kills} --mode ${values.mode} --door ${values.door} --kill ${values.kill} --seed ${seed}${only === undefined ? '' : ` --only ${only}`}`,
  );
  if (different > 0) process.exitCode = 1;
} finally {
  await cb.stop();
}

function victim(door: Door, kill: Kill | undefined): string {
  if (kill?.what === 'api') return 'API server';
  return door === 'cli' ? 'CLI' : "operator's leader";
}

function describe(door: Door, planned: Partial<Record<ChaosMode, Kill>>): string {
  const kills = Object.entries(planned).map(
    ([mode, kill]) => `${mode}: ${victim(door, kill)} killed at ${seconds(kill?.atMs ?? 0)}`,
  );
  return `${door} door, ${kills.join(', ')}`;
}

/** A long failure for the summary: its first line and its last 3,000 characters (the last run says why it ended). */
function excerpt(message: string): string {
  if (message.length <= 4_000) return message;
  const [first = ''] = message.split('\n', 1);
  return `${first}\n[… ${message.length - first.length - 3_000} characters, in the file below …]\n${message.slice(-3_000)}`;
}

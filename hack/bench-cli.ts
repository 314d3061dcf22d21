/**
 * Benchmark, not a test: how soon the CLI starts, as the process a user runs (the built `dist/cli/main.js` of the
 * package's `bin`, not tsx). Wall time of whole processes, `node -e 0` as the baseline, alternating the order in
 * every round so that a busy machine weighs on all three alike:
 *
 * - `hecate --help`: goal at most 2.5x the baseline
 * - `hecate shutdown --offline --plan examples/atlas-powerplan.yaml` (a dry-run that reads no cluster): goal 5x
 *
 * It builds the sources into .cache/bench-cli/ first (as `npm run build` would, without touching dist/), or
 * measures the `main.js` given with `--cli`. Each command runs with a throwaway HOME, so no ~/hecate-repo or state
 * file of this machine changes what it does. It also lists the packages each command loads (a resolve hook).
 *
 *   npx tsx hack/bench-cli.ts [rounds=15] [--cli dist/cli/main.js]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILD_DIR = '.cache/bench-cli';
const PLAN = 'examples/atlas-powerplan.yaml';

interface Case {
  name: string;
  args: string[];
  /** Times the baseline's median this case should stay under. */
  goal?: number;
}

function parseArgs(argv: string[]): { rounds: number; cli?: string } {
  const at = argv.indexOf('--cli');
  const cli = at >= 0 ? argv[at + 1] : undefined;
  const rest = at >= 0 ? argv.filter((_, i) => i !== at && i !== at + 1) : argv;
  return { rounds: Number(rest[0] ?? 15), ...(cli ? { cli } : {}) };
}

/** Compiles the CLI as the package's build does, into a folder of its own; returns its main.js. */
function build(): string {
  const start = performance.now();
  const tsc = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json', '--outDir', BUILD_DIR], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (tsc.status !== 0) console.log(`tsc reported errors (the build is measured anyway):\n${tsc.stdout}`);
  console.log(`built ${BUILD_DIR}/ in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return join(BUILD_DIR, 'cli/main.js');
}

/** One process run, in ms; a run that fails stops the benchmark, since its time would mean nothing. */
function timeRun(args: string[], env: NodeJS.ProcessEnv): number {
  const start = performance.now();
  const run = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8' });
  const ms = performance.now() - start;
  if (run.status !== 0) {
    throw new Error(`node ${args.join(' ')} exited ${run.status}:\n${run.stderr}`);
  }
  return ms;
}

/** Nearest-rank percentile of `values` (0 < p <= 100). */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** A resolve hook that appends every resolved URL to `out`, for `node --import <file>`. */
function resolveHook(out: string): string {
  const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(${JSON.stringify(out)}, result.url + '\\n');
  return result;
}`;
  return `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});\n`;
}

/** "commander (2), zod (95)": the packages a run loaded, with how many of their files; and its own modules. */
async function loadedSummary(args: string[], env: NodeJS.ProcessEnv, dir: string): Promise<string> {
  const out = join(dir, 'loaded.txt');
  const hook = join(dir, 'hook.mjs');
  await writeFile(out, '');
  await writeFile(hook, resolveHook(out));
  spawnSync(process.execPath, ['--import', pathToFileURL(hook).href, ...args], { cwd: ROOT, env });
  const urls = new Set((await readFile(out, 'utf8')).split('\n').filter((u) => u.startsWith('file:')));
  const packages = new Map<string, number>();
  let own = 0;
  for (const url of urls) {
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
    if (match?.[1]) packages.set(match[1], (packages.get(match[1]) ?? 0) + 1);
    else own++;
  }
  const listed = [...packages].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} (${n})`);
  return `${own} own modules; ${listed.join(', ') || 'no packages'}`;
}

const ms = (value: number) => `${value.toFixed(0).padStart(5)} ms`;

const { rounds, cli: given } = parseArgs(process.argv.slice(2));
const cli = given ?? build();
const home = await mkdtemp(join(tmpdir(), 'hecate-bench-cli-'));
const env = { ...process.env, HOME: home, XDG_STATE_HOME: join(home, '.local/state') };
const cases: Case[] = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'hecate --help', args: [cli, '--help'], goal: 2.5 },
  { name: 'hecate shutdown --offline (dry-run)', args: [cli, 'shutdown', '--offline', '--plan', PLAN], goal: 5 },
];
try {
  for (const c of cases) timeRun(c.args, env); // warm the file cache; fails early on a broken build
  const times = cases.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < cases.length; k++) {
      const i = (round + k) % cases.length; // each round starts with the next case
      times[i]?.push(timeRun(cases[i]?.args ?? [], env));
    }
  }
  const base = { median: percentile(times[0] ?? [], 50), p90: percentile(times[0] ?? [], 90) };
  console.log(`${rounds} rounds, alternating order; CLI: ${relative(ROOT, cli) || cli} (node ${process.version})`);
  for (const [i, c] of cases.entries()) {
    const median = percentile(times[i] ?? [], 50);
    const p90 = percentile(times[i] ?? [], 90);
    const ratio = c.goal
      ? `  = ${(median / base.median).toFixed(2)}x / ${(p90 / base.p90).toFixed(2)}x node -e 0 (goal <= ${c.goal}x: ${median / base.median <= c.goal ? 'met' : 'not met'})`
      : '  (baseline)';
    console.log(`${c.name.padEnd(36)} median ${ms(median)}  p90 ${ms(p90)}${ratio}`);
  }
  for (const c of cases.slice(1)) {
    console.log(`loaded by ${c.name}: ${await loadedSummary(c.args, env, home)}`);
  }
  console.log(`reproduce: npm run bench -- cli  (or npx tsx hack/bench-cli.ts ${rounds} --cli ${relative(ROOT, cli)})`);
  console.log(`  one run: HOME=$(mktemp -d) node ${relative(ROOT, cli)} shutdown --offline --plan ${PLAN}`);
} finally {
  await rm(home, { recursive: true, force: true });
}

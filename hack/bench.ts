/**
 * `npm run bench`: runs every hack/bench-*.ts in turn (or those named on the command line) and prints their figures.
 * Each benchmark prints its own numbers and the command that reproduces them. Benchmarks are never tests: they
 * measure, they do not pass or fail on a time.
 *
 *   npm run bench                 # all of them
 *   npm run bench -- analyze      # only hack/bench-analyze.ts
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const here = dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => /^bench-.+\.ts$/.test(f))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f === `bench-${w}.ts`))
  .sort();

if (benches.length === 0) {
  console.error(
    `no benchmark matches ${wanted.join(', ')}; available: ${readdirSync(here)
      .filter((f) => f.startsWith('bench-'))
      .join(', ')}`,
  );
  process.exitCode = 2;
}
for (const file of benches) {
  console.log(`\n=== ${file} (npx tsx hack/${file}) ===`);
  const result = await execa('npx', ['tsx', join(here, file)], { stdio: 'inherit', reject: false });
  if (result.exitCode !== 0) {
    console.error(`${file} exited ${result.exitCode}`);
    process.exitCode = 1;
  }
}

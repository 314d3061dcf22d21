/**
 * Stand-ins for a test runner, for controlplane.test.ts. Prints `{"dir", "pids", "worker"}` as one JSON line once
 * a bed is up, then idles until it is killed. Run with `node --import tsx test/integration/controlplane.child.ts`:
 * - no argument: this process starts the bed itself;
 * - `runner`: like vitest's fork pool, this process forks a `worker` (IPC channel) that starts the bed.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startControlPlane } from '../../bed/index.js';

const mode = process.argv[2] ?? 'self';
if (mode === 'runner') {
  const worker = fork(fileURLToPath(import.meta.url), ['worker'], { execArgv: ['--import', 'tsx'] });
  worker.on('message', (bed) => {
    process.stdout.write(`${JSON.stringify({ ...(bed as object), worker: worker.pid })}\n`);
  });
} else {
  const plane = await startControlPlane();
  const bed = { dir: plane.dir, pids: plane.components.map((c) => c.pid), worker: process.pid };
  if (mode === 'worker') process.send?.(bed);
  else process.stdout.write(`${JSON.stringify(bed)}\n`);
}
setInterval(() => {}, 60_000);

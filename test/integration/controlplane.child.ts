/**
 * A stand-in for a test runner, for controlplane.test.ts: starts a bed, prints `{"dir", "pids"}` as one JSON line,
 * then idles until it is killed. Run with `node --import tsx test/integration/controlplane.child.ts`.
 */
import { startControlPlane } from '../bed/index.js';

const plane = await startControlPlane();
process.stdout.write(`${JSON.stringify({ dir: plane.dir, pids: plane.components.map((c) => c.pid) })}\n`);
setInterval(() => {}, 60_000);

/**
 * A test runner that dies, for real-nodes.test.ts: starts a control plane and one real node, prints
 * `{"dir", "pause", "ip"}` as one JSON line once the node is Ready, then idles until it is killed (SIGKILL: no cleanup
 * code runs). Run with `node --import tsx test/integration/real-nodes.child.ts`.
 */
import { realNodeAvailability, startControlPlane, startRealNodes } from '../../bed/index.js';

const tools = realNodeAvailability();
if (!tools.ok) throw new Error(tools.reason);
const plane = await startControlPlane();
const nodes = await startRealNodes(plane, [{ name: 'doomed', images: ['pause'] }], tools);
const node = nodes.node('doomed');
process.stdout.write(`${JSON.stringify({ dir: plane.dir, pause: node.pid, ip: node.slot.ip })}\n`);
setInterval(() => {}, 60_000);

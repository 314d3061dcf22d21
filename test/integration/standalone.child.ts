/**
 * Run inside a copy of the repository by standalone.test.ts: looks the upstream CRDs up, starts the bed with every
 * CRD, and prints `{"crdsDir", "served"}` (the CRD names the API server serves) as one JSON line, then stops it.
 */
import { ApiextensionsV1Api } from '@kubernetes/client-node';
import { allCrdPaths, findUpstreamCrds, startControlPlane } from '../../bed/index.js';

const lookup = findUpstreamCrds();
if (!lookup.ok) throw new Error(lookup.reason);
const plane = await startControlPlane({ crds: allCrdPaths() });
try {
  const list = await plane.kubeConfig.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
  const served = list.items
    .filter((crd) => crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
    .map((crd) => crd.metadata?.name ?? '')
    .sort();
  process.stdout.write(`${JSON.stringify({ crdsDir: lookup.dir, served })}\n`);
} finally {
  await plane.stop();
}

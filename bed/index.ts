/** The test bed's public API: a real control plane on loopback, its audit log and CRDs, real nodes. */
export {
  type AuditEvent,
  describeEvent,
  isMutation,
  MUTATING_VERBS,
  type MutationFilter,
  mutations,
  mutationsBy,
  parseAuditLog,
  readAuditLog,
  requestsBy,
} from './audit.js';
export { type BedAvailability, BedUnavailableError, bedAvailability, requireBed } from './availability.js';
export { findTestBinaries, REPO_ROOT, SETUP_COMMAND, type TestBinaries } from './binaries.js';
export type { NodeLifecycleTimings } from './components.js';
export { ADMIN_USER, BED_DIR_PREFIX, type ControlPlaneOptions, startControlPlane } from './controlplane.js';
export {
  allCrdPaths,
  CRDS_SETUP_COMMAND,
  findUpstreamCrds,
  HECATE_CRDS_DIR,
  hecateCrdPaths,
  installCrds,
  upstreamCrdNames,
  upstreamCrdPath,
  upstreamCrdPaths,
} from './crds.js';
// Scenarios and the stand-ins that run them (kubelets, Flux, Longhorn), for benchmarks and the demo.
export { KUBELET_ANNOTATIONS } from './kubelet/index.js';
export type { ComponentMemory, ControlPlane } from './plane.js';
export { type Component, isRunning, pidsWithCommandLine } from './processes.js';
export {
  BED_IMAGES,
  type BedImage,
  type BootTimings,
  hostFingerprint,
  type MixedScenario,
  NODE_IMAGES_COMMAND,
  RealNode,
  type RealNodeAvailability,
  type RealNodeOptions,
  type RealNodeSpec,
  type RealNodes,
  type RealNodeTools,
  realNodeAvailability,
  requireRealNodes,
  startMixedScenario,
  startRealNodes,
} from './real-node/index.js';
export { ATLAS_SCENARIO, loadScenario, parseScenario } from './scenario.js';
export { fleetPlanNodes, type PlanNode, withFleet } from './scenarios/fleet.js';
export { eventually, startScenario } from './simulators.js';
export { snapshotFiles, writeSnapshot } from './snapshot.js';

/**
 * Whether the bed can run here. On a laptop without the binaries integration tests skip with a printed reason
 * and the command that fixes it; with CI=true nothing may skip, so a missing part fails the test file.
 */
import { findTestBinaries, onPath, SETUP_COMMAND, type TestBinaries } from './binaries.js';
import { CRDS_SETUP_COMMAND, findUpstreamCrds } from './crds.js';

export type BedAvailability =
  | { ok: true; binaries: TestBinaries; crds: string; setpriv: string; openssl: string }
  | { ok: false; reason: string; fix: string };

export function bedAvailability(env: NodeJS.ProcessEnv = process.env): BedAvailability {
  const lookup = findTestBinaries(env);
  if (!lookup.ok) {
    return {
      ok: false,
      reason: lookup.reason,
      fix: `run ${SETUP_COMMAND} (builds them from Go modules, minutes), or set KUBEBUILDER_ASSETS to a folder holding them`,
    };
  }
  const crds = findUpstreamCrds(env);
  if (!crds.ok) {
    return {
      ok: false,
      reason: crds.reason,
      fix: `run ${CRDS_SETUP_COMMAND} (reads them from pinned Go modules), or set HECATE_TEST_CRDS to a folder holding them`,
    };
  }
  const setpriv = onPath('setpriv', env);
  if (!setpriv) return { ok: false, reason: 'setpriv (util-linux) is not on PATH', fix: 'apt-get install util-linux' };
  const openssl = onPath('openssl', env);
  if (!openssl) return { ok: false, reason: 'openssl is not on PATH', fix: 'apt-get install openssl' };
  return { ok: true, binaries: lookup.binaries, crds: crds.dir, setpriv, openssl };
}

export class BedUnavailableError extends Error {
  override readonly name = 'BedUnavailableError';
}

/**
 * For test files: `const bed = requireBed(); describe.skipIf(!bed.ok)(...)`.
 * Prints why the bed is unavailable; throws instead when CI=true, so CI cannot pass by skipping.
 */
export function requireBed(env: NodeJS.ProcessEnv = process.env): BedAvailability {
  const availability = bedAvailability(env);
  if (availability.ok) return availability;
  const message = `Control-plane bed unavailable: ${availability.reason}. Fix: ${availability.fix}`;
  if (env.CI === 'true') throw new BedUnavailableError(`${message} (CI=true: integration tests may not skip)`);
  console.warn(`SKIP ${message}`);
  return availability;
}

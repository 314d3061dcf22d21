import { defineConfig } from 'vitest/config';

/**
 * Two projects: `unit` (core, adapters, CLI: fast, no control plane; also run on Node 24 by hack/test-node24.sh)
 * and `integration` (a real etcd + kube-apiserver + controllers per test file, see bed/).
 */
export default defineConfig({
  test: {
    reporters: ['default'],
    // Each integration file starts its own control plane; on 2 cores two at a time is the sweet spot.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: [
            'test/core/**/*.test.ts',
            'test/adapters/**/*.test.ts',
            'test/cli/**/*.test.ts',
            'test/operator/**/*.test.ts',
            'test/*.test.ts',
          ],
          testTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          pool: 'forks',
          // The longest end-to-end tests (an executed Atlas shutdown under the operator, crash and resume) take 60-80 s
          // here beside another bed: 240 s keeps them bounded without flaking on a slower machine.
          testTimeout: 240_000,
          // A bed plus a converged scenario can take minutes while two other beds run beside it.
          hookTimeout: 300_000,
        },
      },
    ],
  },
});

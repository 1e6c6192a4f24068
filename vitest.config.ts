import { defineConfig } from 'vitest/config'

// Two projects: unit tests need nothing; integration tests get a real control plane
// (etcd, kube-apiserver, kube-controller-manager, kwok) started once by globalSetup.
export default defineConfig({
  test: {
    passWithNoTests: false,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // The plane is shared; files mutate the same namespaces, so run them one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
})

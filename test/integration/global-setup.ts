import type { TestProject } from 'vitest/node'
import type {} from 'vitest'
import { startControlPlane } from '../k8s/harness.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin kubeconfig of the shared control plane (in a temp dir, never in the repo). */
    kubeconfig: string
    /** `https://127.0.0.1:<port>` */
    server: string
    /** Name of the kwok-managed node pods must be pinned to. */
    nodeName: string
    /** The plane's temp dir; tests may write scratch kubeconfigs there (removed at teardown). */
    runDir: string
  }
}

// One real control plane for the whole integration project. If it cannot start, this
// throws and the run fails with the component's log tail: integration tests never skip.
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const plane = await startControlPlane({ onProgress: (line) => process.stderr.write(line + '\n') })
  project.provide('kubeconfig', plane.kubeconfigPath)
  project.provide('server', plane.server)
  project.provide('nodeName', plane.nodeName)
  project.provide('runDir', plane.runDir)
  return () => plane.stop()
}

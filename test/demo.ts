/**
 * `npm run demo`: the whole gmail-reauth lifecycle on this machine, no cluster or Google
 * account needed. Starts a real control plane (etcd, kube-apiserver, controller-manager,
 * kwok; built from the Go module proxy on first use) and the Google stand-in, runs the
 * workflow with the built-in consent (the stand-in approves; this script plays the
 * browser), then a second time (everything already done), then --status. Stops all it started.
 */
import { startControlPlane } from './k8s/harness.ts'
import { applyFixtures } from './k8s/fixtures.ts'
import { startGmailEnv } from './e2e/gmail-env.ts'

const banner = (s: string) => process.stdout.write(`\n\x1b[1m=== ${s}\x1b[0m\n`)
const print = (chunk: string) => process.stdout.write(chunk)

banner('starting a local Kubernetes control plane (first run builds it: ~6 min)')
const plane = await startControlPlane({ onProgress: (line: string) => process.stdout.write(`  ${line}\n`) })
let env: Awaited<ReturnType<typeof startGmailEnv>> | undefined
let code = 1
try {
  await applyFixtures(plane.kubeconfigPath)
  env = await startGmailEnv({ kubeconfig: plane.kubeconfigPath })
  process.stdout.write(`  kubeconfig ${plane.kubeconfigPath}\n  Google stand-in ${env.standIn.url}\n  token file ${env.tokenFile}\n`)

  banner('1. dry run: what would change (nothing is written)')
  await env.run([...env.sets(), '--dry-run'], { onOutput: print })

  banner('2. the real run: consent (the demo plays the browser), verify, sync, restart, verify')
  const first = await env.run([...env.sets(), '--yes', '--interactive'], { browser: 'loopback', onOutput: print })
  if (first.code !== 0) throw new Error(`the workflow failed (exit ${first.code})`)

  banner('3. run again right away: every step sees it is already done')
  await env.run([...env.sets(), '--yes'], { onOutput: print })

  banner('4. --status: where do we stand')
  const status = await env.run([...env.sets(), '--status'], { onOutput: print })
  code = status.code ?? 1
} catch (e) {
  process.stderr.write(`demo failed: ${(e as Error).message}\n`)
} finally {
  await env?.close()
  await plane.stop()
}
process.exit(code)

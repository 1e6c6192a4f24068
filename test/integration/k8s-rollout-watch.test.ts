// waitForRollout notices completion through a watch (as kubectl rollout status does), not at
// the next poll; a Role without `watch` (one deployed before deploy/rbac.yaml granted it) still
// works, by polling. Both through the recording proxy, so the test sees which requests were made.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '../../lib/k8s/client.ts'
import { restartDeployment, waitForRollout } from '../../lib/k8s/rollout.ts'
import { applyFixtures, FIXTURE } from '../k8s/fixtures.ts'
import { serviceAccountKubeconfig } from '../k8s/service-account.ts'
import { startApiProxy, type ApiProxy } from '../e2e/api-proxy.ts'

const kubeconfig = inject('kubeconfig')
const ref = { namespace: FIXTURE.namespace, name: FIXTURE.deployment }
const isWatch = (path: string) => path.includes('watch=true') && path.includes(`fieldSelector=metadata.name%3D${FIXTURE.deployment}`)
const proxies: ApiProxy[] = []
let dir: string

beforeAll(async () => {
  await applyFixtures(kubeconfig)
  dir = mkdtempSync(join(tmpdir(), 'credflow-watch-'))
})
afterAll(async () => {
  for (const p of proxies) await p.close()
  rmSync(dir, { recursive: true, force: true })
  await applyFixtures(kubeconfig)
})

async function through(kc: string, requestTimeoutMs?: number) {
  const proxy = await startApiProxy(kc, { dir, name: `watch-${proxies.length}` })
  proxies.push(proxy)
  return { proxy, kube: await connect({ kubeconfig: proxy.kubeconfig, requestTimeoutMs }) }
}

describe('waitForRollout', () => {
  it('returns as the watch reports the rollout complete, with no poll in between', async () => {
    const { proxy, kube } = await through(kubeconfig)
    const r = await restartDeployment(kube, ref)
    const from = proxy.requests.length
    // A poll every minute could not finish within this test's 30 s: only the watch can.
    const done = await waitForRollout(kube, ref, { minGeneration: r.generation, intervalMs: 60_000, timeoutMs: 60_000 })
    expect(done.done).toBe(true)
    const asked = proxy.requests.slice(from)
    expect(asked.filter((q) => isWatch(q.path)).length).toBeGreaterThanOrEqual(1)
    expect(asked.filter((q) => q.method === 'GET' && q.path.endsWith(`/deployments/${FIXTURE.deployment}`))).toHaveLength(1)
  }, 30_000)

  it('polls where the Role grants get and patch but not watch', async () => {
    const sa = await serviceAccountKubeconfig(kubeconfig, {
      namespace: FIXTURE.namespace,
      name: 'no-watch',
      rules: [{ apiGroups: ['apps'], resources: ['deployments'], resourceNames: [FIXTURE.deployment], verbs: ['get', 'patch'] }],
    })
    const { proxy, kube } = await through(sa)
    const r = await restartDeployment(kube, ref)
    const from = proxy.requests.length
    const done = await waitForRollout(kube, ref, { minGeneration: r.generation, intervalMs: 100, timeoutMs: 60_000 })
    expect(done.done).toBe(true)
    const asked = proxy.requests.slice(from)
    // One refused watch, then polls: not a watch per poll.
    expect(asked.filter((q) => isWatch(q.path))).toHaveLength(1)
    expect(asked.filter((q) => q.method === 'GET' && q.path.endsWith(`/deployments/${FIXTURE.deployment}`)).length).toBeGreaterThanOrEqual(2)
  }, 60_000)

  it('gives up a watch the apiserver never answers after the request timeout, and reads again', async () => {
    const { proxy, kube } = await through(kubeconfig, 1_000)
    const release = proxy.wedge((q) => isWatch(q.path))
    try {
      const r = await restartDeployment(kube, ref)
      const from = proxy.requests.length
      // Unbounded, the first wedged watch would hold the wait until its own timeout (and fail).
      const done = await waitForRollout(kube, ref, { minGeneration: r.generation, intervalMs: 100, timeoutMs: 45_000 })
      expect(done.done).toBe(true)
      const asked = proxy.requests.slice(from)
      expect(asked.filter((q) => isWatch(q.path)).length).toBeGreaterThanOrEqual(1)
      expect(asked.filter((q) => q.method === 'GET' && q.path.endsWith(`/deployments/${FIXTURE.deployment}`)).length).toBeGreaterThanOrEqual(2)
    } finally {
      release()
    }
  }, 60_000)
})

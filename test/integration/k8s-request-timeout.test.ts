// Every request a connection makes is bounded by its request timeout (kubectl's
// --request-timeout), the API groups beyond the core ones too: an apiserver that accepts a
// request and never answers fails it with "no answer within", not a wait without end.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type Kube } from '../../lib/k8s/client.ts'
import { readCredentialExpiry } from '../../lib/k8s/credential-expiry.ts'
import { measureServerClock } from '../../lib/k8s/server-clock.ts'
import { readDeployment } from '../../lib/k8s/rollout.ts'
import { FIXTURE } from '../k8s/fixtures.ts'
import { startApiProxy, type ApiProxy } from '../e2e/api-proxy.ts'

const kubeconfig = inject('kubeconfig')
let dir: string
let proxy: ApiProxy
let kube: Kube
let unwedge: () => void

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'credflow-timeout-'))
  proxy = await startApiProxy(kubeconfig, { dir, name: 'timeout' })
  kube = await connect({ kubeconfig: proxy.kubeconfig, requestTimeoutMs: 1_000 })
  unwedge = proxy.wedge(() => true) // after the connect's probe: every later request hangs
})
afterAll(async () => {
  unwedge?.()
  await proxy?.close()
  rmSync(dir, { recursive: true, force: true })
})

const ref = { namespace: FIXTURE.namespace, name: FIXTURE.secret }
const NO_ANSWER = /no answer from .* within 1s .*\(request timeout\)/

describe('a wedged apiserver, request timeout 1s', () => {
  it('fails a core read (apps/v1) with the request timeout', async () => {
    await expect(readDeployment(kube, { namespace: FIXTURE.namespace, name: FIXTURE.deployment })).rejects.toThrow(NO_ANSWER)
  }, 30_000)

  it('fails a custom object read (CustomObjectsApi) with the request timeout', async () => {
    await expect(readCredentialExpiry(kube, ref)).rejects.toThrow(NO_ANSWER)
  }, 30_000)

  it('fails the apiserver clock measurement (GET /version) instead of waiting for it', async () => {
    const e = await measureServerClock(kube).then(() => undefined, (x: unknown) => x)
    expect((e as { code?: string } | undefined)?.code).toBe('REQUEST_TIMEOUT')
  }, 30_000)
})

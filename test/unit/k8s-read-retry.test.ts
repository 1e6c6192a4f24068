// Reads against the API server go through the one retry policy (lib/retry.ts): a 503 or 429 is
// tried again, a refusal is not. The server is a fake at the HTTP boundary (the real control
// plane cannot be made to answer 503 on demand); the client is the real @kubernetes/client-node.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { stringify } from 'yaml'
import { connect } from '../../lib/k8s/client.ts'
import { readSecret } from '../../lib/k8s/secrets.ts'

let server: Server
let dir: string
let kubeconfig: string
/** The answers still to give, by request path; the last one repeats. */
let script: Array<[number, object]> = []
let requests = 0

const status = (code: number, reason: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message: `fake ${reason}` })
const secret = { kind: 'Secret', apiVersion: 'v1', metadata: { name: 's', namespace: 'ns', uid: 'u1', resourceVersion: '7' }, type: 'Opaque', data: { k: Buffer.from('v').toString('base64') } }

beforeAll(async () => {
  server = createServer((_req, res) => {
    requests++
    const [code, body] = script.length > 1 ? script.shift()! : script[0]
    res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  dir = mkdtempSync(join(tmpdir(), 'credflow-retry-'))
  kubeconfig = join(dir, 'config')
  writeFileSync(kubeconfig, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u' } }],
    'current-context': 'fake',
  }))
})
afterAll(async () => {
  await new Promise((r) => server.close(r))
  rmSync(dir, { recursive: true, force: true })
})

async function read(answers: Array<[number, object]>) {
  script = answers
  requests = 0
  const kube = await connect({ kubeconfig }, { probe: false })
  return readSecret(kube, { namespace: 'ns', name: 's' }).then((v) => ({ value: v, error: undefined }), (e: Error) => ({ value: undefined, error: e }))
}

describe('reads retry what a later attempt can cure', () => {
  it('a 503 then the Secret: the read succeeds on the second request', async () => {
    const r = await read([[503, status(503, 'ServiceUnavailable')], [200, secret]])
    expect(r.error).toBeUndefined()
    expect(r.value?.uid).toBe('u1')
    expect(requests).toBe(2)
  })
  it('persistent 429: three requests, then the error names the reason and the object', async () => {
    const r = await read([[429, status(429, 'TooManyRequests')]])
    expect(requests).toBe(3)
    expect(r.error?.message).toMatch(/TooManyRequests: cannot get secrets "s" in namespace "ns"/)
  })
  it('a Forbidden is not retried', async () => {
    const r = await read([[403, status(403, 'Forbidden')]])
    expect(requests).toBe(1)
    expect(r.error?.message).toMatch(/^Forbidden: cannot get secrets "s"/)
  })
  it('a NotFound is an answer (the Secret is absent), not retried', async () => {
    const r = await read([[404, status(404, 'NotFound')]])
    expect(r).toEqual({ value: undefined, error: undefined })
    expect(requests).toBe(1)
  })
})

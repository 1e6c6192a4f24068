import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { connect } from '../../lib/k8s/client.ts'
import { OpsError } from '../../lib/errors.ts'

let dir: string
let kubeconfig: string
// Port 1 on loopback: nothing listens, the connection is refused at once.
const DEAD_SERVER = 'https://127.0.0.1:1'

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'credflow-kc-'))
  kubeconfig = join(dir, 'config')
  writeFileSync(kubeconfig, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'dead', cluster: { server: DEAD_SERVER, 'insecure-skip-tls-verify': true } },
      { name: 'other', cluster: { server: 'https://127.0.0.1:2', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: 'not-a-real-token' } }],
    contexts: [{ name: 'dead-ctx', context: { cluster: 'dead', user: 'u' } }, { name: 'other-ctx', context: { cluster: 'other', user: 'u' } }],
    'current-context': 'dead-ctx',
  }))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function failure(p: Promise<unknown>): Promise<OpsError> {
  const e = await p.then(() => undefined, (x) => x)
  expect(e).toBeInstanceOf(OpsError)
  return e as OpsError
}

describe('connect: choosing the context', () => {
  it('uses the current-context without probing when asked not to', async () => {
    const kube = await connect({ kubeconfig }, { probe: false })
    expect(kube).toMatchObject({ context: 'dead-ctx', server: DEAD_SERVER })
  })
  it('switches to an explicit context', async () => {
    const kube = await connect({ kubeconfig, context: 'other-ctx' }, { probe: false })
    expect(kube.server).toBe('https://127.0.0.1:2')
  })
  it('reads $KUBECONFIG when no path is given', async () => {
    const saved = process.env.KUBECONFIG
    process.env.KUBECONFIG = kubeconfig
    try {
      expect((await connect({}, { probe: false })).context).toBe('dead-ctx')
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG
      else process.env.KUBECONFIG = saved
    }
  })
  it('names a missing context, lists the known ones, hints get-contexts', async () => {
    const e = await failure(connect({ kubeconfig, context: 'prod' }, { probe: false }))
    expect(e.reason).toBe('ContextNotFound')
    expect(e.message).toBe(`context "prod" not found in ${kubeconfig} (known: dead-ctx, other-ctx)`)
    expect(e.hint).toBe('kubectl config get-contexts; then --set context=<name>')
  })
  it('reports an unreadable kubeconfig', async () => {
    const e = await failure(connect({ kubeconfig: join(dir, 'missing') }, { probe: false }))
    expect(e.reason).toBe('KubeconfigInvalid')
    // The hint names flags that exist: kubeconfig is a workflow param (--set), not a CLI flag.
    expect(e.hint).toContain('--set kubeconfig=<path>')
    expect(e.hint).not.toMatch(/--kubeconfig\b/)
  })
})

describe('connect: probing the server', () => {
  it('names the unreachable server and its context, retryable', async () => {
    const e = await failure(connect({ kubeconfig }))
    expect(e.reason).toBe('Unreachable')
    expect(e.message).toContain(`cannot reach ${DEAD_SERVER} (context "dead-ctx")`)
    expect(e.message).toContain('ECONNREFUSED')
    expect(e.hint).toContain('kubectl config get-contexts')
    expect(e.retryable).toBe(true)
  })
})

describe('a kubeconfig that does not parse', () => {
  it('names the file and the YAML problem without quoting its lines (they may hold client-key-data)', async () => {
    const key = 'LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDQktjd2dnU2pBZ0VBQW9JQkFRQzdWSlRVdDlVczhjS2oK'
    const file = join(mkdtempSync(join(tmpdir(), 'credflow-kc-')), 'config')
    writeFileSync(file, `apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    client-key-data: ${key}\n   bad: [indent\n`)
    const err = await connect({ kubeconfig: file }).then(() => undefined, (e: Error & { reason?: string }) => e)
    expect(err?.message).toMatch(new RegExp(`^cannot load ${file}: bad indentation`))
    expect(err?.message).not.toContain(key.slice(10, 40))
    expect(err?.reason).toBe('KubeconfigInvalid')
  })
})

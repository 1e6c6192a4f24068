import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { connect, type Kube } from '../../lib/k8s/client.ts'
import { createSecret, deleteSecret, readSecret, patchSecretMetadata, type SecretSnapshot } from '../../lib/k8s/secrets.ts'
import { replaceSecret, restoreSecret, REFRESHED_AT_ANNOTATION, CONTENT_SHA256_ANNOTATION } from '../../lib/k8s/secret-replace.ts'
import { SecretValue, sha256Hex } from '../../lib/secret-value.ts'
import { OpsError } from '../../lib/errors.ts'
import { applyFixtures, adminKubeConfig } from '../k8s/fixtures.ts'

const kubeconfig = inject('kubeconfig')
const ns = 'k8s-secrets'
const OLD = new SecretValue('{"token":"ya29.old-access-token"}')
const NEW = new SecretValue('{"token":"ya29.new-access-token"}')
let kube: Kube
let n = 0
const uniqueName = () => `s${Date.now().toString(36)}-${n++}`

async function failure(p: Promise<unknown>): Promise<OpsError> {
  const e = await p.then(() => undefined, (x) => x)
  expect(e).toBeInstanceOf(OpsError)
  return e as OpsError
}

/**
 * A Secret with the key we refresh and one we must keep. `aged` waits out a second so a
 * recreated Secret's creationTimestamp (1 s resolution) is measurably later.
 */
async function seed(opts: { aged?: boolean } = {}): Promise<SecretSnapshot> {
  const s = await createSecret(kube, {
    namespace: ns, name: uniqueName(), type: 'Opaque',
    labels: { app: 'basketball-api' },
    annotations: { team: 'hoops', 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"token.json":"b2xk"}}' },
    data: { 'token.json': OLD, 'other.json': new SecretValue('keep me') },
  })
  if (opts.aged) await sleep(1100)
  return s
}

beforeAll(async () => {
  await applyFixtures(kubeconfig)
  kube = await connect({ kubeconfig })
  const k8s = await import('@kubernetes/client-node')
  await (await adminKubeConfig(kubeconfig)).makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: ns } } })
})
afterAll(async () => {
  const k8s = await import('@kubernetes/client-node')
  await (await adminKubeConfig(kubeconfig)).makeApiClient(k8s.CoreV1Api).deleteNamespace({ name: ns })
})

describe('replaceSecret: changed content', () => {
  it('recreates the Secret: new uid and creationTimestamp, other keys/labels/annotations kept, hash annotated', async () => {
    const before = await seed({ aged: true })
    const now = new Date()
    const out = await replaceSecret(kube, { namespace: ns, name: before.name, key: 'token.json', value: NEW, now: () => now })
    expect(out.action).toBe('replaced')
    expect(out.previous?.uid).toBe(before.uid)
    expect(out.previous?.data['token.json']?.equals(OLD)).toBe(true)

    const live = (await readSecret(kube, before))!
    expect(live.uid).not.toBe(before.uid)
    expect(live.creationTimestamp.getTime()).toBeGreaterThan(before.creationTimestamp.getTime())
    expect(live.data['token.json']?.equals(NEW)).toBe(true)
    expect(live.data['other.json']?.revealString()).toBe('keep me')
    expect(live.labels).toEqual({ app: 'basketball-api' })
    expect(live.annotations).toEqual({
      team: 'hoops',
      [REFRESHED_AT_ANNOTATION]: now.toISOString(),
      [CONTENT_SHA256_ANNOTATION]: sha256Hex(NEW.reveal()),
    })
    // last-applied-configuration held the old data: it must not survive.
    expect(JSON.stringify(live.annotations)).not.toContain('b2xk')
  })

  it('creates the Secret when it does not exist yet', async () => {
    const name = uniqueName()
    const out = await replaceSecret(kube, { namespace: ns, name, key: 'token.json', value: NEW })
    expect(out).toMatchObject({ action: 'created', previous: undefined })
    expect((await readSecret(kube, { namespace: ns, name }))?.data['token.json']?.equals(NEW)).toBe(true)
  })
})

describe('replaceSecret: equal content', () => {
  it('is a no-op: same uid and resourceVersion', async () => {
    const before = await seed()
    const out = await replaceSecret(kube, { namespace: ns, name: before.name, key: 'token.json', value: new SecretValue(OLD.reveal()) })
    expect(out.action).toBe('unchanged')
    const live = (await readSecret(kube, before))!
    expect([live.uid, live.resourceVersion]).toEqual([before.uid, before.resourceVersion])
  })
})

describe('replaceSecret: someone else writes in between', () => {
  it('fails the delete precondition with a retryable Conflict and leaves their change in place', async () => {
    const before = await seed()
    const e = await failure(replaceSecret(kube, {
      namespace: ns, name: before.name, key: 'token.json', value: NEW,
      beforeDelete: async () => { await patchSecretMetadata(kube, before, { labels: { touched: 'by-someone-else' } }) },
    }))
    expect(e.reason).toBe('Conflict')
    expect(e.retryable).toBe(true)
    expect(e.message).toContain(`cannot delete secrets "${before.name}" in namespace "${ns}"`)
    const live = (await readSecret(kube, before))!
    expect(live.uid).toBe(before.uid)
    expect(live.labels.touched).toBe('by-someone-else')
    expect(live.data['token.json']?.equals(OLD)).toBe(true)
  })
})

describe('replaceSecret: dry run', () => {
  it('asks the server (dryRun=All) and changes nothing', async () => {
    const before = await seed()
    const out = await replaceSecret(kube, { namespace: ns, name: before.name, key: 'token.json', value: NEW, dryRun: true })
    expect(out).toMatchObject({ action: 'replaced', dryRun: true })
    expect(out.current.annotations[CONTENT_SHA256_ANNOTATION]).toBe(sha256Hex(NEW.reveal()))
    const live = (await readSecret(kube, before))!
    expect([live.uid, live.resourceVersion]).toEqual([before.uid, before.resourceVersion])
    expect(live.data['token.json']?.equals(OLD)).toBe(true)
  })

  it('creates nothing for a missing Secret', async () => {
    const name = uniqueName()
    const out = await replaceSecret(kube, { namespace: ns, name, key: 'k', value: NEW, dryRun: true })
    expect(out.action).toBe('created')
    expect(await readSecret(kube, { namespace: ns, name })).toBeUndefined()
  })
})

describe('replaceSecret: unexpected type', () => {
  it('refuses a kubernetes.io/tls Secret and leaves it alone', async () => {
    const tls = await createSecret(kube, {
      namespace: ns, name: uniqueName(), type: 'kubernetes.io/tls',
      data: { 'tls.crt': new SecretValue('c'), 'tls.key': new SecretValue('k') },
    })
    const e = await failure(replaceSecret(kube, { namespace: ns, name: tls.name, key: 'tls.key', value: NEW }))
    expect(e.reason).toBe('UnexpectedSecretType')
    expect(e.message).toContain('type is kubernetes.io/tls, expected Opaque')
    expect((await readSecret(kube, tls))?.resourceVersion).toBe(tls.resourceVersion)
  })
})

describe('deleteSecret', () => {
  it('treats NotFound as done', async () => {
    expect(await deleteSecret(kube, { namespace: ns, name: 'never-existed' })).toBe('absent')
  })
  it('honours a resourceVersion precondition', async () => {
    const s = await createSecret(kube, { namespace: ns, name: uniqueName(), data: {} })
    await patchSecretMetadata(kube, s, { annotations: { bump: '1' } })
    const e = await failure(deleteSecret(kube, s, { preconditions: { resourceVersion: s.resourceVersion } }))
    expect(e.reason).toBe('Conflict')
    expect(await readSecret(kube, s)).toBeDefined()
  })
  it('dry run leaves the Secret in place, with or without preconditions', async () => {
    const s = await createSecret(kube, { namespace: ns, name: uniqueName(), data: {} })
    expect(await deleteSecret(kube, s, { dryRun: true })).toBe('deleted')
    const preconditions = { uid: s.uid, resourceVersion: s.resourceVersion }
    expect(await deleteSecret(kube, s, { dryRun: true, preconditions })).toBe('deleted')
    expect((await readSecret(kube, s))?.resourceVersion).toBe(s.resourceVersion)
  })
  it('dry-run create and patch store nothing', async () => {
    const name = uniqueName()
    await createSecret(kube, { namespace: ns, name, data: { k: NEW } }, { dryRun: true })
    expect(await readSecret(kube, { namespace: ns, name })).toBeUndefined()
    const s = await createSecret(kube, { namespace: ns, name, data: {} })
    const patched = await patchSecretMetadata(kube, s, { labels: { x: 'y' } }, { dryRun: true })
    expect(patched.labels.x).toBe('y')
    expect((await readSecret(kube, s))?.resourceVersion).toBe(s.resourceVersion)
  })
})

describe('restoreSecret', () => {
  it('puts a deleted Secret back from its snapshot, and is a no-op when it is already there', async () => {
    const s = await seed()
    await deleteSecret(kube, s)
    const restored = await restoreSecret(kube, s)
    expect(restored.uid).not.toBe(s.uid)
    expect(restored.data['token.json']?.equals(OLD)).toBe(true)
    expect(restored.annotations.team).toBe('hoops')
    expect((await restoreSecret(kube, s)).uid).toBe(restored.uid)
  })
  it('refuses to overwrite a Secret that now holds other data', async () => {
    const s = await seed()
    await replaceSecret(kube, { namespace: ns, name: s.name, key: 'token.json', value: NEW })
    const e = await failure(restoreSecret(kube, s))
    expect(e.reason).toBe('AlreadyExists')
  })
})

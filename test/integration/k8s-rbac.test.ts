// lib/k8s through the tool's own least-privilege identity, the ServiceAccount and Role we
// deploy (deploy/rbac.yaml, applied by the fixtures): the production path works, everything
// else is refused with an error that names verb, resource and namespace/name and carries no
// Secret data.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { inspect } from 'node:util'
import { connect, type Kube } from '../../lib/k8s/client.ts'
import { createSecret, deleteSecret, patchSecretMetadata, readSecret } from '../../lib/k8s/secrets.ts'
import { replaceSecret } from '../../lib/k8s/secret-replace.ts'
import { restartDeployment, waitForRollout } from '../../lib/k8s/rollout.ts'
import { listDeploymentPods } from '../../lib/k8s/pods.ts'
import { SecretValue } from '../../lib/secret-value.ts'
import { OpsError } from '../../lib/errors.ts'
import { resetFixtures, FIXTURE } from '../k8s/fixtures.ts'
import { serviceAccountKubeconfig } from '../k8s/service-account.ts'

const kubeconfig = inject('kubeconfig')
const ns = FIXTURE.namespace
const USER = `system:serviceaccount:${ns}:${FIXTURE.serviceAccount}`
const TOKEN = 'ya29.A0ARrdaM9xQzWvLkJtYb3HnUe7pGfS1cD4'
const FRESH = new SecretValue(JSON.stringify({ token: TOKEN, refresh_token: '1//0gTopSecretRefresh42' }))
let tool: Kube
let admin: Kube

async function failure(p: Promise<unknown>): Promise<OpsError> {
  const e = await p.then(() => undefined, (x) => x)
  expect(e).toBeInstanceOf(OpsError)
  return e as OpsError
}

function expectNoSecretMaterial(e: OpsError) {
  const b64 = FRESH.reveal().toString('base64')
  for (const text of [e.message, e.hint ?? '', inspect(e, { depth: 10 }), JSON.stringify(e), String(e.stack)]) {
    expect(text).not.toContain(TOKEN)
    expect(text).not.toContain('TopSecretRefresh')
    expect(text).not.toContain(b64.slice(0, 16))
  }
}

beforeAll(async () => {
  await resetFixtures(kubeconfig)
  admin = await connect({ kubeconfig })
  tool = await connect({ kubeconfig: await serviceAccountKubeconfig(kubeconfig, { namespace: ns, name: FIXTURE.serviceAccount }) })
})
afterAll(async () => {
  await resetFixtures(kubeconfig)
})

describe('the Role is enough for the refresh path', () => {
  it('replaces the token Secret, deletes the stale one, restarts and waits for the API Deployment', async () => {
    const out = await replaceSecret(tool, { namespace: ns, name: FIXTURE.secret, key: FIXTURE.key, value: FRESH })
    expect(out.action).toBe('replaced')
    expect(await deleteSecret(tool, { namespace: ns, name: FIXTURE.staleSecret })).toBe('deleted')
    const restart = await restartDeployment(tool, { namespace: ns, name: FIXTURE.deployment })
    const done = await waitForRollout(tool, { namespace: ns, name: FIXTURE.deployment }, { minGeneration: restart.generation, intervalMs: 100, timeoutMs: 60_000 })
    expect(done.done).toBe(true)
    expect((await readSecret(admin, { namespace: ns, name: FIXTURE.secret }))?.data[FIXTURE.key]?.equals(FRESH)).toBe(true)
  })

  it("lists the Deployment's current pods for verification (list replicasets and pods)", async () => {
    const { replicaSet, pods } = await listDeploymentPods(tool, { namespace: ns, name: FIXTURE.deployment })
    expect(replicaSet).toBeTruthy()
    expect(pods.length).toBeGreaterThan(0)
  })
})

describe('outside the Role: Forbidden, named like kubectl', () => {
  it('delete of a Secret the Role does not name', async () => {
    await createSecret(admin, { namespace: ns, name: 'unrelated', data: { k: new SecretValue('v') } })
    const e = await failure(deleteSecret(tool, { namespace: ns, name: 'unrelated' }))
    expect(e.message).toBe(`Forbidden: cannot delete secrets "unrelated" in namespace "${ns}" (RBAC: ${USER})`)
    expect(e.reason).toBe('Forbidden')
    expect(e.retryable).toBe(false)
    expect(e.hint).toBe(`grant it in the Role, then check with: kubectl auth can-i delete secrets/unrelated -n ${ns} --as=${USER}`)
    expect(await readSecret(admin, { namespace: ns, name: 'unrelated' })).toBeDefined()
    await deleteSecret(admin, { namespace: ns, name: 'unrelated' })
  })

  it('restart of the Deployment the tool must not touch', async () => {
    const e = await failure(restartDeployment(tool, { namespace: ns, name: FIXTURE.worker }))
    expect(e.message).toBe(`Forbidden: cannot get deployments "${FIXTURE.worker}" in namespace "${ns}" (RBAC: ${USER})`)
  })

  it('anything in pal-e-mail (the PVC namespace)', async () => {
    const e = await failure(readSecret(tool, { namespace: FIXTURE.mailNamespace, name: 'gmail-oauth' }))
    expect(e.message).toBe(`Forbidden: cannot get secrets "gmail-oauth" in namespace "${FIXTURE.mailNamespace}" (RBAC: ${USER})`)
  })

  it('patch of the token Secret (the deployed Role recreates it, or PUTs a newer access token: never patch)', async () => {
    const e = await failure(patchSecretMetadata(tool, { namespace: ns, name: FIXTURE.secret }, { annotations: { x: 'y' } }))
    expect(e.message).toBe(`Forbidden: cannot patch secrets "${FIXTURE.secret}" in namespace "${ns}" (RBAC: ${USER})`)
  })
})

describe('a refused write that carried token material', () => {
  it('reports Forbidden (also in a dry run) without echoing any of it', async () => {
    const noCreate = await connect({
      kubeconfig: await serviceAccountKubeconfig(kubeconfig, {
        namespace: ns, name: 'no-create',
        rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [FIXTURE.secret], verbs: ['get', 'delete'] }],
      }),
    })
    const direct = await failure(createSecret(noCreate, { namespace: ns, name: FIXTURE.secret + '-2', data: { [FIXTURE.key]: FRESH } }))
    expect(direct.message).toContain(`Forbidden: cannot create secrets "${FIXTURE.secret}-2" in namespace "${ns}" (RBAC: system:serviceaccount:${ns}:no-create)`)
    expectNoSecretMaterial(direct)

    // The plan catches what apply would hit: the create half of the replace is refused.
    const before = await readSecret(admin, { namespace: ns, name: FIXTURE.secret })
    const planned = await failure(replaceSecret(noCreate, { namespace: ns, name: FIXTURE.secret, key: FIXTURE.key, value: new SecretValue('other'), dryRun: true }))
    expect(planned.message).toContain(`Forbidden: cannot create secrets "${FIXTURE.secret}" in namespace "${ns}"`)
    expect(planned.message).toContain('(server dry-run)')
    expectNoSecretMaterial(planned)
    expect((await readSecret(admin, { namespace: ns, name: FIXTURE.secret }))?.resourceVersion).toBe(before?.resourceVersion)
  })
})

// gmail-reauth as it runs in production: the real CLI with a kubeconfig holding nothing but a
// TokenRequest token of ServiceAccount basketball-api/credflow-gmail-reauth, bound by
// deploy/rbac.yaml and fenced by deploy/secret-create-policy.yaml. The whole workflow works
// with exactly those rights (dry run and real run), and the same credentials are refused
// everything around it.
import * as k8s from '@kubernetes/client-node'
import { readFileSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { FIXTURE, FIXTURE_TOKEN_JSON, resetFixtures } from '../k8s/fixtures.ts'
import { startGmailEnv, type GmailEnv } from '../e2e/gmail-env.ts'
import { clusterView, RESTARTED_AT, type ClusterView } from '../e2e/cluster.ts'
import {
  applyManifestFiles, deleteManifestFiles, DEPLOY_MANIFESTS, refusal, saKubeconfig, SECRET_CREATE_POLICY, waitForSecretCreatePolicy, WORKFLOW_SA,
} from '../ops/cluster.ts'

const admin = inject('kubeconfig')
const ns = FIXTURE.namespace
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration'
const SA_USER = `system:serviceaccount:${WORKFLOW_SA.namespace}:${WORKFLOW_SA.name}`

let saPath: string
let env: GmailEnv
let view: ClusterView
let sa: { core: k8s.CoreV1Api; apps: k8s.AppsV1Api; authn: k8s.AuthenticationV1Api }

beforeAll(async () => {
  await resetFixtures(admin)
  await applyManifestFiles(admin, DEPLOY_MANIFESTS)
  saPath = await saKubeconfig(admin, WORKFLOW_SA.namespace, WORKFLOW_SA.name)
  await waitForSecretCreatePolicy(saPath)
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(saPath)
  sa = { core: kc.makeApiClient(k8s.CoreV1Api), apps: kc.makeApiClient(k8s.AppsV1Api), authn: kc.makeApiClient(k8s.AuthenticationV1Api) }
  view = await clusterView(admin)
  // Every cluster call of the CLI goes through the SA kubeconfig: --set kubeconfig and $KUBECONFIG.
  env = await startGmailEnv({ kubeconfig: saPath })
})

afterAll(async () => {
  await env?.close()
  await deleteManifestFiles(admin, [SECRET_CREATE_POLICY])
  await resetFixtures(admin)
})

describe('gmail-reauth with only the ServiceAccount token', () => {
  it('the kubeconfig authenticates as the ServiceAccount and nothing more', async () => {
    const review = await sa.authn.createSelfSubjectReview({ body: {} })
    expect(review.status!.userInfo!.username).toBe(SA_USER)
    expect(readFileSync(saPath, 'utf8')).not.toMatch(/client-certificate|client-key|admin/)
    expect(env.sets()).toContain(`kubeconfig=${saPath}`) // the CLI runs with --set kubeconfig=<this file>
  })

  it('a dry run passes RBAC and the admission policy (dryRun=All) and changes nothing', async () => {
    const token = await env.seedTokenFile()
    expect(token.equals(Buffer.from(FIXTURE_TOKEN_JSON))).toBe(false)
    const before = await view.snapshot()

    const r = await env.run([...env.sets(), '--dry-run'])

    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toContain(`would replace Secret ${ns}/${FIXTURE.secret}`)
    expect(r.stdout).toContain(`would delete Secret ${ns}/${FIXTURE.staleSecret}`)
    expect(r.stdout).toContain(`would restart Deployment ${ns}/${FIXTURE.deployment}`)
    expect(r.stdout + r.stderr).not.toMatch(/Forbidden|denied request/)
    expect(await view.snapshot()).toEqual(before)
  })

  it('a full run recreates the Secret with the file bytes, deletes the stale one, restarts and verifies', async () => {
    const token = readFileSync(env.tokenFile)
    const before = await view.snapshot()

    const r = await env.run([...env.sets(), '--yes'])

    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/VERDICT: basketball-api\/gmail-oauth-token is live with the refreshed token/)
    const [run] = env.runs()
    expect(run.status).toBe('succeeded')
    for (const node of ['update-secret', 'delete-stale', 'restart', 'verify-decode']) {
      expect(run.nodes[`${node}[${ns}]`]?.status, node).toBe('succeeded')
    }
    const s = (await view.secret())!
    expect(s.metadata!.uid).not.toBe(before.secret!.uid)
    expect((await view.secretBytes())!.equals(token)).toBe(true)
    expect(await view.secret(FIXTURE.staleSecret)).toBeUndefined()
    expect((await view.deployment()).spec!.template.metadata!.annotations![RESTARTED_AT]).toBeTruthy()
  })

  it('a newer access token of the same grant is synced in place: same uid and creationTimestamp (the age alert), no restart', async () => {
    // What gmail-mcp does on every refresh: same refresh_token, new access token and expiry.
    const doc = JSON.parse(readFileSync(env.tokenFile, 'utf8')) as Record<string, unknown>
    doc.token = 'ya29.refreshed-access-token-for-the-same-grant'
    doc.expiry = new Date(Date.now() + 3_600_000).toISOString().replace('Z', '')
    writeFileSync(env.tokenFile, JSON.stringify(doc), { mode: 0o600 })
    // Someone once ran kubectl apply on it: the annotation holds the applied object, old token included.
    const lastApplied = JSON.stringify({ apiVersion: 'v1', kind: 'Secret', data: { [FIXTURE.key]: (await view.secret())!.data![FIXTURE.key] } })
    await view.decorateSecret({ annotations: { [LAST_APPLIED]: lastApplied, 'example.com/owner': 'ops' } })
    const before = (await view.secret())!
    const restartedBefore = (await view.deployment()).spec!.template.metadata!.annotations![RESTARTED_AT]

    const r = await env.run([...env.sets(), '--yes'])

    expect(r.code, r.stdout + r.stderr).toBe(0)
    expect(r.stdout).toMatch(/updated Secret basketball-api\/gmail-oauth-token key gmail-westsidebasketball\.json in place/)
    const after = (await view.secret())!
    expect(after.metadata!.uid).toBe(before.metadata!.uid)
    expect(after.metadata!.creationTimestamp).toEqual(before.metadata!.creationTimestamp)
    expect(after.metadata!.annotations).not.toHaveProperty([LAST_APPLIED])
    expect(after.metadata!.annotations).toMatchObject({ 'example.com/owner': 'ops' })
    expect((await view.secretBytes())!.equals(readFileSync(env.tokenFile))).toBe(true)
    expect((await view.deployment()).spec!.template.metadata!.annotations![RESTARTED_AT]).toBe(restartedBefore)
    expect(r.stdout).toMatch(/\[restart\[basketball-api\]\] cached/)
  })
})

describe('the same ServiceAccount credentials are refused everything else', () => {
  it('listing all Secrets in basketball-api: 403 Forbidden', async () => {
    const r = await refusal(sa.core.listNamespacedSecret({ namespace: ns }))
    expect(r).toMatchObject({ code: 403, reason: 'Forbidden' })
    expect(r.message).toContain(`User "${SA_USER}" cannot list resource "secrets"`)
  })

  it('patching Deployment basketball-worker: 403 Forbidden, and the worker is untouched', async () => {
    const generation = (await view.deployment(FIXTURE.worker)).metadata!.generation
    const r = await refusal(
      sa.apps.patchNamespacedDeployment(
        { name: FIXTURE.worker, namespace: ns, body: { spec: { template: { metadata: { annotations: { [RESTARTED_AT]: new Date().toISOString() } } } } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
      ),
    )
    expect(r).toMatchObject({ code: 403, reason: 'Forbidden' })
    expect(r.message).toContain(`cannot patch resource "deployments" in API group "apps"`)
    expect((await view.deployment(FIXTURE.worker)).metadata!.generation).toBe(generation)
  })

  it('creating a Secret with another name: denied by the ValidatingAdmissionPolicy', async () => {
    const body: k8s.V1Secret = { metadata: { name: 'gmail-oauth-token-copy', namespace: ns }, type: 'Opaque', data: { t: 'eA==' } }
    const r = await refusal(sa.core.createNamespacedSecret({ namespace: ns, body }))
    expect(r.code).toBe(403)
    expect(r.message).toContain("ValidatingAdmissionPolicy 'credflow-gmail-reauth-secret-create'")
    expect(r.message).toContain(`may only create Secret ${ns}/${FIXTURE.secret}, not ${ns}/gmail-oauth-token-copy`)
    expect(await view.secret('gmail-oauth-token-copy')).toBeUndefined()
  })

  it('reading PVC pal-e-mail/gmail-oauth: 403 Forbidden', async () => {
    const r = await refusal(sa.core.readNamespacedPersistentVolumeClaim({ name: FIXTURE.pvc, namespace: FIXTURE.mailNamespace }))
    expect(r).toMatchObject({ code: 403, reason: 'Forbidden' })
    expect(r.message).toContain(`cannot get resource "persistentvolumeclaims" in API group "" in the namespace "${FIXTURE.mailNamespace}"`)
  })
})

// When the create half of a replace would be refused. replaceSecret asks the server first
// (dryRun=All delete and create), so a refusal it can see stops it before the delete; the
// restore path is for a create refused after the delete went through anyway (the policy or
// Role changed in between), played here by policies that admit dry runs (request.dryRun).
// Admission is real: ValidatingAdmissionPolicies (GA since 1.30) in labelled namespaces.
import { describe, it, expect, beforeAll, afterAll, inject } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { inspect } from 'node:util'
import { connect, type Kube } from '../../lib/k8s/client.ts'
import { createSecret, deleteSecret, readSecret, type SecretSnapshot } from '../../lib/k8s/secrets.ts'
import { replaceSecret, restoreSecret } from '../../lib/k8s/secret-replace.ts'
import { SecretValue } from '../../lib/secret-value.ts'
import { OpsError } from '../../lib/errors.ts'
import { adminKubeConfig } from '../k8s/fixtures.ts'

const kubeconfig = inject('kubeconfig')
const OLD = new SecretValue('{"token":"ya29.OldAccessToken0123456789"}')
const NEW = new SecretValue('{"token":"ya29.NewAccessToken9876543210"}')
// deny-refreshed: creates carrying our refresh annotation are refused, restores (old annotations) pass.
// late: the same, but dry runs are admitted: the refusal comes only after the delete.
// late-all: every real Secret create is refused (dry runs admitted), so a restore fails too.
const NAMESPACES = { refreshed: 'k8s-deny-refreshed', late: 'k8s-late-refreshed', all: 'k8s-late-all' } as const
const NO_REFRESH_ANNOTATION = "!has(object.metadata.annotations) || !('credflow.dev/refreshed-at' in object.metadata.annotations)"
let kube: Kube
let applied: Array<{ apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }> = []

function policy(name: keyof typeof NAMESPACES, expression: string, enforced: boolean) {
  const selector = { matchLabels: { 'credflow-test/deny': name } }
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACES[name], labels: enforced ? selector.matchLabels : {} } },
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: `credflow-test-deny-${name}` },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['secrets'] }], namespaceSelector: selector },
        validations: [{ expression, message: `test policy deny-${name}` }],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicyBinding', metadata: { name: `credflow-test-deny-${name}` },
      spec: { policyName: `credflow-test-deny-${name}`, validationActions: ['Deny'], matchResources: { namespaceSelector: selector } },
    },
  ]
}

async function failure(p: Promise<unknown>): Promise<OpsError> {
  const e = await p.then(() => undefined, (x) => x)
  expect(e).toBeInstanceOf(OpsError)
  return e as OpsError
}

/**
 * Policies take effect asynchronously; probe with a create until one is refused (a dry run,
 * or for the policies that admit dry runs a real one, removed again if it got through).
 */
async function untilEnforced(namespace: string, opts: { dryRun: boolean } = { dryRun: true }) {
  const probe = { namespace, name: 'probe', annotations: { 'credflow.dev/refreshed-at': 'x' }, data: {} }
  for (let i = 0; i < 100; i++) {
    const refused = await createSecret(kube, probe, opts).then(() => false, () => true)
    if (refused) return
    if (!opts.dryRun) await deleteSecret(kube, probe)
    await sleep(100)
  }
  throw new Error(`policy in ${namespace} never took effect`)
}

/** A Secret without annotations, which the deny-refreshed policy admits. */
async function seed(namespace: string): Promise<SecretSnapshot> {
  return createSecret(kube, { namespace, name: `tok-${Date.now().toString(36)}`, data: { 'token.json': OLD, keep: new SecretValue('k') } })
}

beforeAll(async () => {
  kube = await connect({ kubeconfig })
  const k8s = await import('@kubernetes/client-node')
  const objects = k8s.KubernetesObjectApi.makeApiClient(await adminKubeConfig(kubeconfig))
  applied = [
    ...policy('refreshed', NO_REFRESH_ANNOTATION, true),
    ...policy('late', `request.dryRun == true || ${NO_REFRESH_ANNOTATION}`, true),
    // late-all is switched on by labelling its namespace, after the test has seeded its Secret.
    ...policy('all', 'request.dryRun == true', false),
  ] as typeof applied
  for (const o of applied) await objects.patch(o as any, undefined, undefined, 'credflow-tests', true, k8s.PatchStrategy.ServerSideApply)
  await untilEnforced(NAMESPACES.refreshed)
  await untilEnforced(NAMESPACES.late, { dryRun: false })
})

async function labelDenyAll(on: boolean) {
  const k8s = await import('@kubernetes/client-node')
  const core = (await adminKubeConfig(kubeconfig)).makeApiClient(k8s.CoreV1Api)
  await core.patchNamespace({ name: NAMESPACES.all, body: { metadata: { labels: { 'credflow-test/deny': on ? 'all' : null } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch))
}

afterAll(async () => {
  const k8s = await import('@kubernetes/client-node')
  const objects = k8s.KubernetesObjectApi.makeApiClient(await adminKubeConfig(kubeconfig))
  for (const o of applied.reverse()) await objects.delete(o as any).catch(() => {})
})

describe('a plan (dry run) surfaces an admission refusal', () => {
  it('fails with the policy message and leaves the Secret untouched', async () => {
    const s = await seed(NAMESPACES.refreshed)
    const e = await failure(replaceSecret(kube, { namespace: s.namespace, name: s.name, key: 'token.json', value: NEW, dryRun: true }))
    expect(e.reason).toBe('Invalid') // ValidatingAdmissionPolicy denials are 422 Invalid
    expect(e.message).toContain(`create secrets "${s.name}" in namespace "${s.namespace}" denied by admission (server dry-run)`)
    expect(e.message).toContain('test policy deny-refreshed')
    expect((await readSecret(kube, s))?.uid).toBe(s.uid)
  })
})

describe('a real replace that admission would refuse', () => {
  it('stops before the delete (dry-run create first): same uid, resourceVersion and data', async () => {
    const s = await seed(NAMESPACES.refreshed)
    let backedUp = false
    const e = await failure(replaceSecret(kube, { namespace: s.namespace, name: s.name, key: 'token.json', value: NEW, beforeDelete: () => { backedUp = true } }))
    expect(e.reason).toBe('Invalid')
    expect(e.message).toContain(`create secrets "${s.name}" in namespace "${s.namespace}" denied by admission (server dry-run)`)
    expect(e.message).toContain('checked before the delete, so nothing was changed')
    expect(backedUp).toBe(false)
    const live = (await readSecret(kube, s))!
    expect({ uid: live.uid, resourceVersion: live.resourceVersion }).toEqual({ uid: s.uid, resourceVersion: s.resourceVersion })
    expect(live.data['token.json']?.equals(OLD)).toBe(true)
  })
})

describe('the create after the delete is refused (the dry run was admitted)', () => {
  it('restores the previous Secret and says so', async () => {
    const s = await seed(NAMESPACES.late)
    const e = await failure(replaceSecret(kube, { namespace: s.namespace, name: s.name, key: 'token.json', value: NEW }))
    expect(e.reason).toBe('Invalid')
    expect(e.message).toContain('denied by admission')
    expect(e.message).toContain('was restored')
    const live = (await readSecret(kube, s))!
    expect(live.uid).not.toBe(s.uid) // it really was deleted and recreated
    expect(live.data['token.json']?.equals(OLD)).toBe(true)
    expect(live.data.keep?.revealString()).toBe('k')
  })

  it('when the restore is refused too: reports the Secret MISSING, and the backup brings it back', async () => {
    const s = await seed(NAMESPACES.all)
    await labelDenyAll(true)
    await untilEnforced(NAMESPACES.all, { dryRun: false })
    let backup: SecretSnapshot | undefined
    const e = await failure(replaceSecret(kube, {
      namespace: s.namespace, name: s.name, key: 'token.json', value: NEW,
      beforeDelete: (previous) => { backup = previous },
    }))
    expect(e.reason).toBe('SecretMissing')
    expect(e.message).toContain(`secrets "${s.name}" in namespace "${s.namespace}" is MISSING`)
    expect(e.hint).toMatch(/^fix the refusal first \(an admission policy or webhook refused the request; its message says why\); then rerun with --resume/)
    for (const text of [e.message, e.hint, inspect(e)]) {
      expect(text).not.toContain('AccessToken')
      expect(text).not.toContain(OLD.reveal().toString('base64').slice(0, 20))
    }
    expect(await readSecret(kube, s)).toBeUndefined()

    // The operator lifts the policy, then restores the backup the hook received.
    await labelDenyAll(false)
    const restored = await (async () => {
      for (let i = 0; ; i++) {
        try {
          return await restoreSecret(kube, backup!)
        } catch (err) {
          if (i > 50) throw err
          await sleep(100) // the policy's namespace selector is re-evaluated from an informer
        }
      }
    })()
    expect(restored.data['token.json']?.equals(OLD)).toBe(true)
  })
})

/**
 * Ops helpers for tests against the real control plane: apply the manifests under deploy/
 * (and the vendored CRD) as admin, and act as the workflow's ServiceAccount.
 *
 * The whole gmail-reauth workflow runs as that ServiceAccount in
 * test/integration/gmail-serviceaccount.test.ts (the CLI) and ops-forgejo-exec.test.ts (CI):
 *   await applyManifestFiles(admin, DEPLOY_MANIFESTS)
 *   const kubeconfig = await saKubeconfig(admin, WORKFLOW_SA.namespace, WORKFLOW_SA.name)
 *   await waitForSecretCreatePolicy(kubeconfig)
 *   // run `tasks/run.mjs gmail-reauth --set kubeconfig=<kubeconfig>`
 */
import { ApiException, type KubernetesObject } from '@kubernetes/client-node'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseAllDocuments } from 'yaml'
import { adminKubeConfig } from '../k8s/fixtures.ts'
import { serviceAccountKubeconfig } from '../k8s/service-account.ts'
import { REPO_ROOT } from './tools.ts'

export const WORKFLOW_SA = { namespace: 'basketball-api', name: 'credflow-gmail-reauth' } as const
export const DEPLOY_MANIFESTS = ['deploy/rbac.yaml', 'deploy/secret-create-policy.yaml'].map((f) => join(REPO_ROOT, f))
/** The ValidatingAdmissionPolicy (and binding) alone: what a test removes again afterwards. */
export const SECRET_CREATE_POLICY = DEPLOY_MANIFESTS[1]

/** Every document of a multi-document YAML file, comments and empty documents dropped. */
export function readManifests(path: string): KubernetesObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => {
      if (d.errors.length) throw new Error(`${path}: ${d.errors[0].message}`)
      return d.toJS() as KubernetesObject | null
    })
    .filter((o): o is KubernetesObject => !!o)
}

/** Server-side apply (force) of every object in the files, as the admin of the plane. */
export async function applyManifestFiles(adminKubeconfig: string, paths: string[]): Promise<KubernetesObject[]> {
  const k8s = await import('@kubernetes/client-node')
  const objects = k8s.KubernetesObjectApi.makeApiClient(await adminKubeConfig(adminKubeconfig))
  const applied: KubernetesObject[] = []
  for (const path of paths) {
    for (const obj of readManifests(path)) {
      applied.push(await objects.patch(obj, undefined, undefined, 'credflow-ops-tests', true, k8s.PatchStrategy.ServerSideApply))
    }
  }
  return applied
}

/**
 * A kubeconfig (path) that authenticates as ServiceAccount `namespace/name` with a fresh
 * TokenRequest token (1 h), written beside the admin kubeconfig. The account's rights are
 * whatever is bound to it: apply deploy/rbac.yaml first.
 */
export function saKubeconfig(adminKubeconfig: string, namespace: string, serviceAccount: string): Promise<string> {
  return serviceAccountKubeconfig(adminKubeconfig, { namespace, name: serviceAccount })
}

/** Delete every object of the files as the admin; absent ones are fine (cleanup after a test). */
export async function deleteManifestFiles(adminKubeconfig: string, paths: string[]): Promise<void> {
  const k8s = await import('@kubernetes/client-node')
  const objects = k8s.KubernetesObjectApi.makeApiClient(await adminKubeConfig(adminKubeconfig))
  for (const path of paths) {
    for (const obj of readManifests(path).reverse()) {
      await objects.delete(obj).catch((e) => {
        if (e?.code !== 404) throw e
      })
    }
  }
}

/**
 * The apiserver loads admission policies asynchronously: wait until a (dry-run) create of a
 * Secret with another name, by the workflow's ServiceAccount, is refused.
 */
export async function waitForSecretCreatePolicy(saKubeconfigPath: string, timeoutMs = 30_000): Promise<void> {
  const k8s = await import('@kubernetes/client-node')
  const kc = new k8s.KubeConfig()
  kc.loadFromFile(saKubeconfigPath)
  const core = kc.makeApiClient(k8s.CoreV1Api)
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      const body = { metadata: { name: 'credflow-policy-probe', namespace: WORKFLOW_SA.namespace }, type: 'Opaque' }
      await core.createNamespacedSecret({ namespace: WORKFLOW_SA.namespace, dryRun: 'All', body })
    } catch (e) {
      if (e instanceof k8s.ApiException && e.code === 403) return
      throw e
    }
    if (Date.now() > deadline) throw new Error(`deploy/secret-create-policy.yaml is not enforced after ${timeoutMs / 1000}s`)
    await sleep(250)
  }
}

/** The refusal of a call: HTTP code, Status reason and message. Fails the test if it succeeded. */
export async function refusal(call: Promise<unknown>): Promise<{ code: number; reason: string; message: string }> {
  try {
    await call
  } catch (e) {
    if (!(e instanceof ApiException)) throw e
    const body = typeof e.body === 'string' ? JSON.parse(e.body) : (e.body ?? {})
    return { code: e.code, reason: body.reason ?? '', message: body.message ?? '' }
  }
  throw new Error('expected the apiserver to refuse this call, but it succeeded')
}

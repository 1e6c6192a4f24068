/**
 * Ops helpers for tests against the real control plane: apply the manifests under deploy/
 * (and the vendored CRD) as admin, and act as the workflow's ServiceAccount.
 *
 * Later the whole gmail-reauth workflow runs as that ServiceAccount:
 *   await applyManifestFiles(admin, DEPLOY_MANIFESTS)
 *   const kubeconfig = await saKubeconfig(admin, 'basketball-api', 'credflow-gmail-reauth')
 *   // run `tasks/run.mjs gmail-reauth` with KUBECONFIG=kubeconfig
 */
import type { KubernetesObject } from '@kubernetes/client-node'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { adminKubeConfig } from '../k8s/fixtures.ts'
import { serviceAccountKubeconfig } from '../k8s/service-account.ts'
import { REPO_ROOT } from './tools.ts'

export const WORKFLOW_SA = { namespace: 'basketball-api', name: 'credflow-gmail-reauth' } as const
export const DEPLOY_MANIFESTS = ['deploy/rbac.yaml', 'deploy/secret-create-policy.yaml'].map((f) => join(REPO_ROOT, f))

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

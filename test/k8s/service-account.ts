/**
 * Act as a ServiceAccount: optionally give it a Role, mint a token with the TokenRequest
 * API, and write a kubeconfig for it next to the admin one. RBAC tests call the apiserver
 * through this identity, exactly as the tool would in the cluster.
 */
import type { V1PolicyRule } from '@kubernetes/client-node'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { stringify } from 'yaml'
import { adminKubeConfig } from './fixtures.ts'

/** What the workflow needs in basketball-api, except `create` on Secrets (the step a replace needs last). */
/** The run's Lease (tasks/k8s/lease.ts): every Role that runs the workflow needs it. */
export const LEASE_RULES: V1PolicyRule[] = [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]

export const RULES_WITHOUT_SECRET_CREATE: V1PolicyRule[] = [
  ...LEASE_RULES,
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'delete', 'update'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] },
  { apiGroups: ['apps'], resources: ['replicasets'], verbs: ['list'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
]

export interface ServiceAccountOptions {
  namespace: string
  name: string
  /** If given, (re)apply a Role with these rules and bind it to the ServiceAccount. */
  rules?: V1PolicyRule[]
  /** Where to write the kubeconfig; default: beside the admin kubeconfig (the plane's temp dir). */
  dir?: string
}

export async function serviceAccountKubeconfig(adminKubeconfigPath: string, o: ServiceAccountOptions): Promise<string> {
  const k8s = await import('@kubernetes/client-node')
  const kc = await adminKubeConfig(adminKubeconfigPath)
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc)
  const apply = (obj: object) =>
    objects.patch(obj as any, undefined, undefined, 'credflow-tests', true, k8s.PatchStrategy.ServerSideApply)

  await apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: o.name, namespace: o.namespace } })
  if (o.rules) {
    await apply({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: o.name, namespace: o.namespace }, rules: o.rules })
    await apply({
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: o.name, namespace: o.namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: o.name },
      subjects: [{ kind: 'ServiceAccount', name: o.name, namespace: o.namespace }],
    })
  }
  const core = kc.makeApiClient(k8s.CoreV1Api)
  const tr = await core.createNamespacedServiceAccountToken({
    name: o.name, namespace: o.namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } },
  })
  const cluster = kc.getCurrentCluster()!
  const path = join(o.dir ?? dirname(adminKubeconfigPath), `sa-${o.namespace}-${o.name}.kubeconfig.yaml`)
  const ctx = `${o.name}@${o.namespace}`
  writeFileSync(path, stringify({
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'plane', cluster: { server: cluster.server, 'certificate-authority': cluster.caFile } }],
    users: [{ name: ctx, user: { token: tr.status!.token } }],
    contexts: [{ name: ctx, context: { cluster: 'plane', user: ctx, namespace: o.namespace } }],
    'current-context': ctx,
  }), { mode: 0o600 })
  return path
}

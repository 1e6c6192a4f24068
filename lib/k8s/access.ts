/**
 * "May I?" before trying: SelfSubjectAccessReviews (what `kubectl auth can-i` asks) for every
 * verb a run will use, so a Role without one is refused before the first write instead of
 * after the Secret was replaced. Every authenticated user may create them (system:basic-user).
 */
import { callOptions, type Kube } from './client.ts'

export interface AccessCheck {
  verb: string
  /** Plural resource, as in RBAC rules. */
  resource: string
  /** API group: '' for core, 'apps' for Deployments. */
  group?: string
  namespace: string
  name?: string
}

/** `delete secrets/gmail-oauth-token` */
export const describeAccess = (c: AccessCheck) => `${c.verb} ${c.group ? `${c.resource}.${c.group}` : c.resource}${c.name ? `/${c.name}` : ''}`

/** `kubectl auth can-i delete secrets/x -n ns` */
export const canICommand = (c: AccessCheck) => `kubectl auth can-i ${describeAccess(c)} -n ${c.namespace}`

/**
 * The checks the server denies, in order; undefined when we may not ask (then the server
 * dry runs of the plan are the only check). The reviews are independent reads: asked at once
 * (one round trip of the keep-alive connection pool, not one per verb).
 */
export async function deniedAccess(kube: Kube, checks: AccessCheck[], signal?: AbortSignal): Promise<AccessCheck[] | undefined> {
  const answers = await Promise.allSettled(checks.map((c) => review(kube, c, signal)))
  const failures = answers.flatMap((a) => (a.status === 'rejected' ? [kube.error(a.reason, { verb: 'create', resource: 'selfsubjectaccessreviews' })] : []))
  if (failures.some((err) => err.reason === 'Forbidden' || err.reason === 'NotFound')) return undefined
  if (failures.length) throw failures[0]
  return checks.filter((_, i) => (answers[i] as PromiseFulfilledResult<boolean>).value === false)
}

async function review(kube: Kube, c: AccessCheck, signal?: AbortSignal): Promise<boolean> {
  const r = await kube.authz.createSelfSubjectAccessReview(
    {
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { namespace: c.namespace, verb: c.verb, group: c.group ?? '', resource: c.resource, name: c.name } },
      },
    },
    callOptions({ signal }),
  )
  return r.status?.allowed === true
}

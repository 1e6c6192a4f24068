/**
 * A namespaced GET answers 404 both when the object is missing and when its whole namespace
 * is: tell the two apart, so a typo in a namespace does not send someone looking for a
 * Deployment or Secret that was never the problem.
 */
import { OpsError } from '../errors.ts'
import { callOptions, type Kube } from './client.ts'
import { isNotFound } from './errors.ts'

/** True or false when the server says; undefined when we may not ask (a namespaced Role cannot get namespaces). */
async function namespaceExists(kube: Kube, namespace: string, signal?: AbortSignal): Promise<boolean | undefined> {
  try {
    await kube.core.readNamespace({ name: namespace }, callOptions({ signal }))
    return true
  } catch (e) {
    return isNotFound(e) ? false : undefined
  }
}

interface Explain {
  signal?: AbortSignal
  hint?: string
  /** The caller knows nothing was changed yet (e.g. a check before any write): say so. */
  unchanged?: boolean
}

function namespaceMissing(namespace: string, opts: Explain): OpsError {
  return new OpsError(`namespace "${namespace}" does not exist${opts.unchanged ? '; nothing was changed' : ''}`, {
    reason: 'NamespaceNotFound',
    hint: opts.hint ?? 'kubectl get namespaces; is the namespace name right?',
  })
}

/** Throws NamespaceNotFound when the namespace is known to be absent. */
export async function requireNamespace(kube: Kube, namespace: string, opts: Explain = {}): Promise<void> {
  if ((await namespaceExists(kube, namespace, opts.signal)) === false) throw namespaceMissing(namespace, opts)
}

/** `e` itself, or NamespaceNotFound when `e` is a NotFound whose namespace is the missing thing. */
export async function explainNotFound(kube: Kube, e: unknown, namespace: string, opts: Explain = {}): Promise<unknown> {
  if (!isNotFound(e)) return e
  return (await namespaceExists(kube, namespace, opts.signal)) === false ? namespaceMissing(namespace, opts) : e
}

/**
 * Kubeconfig loading and API clients. @kubernetes/client-node takes ~0.6 s to import, so
 * it is loaded on first use (`await import`), keeping `--help` and planning-free paths fast.
 */
import type { KubeConfig, CoreV1Api, AppsV1Api, ConfigurationOptions, RequestContext, ResponseContext } from '@kubernetes/client-node'
import { OpsError } from '../errors.ts'
import { CLIENT_RETRY, retry } from '../retry.ts'
import { k8sError, redact, type K8sOperation } from './errors.ts'
import { importClientNode } from './client-node-bundle.ts'

export interface KubeTarget {
  /** A kubeconfig path. Default: `$KUBECONFIG` (merged like kubectl), then ~/.kube/config, then in-cluster. */
  kubeconfig?: string
  /** Context to use instead of the kubeconfig's current-context. */
  context?: string
}

export interface Kube {
  kc: KubeConfig
  core: CoreV1Api
  apps: AppsV1Api
  context: string
  server: string
  /** "context NAME (server URL, user NAME)": where a change goes, for confirmations and summaries. */
  where: string
  /** `k8sError` with this server and context filled in. */
  error(e: unknown, op: K8sOperation): OpsError
}

export const clientNode = () => importClientNode()

const connections = new Map<string, Promise<Kube>>()

/**
 * Load the kubeconfig and build clients; with `probe` (default), also prove the server answers.
 * One connection per kubeconfig and context per process: every step's check, plan and apply
 * asks for one, and reloading and re-probing each time is only waste. A failure is not kept.
 */
export function connect(target: KubeTarget = {}, opts: { probe?: boolean; timeoutMs?: number } = {}): Promise<Kube> {
  const key = JSON.stringify([target.kubeconfig ?? process.env.KUBECONFIG ?? '', target.context ?? '', opts.probe ?? true])
  let c = connections.get(key)
  if (!c) {
    c = open(target, opts)
    connections.set(key, c)
    c.catch(() => connections.delete(key))
  }
  return c
}

async function open(target: KubeTarget, opts: { probe?: boolean; timeoutMs?: number }): Promise<Kube> {
  const k8s = await clientNode()
  const kc = new k8s.KubeConfig()
  const source = target.kubeconfig ?? (process.env.KUBECONFIG ? `$KUBECONFIG (${process.env.KUBECONFIG})` : 'the default kubeconfig')
  try {
    if (target.kubeconfig) kc.loadFromFile(target.kubeconfig)
    else kc.loadFromDefault()
  } catch (e) {
    // js-yaml's message quotes the offending lines, which may be client-key-data: first line only, redacted.
    const why = redact(String((e as Error).message ?? e).split('\n')[0])
    throw new OpsError(`cannot load ${source}: ${why}`, {
      reason: 'KubeconfigInvalid',
      hint: 'fix the file, or point at another one: --set kubeconfig=<path> (or set KUBECONFIG); check it with: kubectl config view',
    })
  }
  if (target.context) {
    if (!kc.getContextObject(target.context)) {
      const known = kc.getContexts().map((c) => c.name)
      throw new OpsError(`context "${target.context}" not found in ${source} (known: ${known.join(', ') || 'none'})`, {
        reason: 'ContextNotFound',
        hint: 'kubectl config get-contexts; then --set context=<name>',
      })
    }
    kc.setCurrentContext(target.context)
  }
  const context = kc.getCurrentContext()
  const cluster = kc.getCurrentCluster()
  if (!context || !cluster) {
    throw new OpsError(`${source} has no usable current context${context ? ` ("${context}" names no cluster)` : ''}`, {
      reason: 'ContextNotFound',
      hint: 'kubectl config get-contexts; then --set context=<name>',
    })
  }
  const server = cluster.server
  const user = kc.getCurrentUser()?.name
  const kube: Kube = {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    context,
    server,
    where: `context ${context} (server ${server}${user ? `, user ${user}` : ''})`,
    error: (e, op) => k8sError(e, { server, context, ...op }),
  }
  if (opts.probe ?? true) await probeServer(kube, opts.timeoutMs)
  return kube
}

/** GET /version within `timeoutMs`; returns the server's gitVersion or throws Unreachable/Unauthorized. */
export async function probeServer(kube: Kube, timeoutMs = 10_000): Promise<string> {
  const k8s = await clientNode()
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    // The request object comes first: options in its place would be ignored, the timeout with them.
    const v = await kube.kc.makeApiClient(k8s.VersionApi).getCode({}, callOptions({ signal }))
    return v.gitVersion
  } catch (e) {
    const why = signal.aborted ? Object.assign(new Error('timeout'), { code: `ETIMEDOUT after ${timeoutMs / 1000}s` }) : e
    throw kube.error(why, { verb: 'get', resource: 'version' })
  }
}

/**
 * Per-call options: an AbortSignal and/or a Content-Type (patches need one: client-node
 * otherwise sends any patch as application/json-patch+json). The ObjectParam API runs
 * middleware through its internal Observable stub, which only needs `toPromise()`.
 */
export function callOptions(o: { signal?: AbortSignal; contentType?: string; onResponse?: (headers: Record<string, string>) => void }): ConfigurationOptions {
  const done = <T>(x: T) => ({ toPromise: () => Promise.resolve(x) }) as any
  return {
    middleware: [
      {
        pre: (ctx: RequestContext) => {
          if (o.signal) ctx.setSignal(o.signal)
          if (o.contentType) ctx.setHeaderParam('Content-Type', o.contentType)
          return done(ctx)
        },
        post: (res: ResponseContext) => {
          o.onResponse?.(res.headers)
          return done(res)
        },
      },
    ],
    middlewareMergeStrategy: 'append',
  }
}

/**
 * An idempotent read (get, list), repeated on what a later attempt can cure (429, 5xx, a dropped
 * connection) under the clients' one policy (lib/retry.ts). Writes are not repeated here: they
 * carry preconditions, and their node decides. The caller maps the last failure as before.
 */
export function readRetried<T>(kube: Kube, op: K8sOperation, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
  return retry(call, { ...CLIENT_RETRY, signal, retryable: (e) => kube.error(e, op).retryable })
}

/**
 * Kubeconfig loading and API clients. @kubernetes/client-node takes ~0.6 s to import, so
 * it is loaded on first use (`await import`), keeping `--help` and planning-free paths fast.
 */
import type { KubeConfig, CoreV1Api, AppsV1Api, AuthorizationV1Api, CoordinationV1Api, Configuration, ConfigurationOptions, RequestContext, ResponseContext } from '@kubernetes/client-node'
import { createHash } from 'node:crypto'
import { OpsError } from '../errors.ts'
import { CLIENT_RETRY, retry } from '../retry.ts'
import { k8sError, redact, type K8sOperation } from './errors.ts'
import { importClientNode } from './client-node-bundle.ts'
import { statUserFile, MAX_BYTES } from '../safe-open.ts'
import { reportWhilePending } from '../progress.ts'
import { formatDuration, parseDuration } from '../duration.ts'
import { delimiter, join } from 'node:path'
import { homedir } from 'node:os'

export interface KubeTarget {
  /** A kubeconfig path. Default: `$KUBECONFIG` (merged like kubectl), then ~/.kube/config, then in-cluster. */
  kubeconfig?: string
  /** Context to use instead of the kubeconfig's current-context. */
  context?: string
  /**
   * Limit for each API request, connect included, like kubectl's --request-timeout (default
   * 30 s): a server that accepts the connection and never answers fails the request in time.
   */
  requestTimeoutMs?: number
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

export interface Kube {
  kc: KubeConfig
  core: CoreV1Api
  apps: AppsV1Api
  /** SelfSubjectAccessReviews: "may I?" before trying. */
  authz: AuthorizationV1Api
  /** Leases (the run's lock). */
  coordination: CoordinationV1Api
  context: string
  server: string
  where: string
  requestTimeoutMs: number
  /** Another API group's client (`kube.api(k8s.CustomObjectsApi)`), its requests bounded like these. */
  api<T>(Api: new (config: Configuration) => T): T
  /** `k8sError` with this server and context filled in. */
  error(e: unknown, op: K8sOperation): OpsError
}

export const clientNode = () => importClientNode()

/** A step's kubeconfig, context and requestTimeout inputs ('' means the default) as a KubeTarget. */
export function targetOf(i: { kubeconfig?: string; context?: string; requestTimeout?: string }): KubeTarget {
  const ms = i.requestTimeout ? parseDuration(i.requestTimeout) : undefined
  return { kubeconfig: i.kubeconfig || undefined, context: i.context || undefined, requestTimeoutMs: ms }
}

const connections = new Map<string, Promise<Kube>>()

/**
 * Load the kubeconfig and build clients; with `probe` (default), also prove the server answers.
 * One connection per kubeconfig and context per process: every step's check, plan and apply
 * asks for one, and reloading and re-probing each time is only waste. A failure is not kept.
 */
export function connect(target: KubeTarget = {}, opts: { probe?: boolean; timeoutMs?: number } = {}): Promise<Kube> {
  const key = JSON.stringify([target.kubeconfig ?? process.env.KUBECONFIG ?? '', target.context ?? '', opts.probe ?? true, target.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS])
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
  reuseConnections(kc)
  const source = target.kubeconfig ?? (process.env.KUBECONFIG ? `$KUBECONFIG (${process.env.KUBECONFIG})` : 'the default kubeconfig')
  // client-node reads the files with readFileSync: judge them first (a FIFO would hang it).
  const hint = 'point at another one: --set kubeconfig=<path> (or set KUBECONFIG); check it with: kubectl config view'
  const judge = (file: string) => statUserFile(file, { what: 'kubeconfig', maxBytes: MAX_BYTES.kubeconfig, invalidReason: 'KubeconfigInvalid', hint })
  if (target.kubeconfig && !judge(target.kubeconfig)) {
    throw new OpsError(`kubeconfig ${target.kubeconfig} does not exist`, { reason: 'KubeconfigInvalid', hint })
  }
  if (!target.kubeconfig) for (const f of (process.env.KUBECONFIG || join(homedir(), '.kube', 'config')).split(delimiter).filter(Boolean)) judge(f)
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
  const requestTimeoutMs = target.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
  const config = timedConfiguration(k8s, kc, server, requestTimeoutMs)
  const kube: Kube = {
    kc,
    core: new k8s.CoreV1Api(config),
    apps: new k8s.AppsV1Api(config),
    authz: new k8s.AuthorizationV1Api(config),
    coordination: new k8s.CoordinationV1Api(config),
    context,
    server,
    where: `context ${context} (server ${server}${user ? `, user ${user}` : ''})`,
    requestTimeoutMs,
    api: (Api) => new Api(config),
    error: (e, op) => k8sError(e, { server, context, ...op }),
  }
  if (opts.probe ?? true) await probeServer(kube, opts.timeoutMs ?? requestTimeoutMs)
  return kube
}

/** What a request that hit the request timeout rejects with; k8sError turns it into words. */
export class RequestTimeout extends Error {
  readonly code = 'REQUEST_TIMEOUT'
  readonly timeoutMs: number
  readonly url: string
  constructor(timeoutMs: number, url: string) {
    super(`no answer within ${formatDuration(timeoutMs)}`)
    this.timeoutMs = timeoutMs
    this.url = url
  }
}

/**
 * makeApiClient's configuration, with every request bounded by `timeoutMs` (the caller's
 * signal still aborts it sooner) and a progress line while one is slow to answer.
 */
function timedConfiguration(k8s: Awaited<ReturnType<typeof clientNode>>, kc: KubeConfig, server: string, timeoutMs: number) {
  const fetchLibrary = new k8s.IsomorphicFetchHttpLibrary()
  const httpApi = k8s.wrapHttpLibrary({
    async send(req: RequestContext): Promise<ResponseContext> {
      const caller = req.getSignal()
      const timeout = AbortSignal.timeout(timeoutMs)
      req.setSignal(caller ? AbortSignal.any([caller, timeout]) : timeout)
      const url = req.getUrl()
      try {
        return await reportWhilePending(fetchLibrary.send(req).toPromise(), `${req.getHttpMethod()} ${url}`, timeoutMs)
      } catch (e) {
        if (timeout.aborted && !caller?.aborted) throw new RequestTimeout(timeoutMs, url)
        throw e
      }
    },
  })
  return k8s.createConfiguration({ baseServer: new k8s.ServerConfiguration(server, {}), authMethods: { default: kc }, httpApi })
}

/**
 * client-node makes a new https.Agent for every request (KubeConfig.createAgent), so each call
 * paid a TCP connect and a TLS handshake: about 30 per sync, most of its CPU after start-up.
 * One keep-alive agent per set of TLS options (same server, CA, client cert: the same agent)
 * instead. Idle sockets close after 5 s, as Node's global agent does, well before the
 * apiserver would drop them, and never keep the process alive.
 */
function reuseConnections(kc: KubeConfig): void {
  type CreateAgent = (cluster: { server?: string; proxyUrl?: string } | null, options: Record<string, unknown>) => unknown
  const k = kc as unknown as { createAgent: CreateAgent }
  const create = k.createAgent.bind(kc)
  const agents = new Map<string, unknown>()
  k.createAgent = (cluster, options) => {
    // Hashed: the options hold the client key, which need not sit in a map key.
    const id = createHash('sha256').update(JSON.stringify([cluster?.server, cluster?.proxyUrl, options])).digest('hex')
    let agent = agents.get(id)
    if (!agent) agents.set(id, (agent = create(cluster, { ...options, keepAlive: true, timeout: 5_000 })))
    return agent
  }
}

/** GET /version within `timeoutMs`; returns the server's gitVersion or throws Unreachable/Unauthorized. */
export async function probeServer(kube: Kube, timeoutMs = 10_000): Promise<string> {
  const k8s = await clientNode()
  try {
    const v = await new k8s.VersionApi(timedConfiguration(k8s, kube.kc, kube.server, timeoutMs)).getCode()
    return v.gitVersion
  } catch (e) {
    throw kube.error(e, { verb: 'get', resource: 'version' })
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

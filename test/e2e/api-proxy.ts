/**
 * A recording, gating proxy in front of the test apiserver, for end-to-end runs of the CLI.
 * The CLI gets a kubeconfig whose server is this plain-HTTP proxy on 127.0.0.1; the proxy
 * forwards every request to the real apiserver over TLS, byte for byte, and records its
 * method and path (never a body). A test can hold the next request that matches, which
 * leaves the CLI stopped at exactly that call (e.g. after the DELETE of a Secret and before
 * its CREATE) so it can be SIGKILLed there; the held request is then dropped unsent.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parse, stringify } from 'yaml'

export interface ApiRequest {
  method: string
  /** Path and query, e.g. `/api/v1/namespaces/basketball-api/secrets/gmail-oauth-token?dryRun=All`. */
  path: string
}

/** The run's Lease (its lock): written by every real run, asked with dryRun=All by --dry-run and --status. */
export const isLeaseRequest = (q: ApiRequest) => q.path.startsWith('/apis/coordination.k8s.io/')

export const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
/**
 * A write to the world the workflow changes: not the run's own Lease (it is its lock), nor a
 * SelfSubjectAccessReview (the preflight's "may I?": a POST that stores nothing).
 */
export const worldWrite = (q: ApiRequest) => MUTATING.has(q.method) && !isLeaseRequest(q) && !q.path.startsWith('/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')

export interface HeldRequest extends ApiRequest {
  /** Never forward it: the apiserver does not see it. */
  drop(): void
  /** Let it through after all, as if the network had only been slow. */
  forward(): void
}

export interface ApiProxy {
  /** A kubeconfig for the CLI, pointing at the proxy with the admin kubeconfig's user. */
  kubeconfig: string
  /** Every request seen so far, in order. */
  readonly requests: readonly ApiRequest[]
  /** Hold the next request matching `match` (not forwarded until dropped); resolves when it arrives. */
  hold(match: (r: ApiRequest) => boolean): Promise<HeldRequest>
  /** Accept every request matching `match` and never answer (a wedged apiserver) until the returned function is called. */
  wedge(match: (r: ApiRequest) => boolean): () => void
  close(): Promise<void>
}

interface Upstream {
  server: string
  ca: Buffer
  token: string
}

function upstreamOf(adminKubeconfig: string): Upstream {
  const kc = parse(readFileSync(adminKubeconfig, 'utf8'))
  const ctx = kc.contexts.find((c: any) => c.name === kc['current-context']).context
  const cluster = kc.clusters.find((c: any) => c.name === ctx.cluster).cluster
  const user = kc.users.find((u: any) => u.name === ctx.user).user
  return { server: cluster.server, ca: readFileSync(cluster['certificate-authority']), token: user.token }
}

/**
 * `authorize`: send the admin token upstream on requests that carry none. kubectl (client-go)
 * never sends a bearer token over plain HTTP, so the benchmark's kubectl needs it.
 */
export async function startApiProxy(adminKubeconfig: string, opts: { dir?: string; name?: string; authorize?: boolean } = {}): Promise<ApiProxy> {
  const up = upstreamOf(adminKubeconfig)
  const target = new URL(up.server)
  const requests: ApiRequest[] = []
  const gates: Array<{ match: (r: ApiRequest) => boolean; resolve: (h: HeldRequest) => void }> = []
  const open = new Set<IncomingMessage>()
  const wedges: Array<{ match: (r: ApiRequest) => boolean; held: Set<ServerResponse> }> = []

  const forward = (req: IncomingMessage, res: ServerResponse) => {
    const auth = opts.authorize && !req.headers.authorization ? { authorization: `Bearer ${up.token}` } : {}
    const upstream = httpsRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, ...auth, host: target.host }, ca: up.ca },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers)
        ur.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    res.on('close', () => upstream.destroy())
    req.pipe(upstream)
  }

  const server = createServer((req, res) => {
    open.add(req)
    req.on('close', () => open.delete(req))
    const seen: ApiRequest = { method: req.method ?? 'GET', path: req.url ?? '/' }
    requests.push(seen)
    const wedge = wedges.find((w) => w.match(seen))
    if (wedge) {
      req.pause()
      wedge.held.add(res)
      res.on('close', () => wedge.held.delete(res))
      return
    }
    const gate = gates.findIndex((g) => g.match(seen))
    if (gate < 0) return forward(req, res)
    const [{ resolve }] = gates.splice(gate, 1)
    req.pause()
    resolve({ ...seen, drop: () => res.destroy(), forward: () => (req.resume(), forward(req, res)) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  const kubeconfig = join(opts.dir ?? dirname(adminKubeconfig), `${opts.name ?? 'proxied'}-${port}.kubeconfig.yaml`)
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node refuses a bearer token over plain HTTP unless TLS verification is off (there is no TLS here).
      clusters: [{ name: 'proxied', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'admin', user: { token: up.token } }],
      contexts: [{ name: 'proxied', context: { cluster: 'proxied', user: 'admin' } }],
      'current-context': 'proxied',
    }),
    { mode: 0o600 },
  )

  return {
    kubeconfig,
    requests,
    hold: (match) => new Promise((resolve) => gates.push({ match, resolve })),
    wedge: (match) => {
      const w = { match, held: new Set<ServerResponse>() }
      wedges.push(w)
      return () => {
        wedges.splice(wedges.indexOf(w), 1)
        for (const res of w.held) res.destroy()
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        gates.length = 0
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { hostname, userInfo } from 'node:os'
import { OpsError } from '../errors.ts'
import { SecretValue } from '../secret-value.ts'
import { buildAuthUrl, createPkce, createState, parseRedirect, statesMatch } from './auth-request.ts'
import type { OAuthClient } from './client-secrets.ts'
import { resolveEndpoints, type GoogleEndpoints } from './endpoints.ts'
import { exchangeCode, type TokenResponse } from './google-client.ts'
import { parseScopes } from './scopes.ts'

/**
 * The Desktop-client consent over SSH (research note §4, §8 step 2). OOB and the device flow are gone or can't
 * carry Gmail scopes (§3.3, §3.4), so the redirect goes to a loopback listener on this host, reached either via
 * `ssh -L PORT:127.0.0.1:PORT` or by the operator pasting the URL the browser failed to open. First one wins.
 */

export interface LoopbackFlowOptions {
  client: OAuthClient
  scopes: readonly string[]
  /** The expected mailbox; Google preselects it (§2.1). */
  loginHint?: string
  /** 0 (default) picks a free port; a fixed one lets the operator open the tunnel before starting. */
  port?: number
  /** `user@host` in the printed ssh hint; defaults to this user and hostname. */
  sshTarget?: string
  print: (line: string) => void
  /** Next line the operator pastes (e.g. from stdin); null at end of input. `stop` aborts once the flow no longer listens. */
  readPastedLine?: (stop: AbortSignal) => Promise<string | null>
  signal?: AbortSignal
  /** How long to wait for the consent; default 10 minutes. */
  timeoutMs?: number
  endpoints?: Partial<GoogleEndpoints>
  now?: () => Date
}

export interface LoopbackFlowResult {
  tokens: TokenResponse & { refreshToken: SecretValue }
  /** From the token response's `scope`: what the user actually ticked (§3.5). */
  grantedScopes: string[]
  redirectUri: string
  via: 'loopback' | 'paste'
  consentedAt: Date
}

type Outcome = { via: 'loopback' | 'paste'; params: URLSearchParams }

const DEFAULT_TIMEOUT_MS = 10 * 60_000
const REAUTH = 'npx zx tasks/run.mjs gmail-reauth'

export async function runLoopbackFlow(opts: LoopbackFlowOptions): Promise<LoopbackFlowResult> {
  const endpoints = resolveEndpoints(opts.endpoints)
  if (opts.signal?.aborted) throw aborted()
  const pkce = createPkce()
  const state = createState()
  const waiter = new Waiter()
  const server = createServer((req, res) => onRedirect(req, res, state, waiter, opts.print))
  const port = await listen(server, opts.port ?? 0)
  const redirectUri = `http://127.0.0.1:${port}/`
  const stopPasting = new AbortController()
  const onAbort = () => waiter.fail(aborted())
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const timer = setTimeout(
    () => waiter.fail(new OpsError(`no consent arrived within ${Math.round(timeoutMs / 1000)} s`, { reason: 'Timeout', hint: `Run ${REAUTH} again and finish the consent sooner.` })),
    timeoutMs,
  )

  let outcome: Outcome
  try {
    const url = buildAuthUrl({ authUrl: endpoints.authUrl, clientId: opts.client.clientId, redirectUri, scopes: opts.scopes, state, codeChallenge: pkce.challenge, loginHint: opts.loginHint })
    printInstructions(opts, url, port)
    if (opts.readPastedLine) void readPastes(() => opts.readPastedLine!(stopPasting.signal), state, waiter, opts.print)
    outcome = await waiter.promise
  } finally {
    clearTimeout(timer)
    stopPasting.abort()
    opts.signal?.removeEventListener('abort', onAbort)
    await close(server)
  }
  const consentedAt = opts.now?.() ?? new Date()

  const error = outcome.params.get('error')
  if (error) {
    throw new OpsError(`Google consent ended with ${error}${error === 'access_denied' ? ': access was declined' : ''}`, {
      reason: error,
      hint: `Run ${REAUTH} again, choose the right account and click Continue with every box ticked.`,
    })
  }
  const tokens = await exchangeCode(
    opts.client,
    { code: new SecretValue(outcome.params.get('code')!), codeVerifier: pkce.verifier, redirectUri },
    { endpoints, signal: opts.signal, now: opts.now },
  )
  if (!tokens.refreshToken) {
    // access_type=offline + prompt=consent should always yield one (§2.1, §8 step 3); fail loudly if not.
    throw new OpsError('Google returned no refresh token for the new consent', {
      reason: 'NoRefreshToken',
      hint: `Check that the client is a "Desktop app" client, then run ${REAUTH} again.`,
    })
  }
  const grantedScopes = tokens.scope.length ? tokens.scope : parseScopes(outcome.params.get('scope'))
  return { tokens: { ...tokens, refreshToken: tokens.refreshToken }, grantedScopes, redirectUri, via: outcome.via, consentedAt }
}

function printInstructions(opts: LoopbackFlowOptions, url: string, port: number): void {
  const target = opts.sshTarget ?? `${currentUser()}@${hostname()}`
  const p = opts.print
  p(`Open this URL in a browser${opts.loginHint ? ` signed in as ${opts.loginHint}` : ''} and approve every requested scope:`)
  p('')
  p(`  ${url}`)
  p('')
  p(`Google then sends the browser to http://127.0.0.1:${port}/ on the machine running the browser. Either:`)
  // The 127.0.0.1 literal on both sides: "localhost" on the laptop may resolve to ::1 while the tunnel is IPv4 (§4).
  p(`  - forward the port first:  ssh -L ${port}:127.0.0.1:${port} ${target}`)
  if (opts.readPastedLine) p(`  - or, when the browser says it cannot connect, paste the full address from its address bar here.`)
  p(`Waiting up to ${Math.round((opts.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 60_000)} min…`)
}

function onRedirect(req: IncomingMessage, res: ServerResponse, state: string, waiter: Waiter, print: (l: string) => void): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1')
  const params = url.searchParams
  if (req.method !== 'GET' || url.pathname !== '/' || !(params.has('code') || params.has('error'))) {
    return page(res, 404, 'Not found. This listener only takes the redirect from Google.')
  }
  if (waiter.settled) return page(res, 410, 'This consent was already handled; you may close this window.')
  // A stale tab from an earlier attempt (or a forged request): refuse it but keep waiting for the real one.
  if (!statesMatch(state, params.get('state'))) {
    print('Ignored a redirect whose state does not match this run (an older browser tab?).')
    return page(res, 400, 'This redirect belongs to another attempt (state mismatch). Use the URL printed by the latest run.')
  }
  const denied = params.has('error')
  page(res, 200, denied ? 'Consent was declined. Return to the terminal.' : 'Consent received. Return to the terminal; you may close this window.', () =>
    waiter.succeed({ via: 'loopback', params }),
  )
}

async function readPastes(next: () => Promise<string | null>, state: string, waiter: Waiter, print: (l: string) => void): Promise<void> {
  while (!waiter.settled) {
    let line: string | null
    try {
      line = await next()
    } catch {
      line = null
    }
    if (waiter.settled) return
    if (line === null) return print('Input closed; still waiting for the redirect on the loopback port.')
    if (line.trim() === '') continue
    const params = parseRedirect(line)
    // gcloud's wording for the same mistake (§4).
    if (!params) {
      print('That is not the redirected URL. Expected a URL with query parameters [state, code]; copy the whole address bar.')
    } else if (!statesMatch(state, params.get('state'))) {
      print('That URL belongs to another attempt (state mismatch). Paste the address from the consent you just gave.')
    } else {
      return waiter.succeed({ via: 'paste', params })
    }
  }
}

function page(res: ServerResponse, status: number, text: string, then?: () => void): void {
  // no-referrer: the URL of this page carries the code.
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', connection: 'close' })
  res.end(text)
  if (then) res.once('close', then)
}

async function listen(server: Server, port: number): Promise<number> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => resolve())
    })
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new OpsError(`cannot listen on 127.0.0.1:${port} for the OAuth redirect${code ? ` (${code})` : ''}`, {
      reason: code === 'EADDRINUSE' ? 'PortInUse' : 'ListenFailed',
      hint: code === 'EADDRINUSE' ? `Port ${port} is taken; pick another port, or use 0 for any free one.` : 'Pick another port.',
    })
  }
  return (server.address() as AddressInfo).port
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

function currentUser(): string {
  try {
    return userInfo().username
  } catch {
    return process.env.USER ?? 'user' // containers without a passwd entry
  }
}

function aborted(): OpsError {
  return new OpsError('the consent flow was cancelled', { reason: 'Aborted' })
}

/** One outcome from several racing sources (loopback, paste, timeout, abort). */
class Waiter {
  settled = false
  readonly promise: Promise<Outcome>
  #resolve!: (o: Outcome) => void
  #reject!: (e: Error) => void
  constructor() {
    this.promise = new Promise((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
  }
  succeed(o: Outcome): void {
    if (this.settled) return
    this.settled = true
    this.#resolve(o)
  }
  fail(e: Error): void {
    if (this.settled) return
    this.settled = true
    this.#reject(e)
  }
}

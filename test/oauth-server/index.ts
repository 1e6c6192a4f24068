import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { AUTH_PATH, AUTH_PATHS, DECISION_PATH, LEGACY_AUTH_PATH, handleAuthorize, handleDecision } from './authorize.ts'
import { createClock, type Clock } from './clock.ts'
import { CONTROL_PREFIX, createControl, handleControl, type StandInControl } from './control.ts'
import { GMAIL_PROFILE_PATH, handleGmailProfile } from './gmail.ts'
import type { AccountSpec, ClientSpec } from './model.ts'
import { REVOKE_PATH, handleRevoke } from './revoke.ts'
import { StandInState } from './state.ts'
import { TOKEN_PATH, handleToken } from './token.ts'
import { TOKENINFO_PATH, handleTokeninfo } from './tokeninfo.ts'

/**
 * A Google OAuth stand-in for an installed (Desktop) client, faithful to /work/shared/research/google-oauth.md
 * (§7 lists the surface). One node:http server, in-process, driven through `control`.
 */

export interface StandInOptions {
  port?: number
  host?: string
  clock?: Clock
  /** Grant every consent without a consent page (demo mode). */
  autoApprove?: boolean
  /** Clients to register up front (ids/secrets generated when omitted); see `control.registerClient`. */
  clients?: ClientSpec[]
  /** The signed-in account; defaults to operator@example.com. */
  account?: AccountSpec
}

export interface StandInEndpoints {
  authUrl: string
  tokenUrl: string
  tokeninfoUrl: string
  revokeUrl: string
  gmailProfileUrl: string
}

export interface GoogleStandIn {
  url: string
  endpoints: StandInEndpoints
  /** `/o/oauth2/auth`: the `auth_uri` of Google's downloaded client JSON; served like `endpoints.authUrl`. */
  legacyAuthUrl: string
  control: StandInControl
  close(): Promise<void>
}

export async function startGoogleStandIn(opts: StandInOptions = {}): Promise<GoogleStandIn> {
  const state = new StandInState(opts.clock ?? createClock())
  const control = createControl(state)
  if (opts.account) control.setAccount(opts.account)
  for (const c of opts.clients ?? []) control.registerClient(c)
  if (opts.autoApprove) control.setAutoApprove(true)

  const server = createServer((req, res) => {
    route(state, control, req, res).catch((e: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' })
      res.end(`stand-in error: ${e.message}`)
    })
  })
  const host = opts.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  const url = `http://${host}:${port}`
  return {
    url,
    endpoints: {
      authUrl: url + AUTH_PATH,
      tokenUrl: url + TOKEN_PATH,
      tokeninfoUrl: url + TOKENINFO_PATH,
      revokeUrl: url + REVOKE_PATH,
      gmailProfileUrl: url + GMAIL_PROFILE_PATH,
    },
    legacyAuthUrl: url + LEGACY_AUTH_PATH,
    control,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

async function route(state: StandInState, control: StandInControl, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://stand-in')
  const method = req.method ?? 'GET'
  if (url.pathname.startsWith(CONTROL_PREFIX)) return handleControl(control, req, url, res)
  state.requests.push({ at: state.clock.now(), method, path: url.pathname })

  const is = (m: string[], path: string) => m.includes(method) && url.pathname === path
  if (method === 'GET' && AUTH_PATHS.includes(url.pathname)) return handleAuthorize(state, url, res)
  if (is(['POST'], DECISION_PATH)) return handleDecision(state, req, res)
  if (is(['POST'], TOKEN_PATH)) return handleToken(state, req, res)
  if (is(['GET', 'POST'], TOKENINFO_PATH)) return handleTokeninfo(state, req, url, res)
  if (is(['POST'], REVOKE_PATH)) return handleRevoke(state, req, url, res)
  if (is(['GET'], GMAIL_PROFILE_PATH)) return handleGmailProfile(state, req, res)
  res.writeHead(404, { 'content-type': 'text/plain' }).end(`stand-in: no route for ${method} ${url.pathname}`)
}

export { createClock, type Clock } from './clock.ts'
export { SECOND, MINUTE, HOUR, DAY } from './clock.ts'
export type { StandInControl, IssuedToken } from './control.ts'
export type { ConsentDecision } from './consent.ts'
export type { ClientRecord, ClientSpec, AccountRecord, AccountSpec } from './model.ts'
export { AUTH_PATHS, LEGACY_AUTH_PATH } from './authorize.ts'
export { visit, consentRedirect, answerConsentPage, type BrowserVisit } from './browser.ts'

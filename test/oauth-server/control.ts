import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Clock } from './clock.ts'
import type { ConsentDecision } from './consent.ts'
import { readBody } from './google-http.ts'
import type { AccountRecord, AccountSpec, ClientRecord, ClientSpec, DeathCause } from './model.ts'
import type { AuthorizationRecord, RequestRecord, StandInState, TokenFault } from './state.ts'

/** How tests (in-process) and demos (over HTTP, `POST /_control/<method>` with a JSON array of arguments) drive the stand-in. */

export interface IssuedToken {
  kind: 'access' | 'refresh'
  value: string
  clientId: string
  email: string
  scopes: string[]
  issuedAt: number
  expiresAt?: number
  dead?: { cause: DeathCause; at: number }
}

export interface StandInControl {
  readonly clock: Clock
  now(): number
  advance(ms: number): number
  registerClient(spec?: ClientSpec): ClientRecord
  /** Creates or updates an account and signs it in: it is the one that consents next. */
  setAccount(spec: AccountSpec): AccountRecord
  /** Also signs the browser in to an existing account (multi-account sessions), keeping the default. */
  signIn(email: string): void
  deleteAccount(email: string): void
  /** Kills the account's refresh tokens that carry Gmail scopes (§3.2). */
  changePassword(email: string): void
  /** Default decision for a client, or for every client when `clientId` is omitted; `null` clears it. */
  setConsent(decision: ConsentDecision | null, clientId?: string): void
  /** A one-shot decision for the next authorize request. */
  consentNext(decision: ConsentDecision): void
  /** Grant everything without a consent page (the demo mode). */
  setAutoApprove(on: boolean): void
  /** The next `count` (default 1) token requests fail with `status` and/or are delayed by `delayMs`. */
  injectTokenFaults(fault: TokenFault & { count?: number }): void
  issuedTokens(): IssuedToken[]
  /** Every client secret, code and token the stand-in knows: scan outputs for these to prove nothing leaked. */
  secretStrings(): string[]
  requestCount(path?: string): number
  requests(): RequestRecord[]
  authorizations(): AuthorizationRecord[]
  lastAuthorization(): AuthorizationRecord | undefined
}

export function createControl(state: StandInState): StandInControl {
  const { model, consent, clock } = state
  const account = (email: string) => {
    const a = model.accounts.get(email)
    if (!a) throw new Error(`no account ${email}; call setAccount first`)
    return a
  }
  return {
    clock,
    now: () => clock.now(),
    advance: (ms) => clock.advance(ms),
    registerClient: (spec) => model.registerClient(spec),
    setAccount: (spec) => model.setAccount(spec),
    signIn: (email) => void model.sessions.add(account(email).email),
    deleteAccount: (email) => void (account(email).deletedAt = clock.now()),
    changePassword: (email) => void (account(email).passwordChangedAt = clock.now()),
    setConsent: (decision, clientId) => consent.set(decision, clientId),
    consentNext: (decision) => consent.queueNext(decision),
    setAutoApprove: (on) => consent.set(on ? { action: 'grant' } : null),
    injectTokenFaults({ count = 1, ...fault }) {
      for (let i = 0; i < count; i++) state.tokenFaults.push(fault)
    },
    issuedTokens: () =>
      [...model.tokens.values()].map((t) => ({
        kind: t.kind,
        value: t.value,
        clientId: t.clientId,
        email: t.email,
        scopes: t.scopes,
        issuedAt: t.issuedAt,
        expiresAt: t.expiresAt,
        dead: model.deathOf(t),
      })),
    secretStrings: () => model.secretStrings(),
    requestCount: (path) => state.requests.filter((r) => path === undefined || r.path === path).length,
    requests: () => [...state.requests],
    authorizations: () => [...state.authorizations],
    lastAuthorization: () => state.authorizations.at(-1),
  }
}

export const CONTROL_PREFIX = '/_control/'

export async function handleControl(control: StandInControl, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  const name = url.pathname.slice(CONTROL_PREFIX.length)
  const fn = name !== 'clock' && Object.hasOwn(control, name) ? (control as unknown as Record<string, unknown>)[name] : undefined
  if (typeof fn !== 'function') {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `unknown control method ${name}` }))
    return
  }
  try {
    const text = await readBody(req)
    const args: unknown = text.trim() ? JSON.parse(text) : []
    if (!Array.isArray(args)) throw new Error('control body must be a JSON array of arguments')
    const result = (fn as (...a: unknown[]) => unknown)(...args)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ result: result ?? null }))
  } catch (e) {
    res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (e as Error).message }))
  }
}

import { randomBytes, randomInt } from 'node:crypto'
import { DAY, HOUR, type Clock } from './clock.ts'
import { BASIC_SCOPES, USERINFO_EMAIL, hasGmailScope } from './scopes.ts'

/** The stand-in's world: clients, accounts, codes and tokens, with Google's lifetime rules. */

export type ClientType = 'installed' | 'web'
export interface ClientRecord {
  id: string
  secret: string
  /** `installed` (Desktop) accepts any loopback port; `web` needs an exact registered redirect (§2.1). */
  type: ClientType
  /** Testing-mode External project: refresh tokens die 7 days after consent (§3.1). */
  testing: boolean
  /** Revocation is project-wide, across all clients of the project (§2.6). */
  projectId: string
  redirectUris: string[]
}
export type ClientSpec = Partial<ClientRecord>

export interface AccountRecord {
  email: string
  sub: string
  messagesTotal: number
  threadsTotal: number
  historyId: string
  deletedAt?: number
  passwordChangedAt?: number
}
export type AccountSpec = Partial<AccountRecord> & { email: string }

export interface CodeRecord {
  value: string
  clientId: string
  email: string
  redirectUri: string
  scopes: string[]
  codeChallenge?: string
  codeChallengeMethod?: 'S256' | 'plain'
  accessType: 'online' | 'offline'
  withRefreshToken: boolean
  consentAt: number
  used: boolean
}

export type DeathCause = 'revoked' | 'expired' | 'evicted' | 'password_changed' | 'unused' | 'account_deleted'

export interface TokenRecord {
  kind: 'access' | 'refresh'
  value: string
  clientId: string
  projectId: string
  email: string
  scopes: string[]
  accessType: 'online' | 'offline'
  issuedAt: number
  /** Consent time of the grant the token descends from; the Testing clock runs from here (§3.1). */
  consentAt: number
  expiresAt?: number
  revokedAt?: number
  evictedAt?: number
  lastUsedAt: number
}

export const ACCESS_TOKEN_LIFETIME = HOUR
export const TESTING_REFRESH_LIFETIME = 7 * DAY
/** "The refresh token has not been used for six months" (§3.2); six 30-day months here. */
export const UNUSED_REFRESH_LIFETIME = 180 * DAY
/** "a limit of 100 refresh tokens per Google Account per OAuth 2.0 client ID" (§3.2). */
export const REFRESH_TOKENS_PER_CLIENT = 100

const b64url = (n: number) => randomBytes(n).toString('base64url')
const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789'

export class GoogleModel {
  readonly clients = new Map<string, ClientRecord>()
  readonly accounts = new Map<string, AccountRecord>()
  readonly codes = new Map<string, CodeRecord>()
  readonly tokens = new Map<string, TokenRecord>()
  readonly idTokens = new Set<string>()
  /** The account the browser uses by default: the one that consents unless a login_hint picks another. */
  signedIn: AccountRecord
  /** Every account the browser is signed in to (Google's account chooser), by email. */
  readonly sessions = new Set<string>()

  readonly clock: Clock
  constructor(clock: Clock) {
    this.clock = clock
    this.signedIn = this.setAccount({ email: 'operator@example.com' })
  }

  registerClient(spec: ClientSpec = {}): ClientRecord {
    const client: ClientRecord = {
      id: spec.id ?? `${randomInt(1e11, 1e12 - 1)}-${Array.from(randomBytes(32), (b) => ALNUM[b % ALNUM.length]).join('')}.apps.googleusercontent.com`,
      secret: spec.secret ?? `GOCSPX-${b64url(21)}`,
      type: spec.type ?? 'installed',
      testing: spec.testing ?? false,
      projectId: spec.projectId ?? 'credflow-test',
      redirectUris: spec.redirectUris ?? [],
    }
    this.clients.set(client.id, client)
    return client
  }

  /**
   * Creates or updates an account and signs the browser in to it alone: it is the one that
   * consents next. `signIn(email)` adds more sessions that a login_hint can pick.
   */
  setAccount(spec: AccountSpec): AccountRecord {
    const prev = this.accounts.get(spec.email)
    const account: AccountRecord = {
      sub: String(randomInt(1e11, 1e12 - 1)) + String(randomInt(1e8, 1e9 - 1)),
      messagesTotal: 1234,
      threadsTotal: 987,
      historyId: '4242424',
      ...prev,
      ...spec,
    }
    this.accounts.set(account.email, account)
    this.signedIn = account
    this.sessions.clear()
    this.sessions.add(account.email)
    return account
  }

  /**
   * Who consents for a request with this `login_hint` (an email or a `sub`, §2.1): the hinted
   * account when the browser is signed in to it, else the default one (Google asks the user to
   * sign in, and a person can pick any account there: the tool must check who it got).
   */
  consentingAccount(loginHint: string | null): AccountRecord {
    const hint = loginHint?.trim().toLowerCase()
    if (hint) {
      for (const email of this.sessions) {
        const a = this.accounts.get(email)!
        if (a.email.toLowerCase() === hint || a.sub === hint) return a
      }
    }
    return this.signedIn
  }

  createCode(c: Omit<CodeRecord, 'value' | 'used'>): CodeRecord {
    // Codes start with `4/0A` (§2.2); the `/` is what a double-encoding client mangles.
    const code: CodeRecord = { ...c, value: `4/0A${b64url(54)}`, used: false }
    this.codes.set(code.value, code)
    return code
  }

  issueAccessToken(from: Omit<TokenRecord, 'kind' | 'value' | 'issuedAt' | 'lastUsedAt' | 'expiresAt'>): TokenRecord {
    const now = this.clock.now()
    const t: TokenRecord = { ...from, kind: 'access', value: `ya29.a0${b64url(120)}`, issuedAt: now, lastUsedAt: now, expiresAt: now + ACCESS_TOKEN_LIFETIME }
    this.tokens.set(t.value, t)
    return t
  }

  issueRefreshToken(client: ClientRecord, from: Pick<TokenRecord, 'email' | 'scopes' | 'consentAt'>): TokenRecord {
    const now = this.clock.now()
    const t: TokenRecord = {
      ...from,
      kind: 'refresh',
      value: `1//0${b64url(76)}`,
      clientId: client.id,
      projectId: client.projectId,
      accessType: 'offline',
      issuedAt: now,
      lastUsedAt: now,
      expiresAt: testingExpiry(client, from.scopes, from.consentAt),
    }
    this.tokens.set(t.value, t)
    // FIFO: the 101st refresh token silently kills the oldest live one (§3.2).
    const live = [...this.tokens.values()].filter(
      (x) => x.kind === 'refresh' && x.email === t.email && x.clientId === t.clientId && !this.deathOf(x),
    )
    if (live.length > REFRESH_TOKENS_PER_CLIENT) live[0].evictedAt = now
    return t
  }

  /** Why and since when a token is dead, or undefined while it is live. */
  deathOf(t: TokenRecord): { cause: DeathCause; at: number } | undefined {
    const now = this.clock.now()
    const account = this.accounts.get(t.email)
    const candidates: Array<[DeathCause, number | undefined]> = [
      ['account_deleted', account?.deletedAt],
      ['revoked', t.revokedAt],
      ['evicted', t.evictedAt],
      // "The user changed passwords and the refresh token contains Gmail scopes" (§3.2).
      ['password_changed', t.kind === 'refresh' && hasGmailScope(t.scopes) && (account?.passwordChangedAt ?? -Infinity) >= t.issuedAt ? account?.passwordChangedAt : undefined],
      ['expired', t.expiresAt],
      ['unused', t.kind === 'refresh' ? t.lastUsedAt + UNUSED_REFRESH_LIFETIME : undefined],
    ]
    let death: { cause: DeathCause; at: number } | undefined
    for (const [cause, at] of candidates) {
      if (at !== undefined && at <= now && (!death || at < death.at)) death = { cause, at }
    }
    return death
  }

  /**
   * Revoking one token removes the whole grant of (account, project): every live token of every client in the
   * project dies, including tokens from a newer consent (§2.6). Returns false if the token was unknown or dead.
   */
  revoke(value: string): boolean {
    const t = this.tokens.get(value)
    if (!t || this.deathOf(t)) return false
    const now = this.clock.now()
    for (const x of this.tokens.values()) {
      if (x.email === t.email && x.projectId === t.projectId && !this.deathOf(x)) x.revokedAt = now
    }
    for (const c of this.codes.values()) {
      if (c.email === t.email && this.clients.get(c.clientId)?.projectId === t.projectId) c.used = true
    }
    return true
  }

  /** Scopes of the live grants of (account, project), for `include_granted_scopes=true` (§2.1). */
  grantedScopes(email: string, projectId: string): string[] {
    const out = new Set<string>()
    for (const t of this.tokens.values()) {
      if (t.kind === 'refresh' && t.email === email && t.projectId === projectId && !this.deathOf(t)) t.scopes.forEach((s) => out.add(s))
    }
    return [...out]
  }

  /** A JWT-shaped id_token; the signature is random because nothing here verifies it. */
  idToken(client: ClientRecord, account: AccountRecord, scopes: string[]): string {
    const now = Math.floor(this.clock.now() / 1000)
    const claims: Record<string, unknown> = { iss: 'https://accounts.google.com', azp: client.id, aud: client.id, sub: account.sub }
    if (scopes.includes(USERINFO_EMAIL)) Object.assign(claims, { email: account.email, email_verified: true })
    Object.assign(claims, { iat: now, exp: now + ACCESS_TOKEN_LIFETIME / 1000 })
    const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const jwt = `${part({ alg: 'RS256', kid: 'stand-in', typ: 'JWT' })}.${part(claims)}.${b64url(256)}`
    this.idTokens.add(jwt)
    return jwt
  }

  /** Every secret string the stand-in ever handed out or was given, for leak scans of outputs. */
  secretStrings(): string[] {
    return [...[...this.clients.values()].map((c) => c.secret), ...this.codes.keys(), ...this.tokens.keys(), ...this.idTokens]
  }
}

/** Testing-mode refresh tokens expire 7 days from consent unless only basic scopes were granted (§3.1). */
export function testingExpiry(client: ClientRecord, scopes: string[], consentAt: number): number | undefined {
  if (!client.testing || scopes.every((s) => BASIC_SCOPES.has(s))) return undefined
  return consentAt + TESTING_REFRESH_LIFETIME
}

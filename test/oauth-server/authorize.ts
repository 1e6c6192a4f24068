import type { IncomingMessage, ServerResponse } from 'node:http'
import { randomBytes } from 'node:crypto'
import { grantedBy, type ConsentDecision } from './consent.ts'
import { esc, readParams, sendErrorPage } from './google-http.ts'
import type { ClientRecord } from './model.ts'
import { isValidScope, normalizeScopes, splitScopes } from './scopes.ts'
import type { PendingConsent, StandInState } from './state.ts'

/**
 * `GET /o/oauth2/v2/auth` and `GET /o/oauth2/auth` (research note §2.1, §2.2) and the consent form they may show.
 *
 * Both paths are Google's and behave the same. v2 is the `authorization_endpoint` of Google's discovery document
 * (https://accounts.google.com/.well-known/openid-configuration) and of the native-app page
 * (https://developers.google.com/identity/protocols/oauth2/native-app#step-2:-send-a-request-to-googles-oauth-2.0-server);
 * the v1 path is the `auth_uri` of every client JSON downloaded from the Cloud Console
 * (https://developers.google.com/identity/protocols/oauth2/native-app#creatingcred), so InstalledAppFlow and the
 * gmail-sdk (`GOOGLE_AUTH_URL`, gmail_sdk/auth.py 0.1.3) send their users there.
 */

export const AUTH_PATH = '/o/oauth2/v2/auth'
export const LEGACY_AUTH_PATH = '/o/oauth2/auth'
export const AUTH_PATHS: readonly string[] = [AUTH_PATH, LEGACY_AUTH_PATH]
export const DECISION_PATH = '/o/oauth2/v2/auth/decision'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]'])
const PROMPTS = new Set(['none', 'consent', 'select_account'])

export function handleAuthorize(state: StandInState, url: URL, res: ServerResponse): void {
  const p = url.searchParams
  const client = state.model.clients.get(p.get('client_id') ?? '')
  if (!client) return sendErrorPage(res, 401, 'invalid_client', 'The OAuth client was not found.')

  // Client and redirect problems are shown on Google's page, never sent to the redirect_uri.
  const redirectUri = p.get('redirect_uri')
  if (!redirectUri) return sendErrorPage(res, 400, 'invalid_request', 'Missing required parameter: redirect_uri')
  if (!redirectAllowed(client, redirectUri)) {
    const oob = redirectUri.startsWith('urn:ietf:wg:oauth:2.0:oob')
    return sendErrorPage(
      res,
      400,
      'redirect_uri_mismatch',
      oob
        ? 'The out-of-band (OOB) flow has been deprecated; use a loopback redirect.' // §3.3
        : `The redirect URI in the request, ${redirectUri}, does not match the ones authorized for the OAuth client.`,
    )
  }

  const problem = requestProblem(p)
  if (problem) return sendErrorPage(res, 400, problem[0], problem[1])

  const params = Object.fromEntries(p)
  state.authorizations.push({ at: state.clock.now(), clientId: client.id, params })

  const pending: PendingConsent = {
    id: randomBytes(12).toString('base64url'),
    client,
    account: state.model.consentingAccount(p.get('login_hint')),
    params: new URLSearchParams(p),
    scopes: normalizeScopes(splitScopes(p.get('scope'))),
  }
  // prompt=none: no page may be shown, so without an earlier grant of every scope asked for
  // the answer is an error on the redirect (OpenID Connect Core §3.1.2.6, which Google follows).
  if (splitScopes(p.get('prompt')).includes('none') && !alreadyGranted(state, pending)) {
    return redirectError(pending, 'consent_required', res)
  }
  const decision = state.consent.decide(client.id)
  if (decision) return redirectWithDecision(state, pending, decision, res)

  state.pending.set(pending.id, pending)
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(consentPage(pending))
}

/** `POST /o/oauth2/v2/auth/decision`: the consent form's submit (`action=allow|deny`, ticked `scope` boxes). */
export async function handleDecision(state: StandInState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = await readParams(req)
  const pending = state.pending.get(form.get('request') ?? '')
  if (!pending) return sendErrorPage(res, 400, 'invalid_request', 'Unknown or already answered consent request.')
  state.pending.delete(pending.id)
  const decision: ConsentDecision = form.get('action') === 'allow' ? { action: 'grant', scopes: form.getAll('scope') } : { action: 'deny' }
  redirectWithDecision(state, pending, decision, res)
}

function redirectWithDecision(state: StandInState, pending: PendingConsent, decision: ConsentDecision, res: ServerResponse): void {
  const { client, account, params } = pending
  const target = new URL(params.get('redirect_uri')!)
  const stateParam = params.get('state')
  const granted = grantedBy(decision, pending.scopes)
  // A declined consent is the one error Google sends back to the redirect_uri (§2.1).
  if (granted === 'denied') return redirectError(pending, 'access_denied', res)
  // The redirect says whether a consent screen was shown: always with prompt=consent, and for
  // scopes the account had not granted this project before.
  const shown = splitScopes(params.get('prompt')).includes('consent') || !alreadyGranted(state, pending)
  // include_granted_scopes=true adds earlier grants, so the result can be a superset of the request (§2.1, §3.5).
  const scopes = params.get('include_granted_scopes') === 'true'
    ? [...new Set([...granted, ...state.model.grantedScopes(account.email, client.projectId)])]
    : granted
  const accessType = params.get('access_type') === 'offline' ? 'offline' : 'online'
  const prompt = splitScopes(params.get('prompt'))
  // "Refresh tokens are always returned for installed applications" (native-app page, step 5:
  // https://developers.google.com/identity/protocols/oauth2/native-app#exchange-authorization-code);
  // web clients only with access_type=offline, on the first or a prompt=consent consent
  // (https://developers.google.com/identity/protocols/oauth2/web-server#creatingclient, `access_type`, `prompt`).
  const withRefreshToken =
    client.type === 'installed' ||
    (accessType === 'offline' && (prompt.includes('consent') || state.model.grantedScopes(account.email, client.projectId).length === 0))
  const code = state.model.createCode({
    clientId: client.id,
    email: account.email,
    redirectUri: params.get('redirect_uri')!,
    scopes,
    codeChallenge: params.get('code_challenge') ?? undefined,
    codeChallengeMethod: params.get('code_challenge') ? ((params.get('code_challenge_method') ?? 'plain') as 'S256' | 'plain') : undefined,
    accessType,
    withRefreshToken,
    consentAt: state.clock.now(),
  })
  // Parameter order as observed on real redirects (§2.2); URLSearchParams gives `4%2F0A…` and '+'-joined scopes.
  if (stateParam !== null) target.searchParams.set('state', stateParam)
  target.searchParams.set('iss', 'https://accounts.google.com')
  target.searchParams.set('code', code.value)
  target.searchParams.set('scope', scopes.join(' '))
  target.searchParams.set('authuser', '0')
  target.searchParams.set('prompt', shown ? 'consent' : 'none')
  res.writeHead(302, { location: target.href }).end()
}

function redirectError(pending: PendingConsent, error: string, res: ServerResponse): void {
  const target = new URL(pending.params.get('redirect_uri')!)
  target.searchParams.set('error', error)
  const stateParam = pending.params.get('state')
  if (stateParam !== null) target.searchParams.set('state', stateParam)
  res.writeHead(302, { location: target.href }).end()
}

function alreadyGranted(state: StandInState, p: PendingConsent): boolean {
  const have = new Set(state.model.grantedScopes(p.account.email, p.client.projectId))
  return p.scopes.every((s) => have.has(s))
}

/** Desktop clients accept any loopback port; web clients need an exact match, trailing slash included (§2.1). */
function redirectAllowed(client: ClientRecord, redirectUri: string): boolean {
  if (client.type === 'web') return client.redirectUris.includes(redirectUri)
  let u: URL
  try {
    u = new URL(redirectUri)
  } catch {
    return false
  }
  return u.protocol === 'http:' && LOOPBACK_HOSTS.has(u.hostname) && u.username === '' && u.hash === ''
}

function requestProblem(p: URLSearchParams): [string, string] | undefined {
  const responseType = p.get('response_type')
  if (!responseType) return ['invalid_request', 'Missing required parameter: response_type']
  if (responseType !== 'code') return ['unsupported_response_type', `Unsupported response_type: ${responseType}`]
  const scopes = splitScopes(p.get('scope'))
  if (scopes.length === 0) return ['invalid_request', 'Missing required parameter: scope']
  const invalid = normalizeScopes(scopes).filter((s) => !isValidScope(s))
  if (invalid.length) return ['invalid_scope', `Some requested scopes were invalid. {invalid=[${invalid.join(', ')}]}`]
  // PKCE is "recommended" for installed apps, not required: a confidential Desktop client that
  // sends no code_challenge (the gmail-sdk's authorize() does this) is served, and its code is
  // redeemed with the client secret alone (native-app page, step 1 `code_challenge`:
  // https://developers.google.com/identity/protocols/oauth2/native-app#step1-code-verifier).
  const challenge = p.get('code_challenge')
  const method = p.get('code_challenge_method')
  // The verifier is 43–128 unreserved chars; S256 sends BASE64URL(SHA256(verifier)) without padding (§2.1).
  if (method && !challenge) return ['invalid_request', 'Missing code_challenge.']
  if (method && method !== 'S256' && method !== 'plain') return ['invalid_request', `Invalid code_challenge_method: ${method}`]
  if (challenge && (method ?? 'plain') === 'S256' && !/^[A-Za-z0-9_-]{43}$/.test(challenge)) return ['invalid_request', 'Invalid code_challenge.']
  if (challenge && (method ?? 'plain') === 'plain' && !/^[A-Za-z0-9._~-]{43,128}$/.test(challenge)) return ['invalid_request', 'Invalid code_challenge.']
  const accessType = p.get('access_type')
  if (accessType && accessType !== 'online' && accessType !== 'offline') return ['invalid_request', `Invalid access_type: ${accessType}`]
  const prompt = splitScopes(p.get('prompt'))
  if (prompt.some((x) => !PROMPTS.has(x)) || (prompt.includes('none') && prompt.length > 1)) {
    return ['invalid_request', `Invalid prompt: ${p.get('prompt')}`]
  }
  return undefined
}

function consentPage(p: PendingConsent): string {
  const boxes = p.scopes
    .map((s) => `<label><input type="checkbox" name="scope" value="${esc(s)}" checked> ${esc(s)}</label><br>`)
    .join('\n')
  return `<!doctype html><title>Sign in - Google Accounts (stand-in)</title>
<h1>${esc(p.client.id)} wants access to your Google Account</h1>
<p>${esc(p.account.email)}</p>
<form method="post" action="${DECISION_PATH}">
<input type="hidden" name="request" value="${p.id}">
${boxes}
<button name="action" value="allow">Continue</button> <button name="action" value="deny">Cancel</button>
</form>`
}

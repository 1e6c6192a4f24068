import { OpsError } from '../errors.ts'

/** Where Google lives (research note §1.4, §2.1–§2.7). Workflow params may point them at a stand-in. */
export interface GoogleEndpoints {
  authUrl: string
  tokenUrl: string
  tokeninfoUrl: string
  /** Listed for completeness and for tests; the product never revokes (revocation is project-wide, §2.6). */
  revokeUrl: string
  gmailProfileUrl: string
}

export const GOOGLE_ENDPOINTS: Readonly<GoogleEndpoints> = Object.freeze({
  authUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
  tokenUrl: 'https://oauth2.googleapis.com/token',
  tokeninfoUrl: 'https://oauth2.googleapis.com/tokeninfo',
  revokeUrl: 'https://oauth2.googleapis.com/revoke',
  gmailProfileUrl: 'https://gmail.googleapis.com/gmail/v1/users/me/profile',
})

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/**
 * The defaults with `overrides` applied. Each URL must be absolute https, or plain http on a loopback host
 * (a local stand-in): secrets never travel in clear text to another machine.
 */
export function resolveEndpoints(overrides: Partial<GoogleEndpoints> = {}): GoogleEndpoints {
  const out: GoogleEndpoints = { ...GOOGLE_ENDPOINTS }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue
    if (!Object.hasOwn(GOOGLE_ENDPOINTS, key)) {
      throw new OpsError(`unknown Google endpoint "${key}"`, {
        reason: 'InvalidEndpoint',
        hint: `Endpoint overrides are ${Object.keys(GOOGLE_ENDPOINTS).join(', ')}.`,
      })
    }
    out[key as keyof GoogleEndpoints] = checkUrl(key, value)
  }
  return out
}

function checkUrl(key: string, value: unknown): string {
  let url: URL | undefined
  try {
    url = typeof value === 'string' ? new URL(value) : undefined
  } catch {
    url = undefined
  }
  const ok = url && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname))) && !url.username && !url.password
  if (!ok) {
    // Show scheme, host and path only: a URL with userinfo or a query could carry a credential.
    const shown = url ? `${url.protocol}//${url.host}${url.pathname}` : JSON.stringify(String(value).slice(0, 100))
    throw new OpsError(`Google endpoint ${key} must be an https URL (or http on 127.0.0.1/localhost), got ${shown}`, {
      reason: 'InvalidEndpoint',
      hint: `Fix the ${key} parameter, or drop it to use ${GOOGLE_ENDPOINTS[key as keyof GoogleEndpoints]}.`,
    })
  }
  return url!.href
}

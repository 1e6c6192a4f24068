/** Scope facts the stand-in needs (research note §2.1, §1.3, §2.7, §3.1, §5). */

export const AUTH = 'https://www.googleapis.com/auth/'
export const USERINFO_EMAIL = `${AUTH}userinfo.email`
export const USERINFO_PROFILE = `${AUTH}userinfo.profile`
export const MAIL_GOOGLE_COM = 'https://mail.google.com/'

/** openid/email/profile: never shown as checkboxes, and exempt from the Testing 7-day expiry (§3.1, §3.5). */
export const BASIC_SCOPES = new Set(['openid', USERINFO_EMAIL, USERINFO_PROFILE])

/** Scopes that can read `users/me/profile`; `gmail.send` alone cannot (§2.7). */
export const GMAIL_READ_SCOPES = new Set([
  `${AUTH}gmail.readonly`,
  `${AUTH}gmail.modify`,
  `${AUTH}gmail.metadata`,
  `${AUTH}gmail.compose`,
  MAIL_GOOGLE_COM,
])

export function splitScopes(s: string | null | undefined): string[] {
  return (s ?? '').split(/\s+/).filter(Boolean)
}

export function isValidScope(s: string): boolean {
  return BASIC_SCOPES.has(s) || s === MAIL_GOOGLE_COM || /^https:\/\/www\.googleapis\.com\/auth\/[a-z0-9._-]+$/.test(s)
}

/** Google rewrites `email`/`profile` to the userinfo URIs and adds `openid` (§1.3). */
export function normalizeScopes(requested: string[]): string[] {
  const out: string[] = []
  let addOpenid = false
  for (const s of requested) {
    const n = s === 'email' ? USERINFO_EMAIL : s === 'profile' ? USERINFO_PROFILE : s
    if (n !== s) addOpenid = true
    if (!out.includes(n)) out.push(n)
  }
  if (addOpenid && !out.includes('openid')) out.push('openid')
  return out
}

export function hasGmailScope(scopes: string[]): boolean {
  return scopes.some((s) => s.startsWith(`${AUTH}gmail.`) || s === MAIL_GOOGLE_COM)
}

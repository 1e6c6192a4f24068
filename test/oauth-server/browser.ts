/** Acting as the operator's browser in tests: visit the authorize URL and read where Google sends it. */

export interface BrowserVisit {
  status: number
  /** The redirect target (the loopback URL with `code`/`state` or `error`), when the answer was a redirect. */
  location?: string
  body: string
}

/** GET `url` without following redirects. */
export async function visit(url: string, init: RequestInit = {}): Promise<BrowserVisit> {
  const res = await fetch(url, { ...init, redirect: 'manual' })
  return { status: res.status, location: res.headers.get('location') ?? undefined, body: await res.text() }
}

/** The Location Google redirects to after consent; throws with the error page's text if there is no redirect. */
export async function consentRedirect(authUrl: string): Promise<string> {
  const v = await visit(authUrl)
  if (v.status !== 302 || !v.location) {
    const text = v.body.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim()
    throw new Error(`authorize did not redirect (HTTP ${v.status}): ${text.slice(0, 300)}`)
  }
  return v.location
}

/**
 * Submit the stand-in's consent page as a person would: `allow` with the given boxes ticked (default: all
 * that the page offers), or `deny`. Returns the redirect Location.
 */
export async function answerConsentPage(authUrl: string, page: string, answer: { action: 'allow' | 'deny'; scopes?: string[] }): Promise<string> {
  const action = /<form method="post" action="([^"]+)"/.exec(page)?.[1]
  const request = /name="request" value="([^"]+)"/.exec(page)?.[1]
  if (!action || !request) throw new Error('not a consent page')
  const offered = [...page.matchAll(/name="scope" value="([^"]+)"/g)].map((m) => m[1].replaceAll('&#38;', '&'))
  const form = new URLSearchParams({ request, action: answer.action })
  for (const s of answer.scopes ?? offered) form.append('scope', s)
  const v = await visit(new URL(action, authUrl).href, { method: 'POST', body: form })
  if (v.status !== 302 || !v.location) throw new Error(`consent form did not redirect (HTTP ${v.status})`)
  return v.location
}

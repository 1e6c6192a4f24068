import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * Google's token-endpoint headers as observed on a 400 (research note §2.3, apache/opendal #3901).
 * Clients must not depend on them, but a faithful stand-in catches a client that caches a token response.
 */
const GOOGLE_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-cache, no-store, max-age=0, must-revalidate',
  pragma: 'no-cache',
  expires: 'Mon, 01 Jan 1990 00:00:00 GMT',
  server: 'scaffolding on HTTPServer2',
}

/** Bodies are pretty-printed with a 2-space indent and `=` escaped as `\u003d` (§2.3). */
export function googleJson(body: unknown): string {
  return JSON.stringify(body, null, 2).replaceAll('=', '\\u003d')
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, GOOGLE_HEADERS).end(googleJson(body))
}

/** The `{error, error_description}` shape of every OAuth endpoint error (§2.4). */
export function sendOAuthError(res: ServerResponse, status: number, error: string, description: string, extra: Record<string, string> = {}): void {
  sendJson(res, status, { error, error_description: description, ...extra })
}

/** The authorize endpoint reports client and redirect problems on its own page, never by redirect (§2.1). */
export function sendErrorPage(res: ServerResponse, status: number, error: string, description: string): void {
  res
    .writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'x-standin-error': error })
    .end(`<!doctype html><title>Error ${status}: ${esc(error)}</title><h1>Error ${status}: ${esc(error)}</h1><p>${esc(description)}</p>`)
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const MAX_BODY = 1 << 20

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > MAX_BODY) throw new Error('request body too large')
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** Form (the documented encoding) or JSON bodies, flattened to strings. */
export async function readParams(req: IncomingMessage): Promise<URLSearchParams> {
  const text = await readBody(req)
  if ((req.headers['content-type'] ?? '').startsWith('application/json') && text.trim() !== '') {
    const obj = JSON.parse(text) as Record<string, unknown>
    return new URLSearchParams(Object.entries(obj).map(([k, v]) => [k, String(v)]))
  }
  return new URLSearchParams(text)
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')
  return m?.[1]
}

/** HTTP Basic client authentication (client_secret_basic), the alternative to form fields. */
export function basicClient(req: IncomingMessage): { id: string; secret: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '')
  if (!m) return undefined
  const decoded = Buffer.from(m[1], 'base64').toString('utf8')
  const i = decoded.indexOf(':')
  if (i < 0) return undefined
  return { id: decodeURIComponent(decoded.slice(0, i)), secret: decodeURIComponent(decoded.slice(i + 1)) }
}
